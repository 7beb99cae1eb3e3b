"""The app icon, kept in the package so an installed wheel has it (resources/ holds copies for
desktop integration: the .desktop file, AppStream and the bundles); and the colours the app derives
from the desktop's palette, so a dark desktop gets dark panels with light text."""
from __future__ import annotations

from PySide6.QtCore import QByteArray, QEvent, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPalette, QPixmap

ICON_SVG = """\
<svg xmlns="http://www.w3.org/2000/svg" width="256" height="256" viewBox="0 0 256 256">
  <defs>
    <linearGradient id="bg" x1="0" y1="0" x2="1" y2="1">
      <stop offset="0" stop-color="#5b50e8"/>
      <stop offset="1" stop-color="#111827"/>
    </linearGradient>
    <linearGradient id="sky" x1="0" y1="0" x2="0" y2="1">
      <stop offset="0" stop-color="#fde68a"/>
      <stop offset="1" stop-color="#f97316"/>
    </linearGradient>
  </defs>
  <rect x="8" y="8" width="240" height="240" rx="52" fill="url(#bg)"/>
  <g transform="rotate(-8 128 124)">
    <rect x="44" y="52" width="160" height="140" rx="14" fill="#ffffff"/>
    <rect x="55" y="63" width="138" height="100" rx="8" fill="url(#sky)"/>
    <circle cx="158" cy="92" r="15" fill="#fff7ed"/>
    <path d="M55 163 L98 112 L124 140 L146 118 L193 163 Z" fill="#7c2d12"/>
  </g>
  <g transform="translate(182 182)">
    <circle r="42" fill="#facc15" stroke="#111827" stroke-width="7"/>
    <path d="M0 -25 L7.3 -8.6 L24.7 -7.6 L11.4 4.2 L15.4 21.4 L0 12.4 L-15.4 21.4 L-11.4 4.2 L-24.7 -7.6 L-7.3 -8.6 Z"
          fill="#111827"/>
  </g>
</svg>
"""


def render(size: int) -> QImage:
    """The icon as a square ARGB image of this many pixels."""
    from PySide6.QtSvg import QSvgRenderer

    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    renderer = QSvgRenderer(QByteArray(ICON_SVG.encode()))
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    return image


_icon: QIcon | None = None


def icon() -> QIcon:
    global _icon
    if _icon is None:
        _icon = QIcon()
        for size in (16, 24, 32, 48, 64, 128, 256):
            _icon.addPixmap(QPixmap.fromImage(render(size)))
    return _icon


# --- colours that follow the palette -------------------------------------------------------------

AMBER = QColor("#e0b84c")  # the banner's accent, blended into the window colour
ERROR_ON_LIGHT = QColor("#b91c1c")
ERROR_ON_DARK = QColor("#fca5a5")


def blend(a: QColor, b: QColor, t: float) -> QColor:
    """a moved the fraction t towards b."""
    return QColor.fromRgbF(*(x + (y - x) * t for x, y in zip(a.getRgbF()[:3], b.getRgbF()[:3])))


def _luminance(c: QColor) -> float:
    def channel(v: float) -> float:
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in c.getRgbF()[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: QColor, b: QColor) -> float:
    """The WCAG contrast ratio of two colours (1 to 21; 4.5 reads well)."""
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def is_dark(palette: QPalette) -> bool:
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


def error_colour(palette: QPalette, role: QPalette.ColorRole = QPalette.ColorRole.Window) -> QColor:
    """Red that reads on this palette's background (role): dark red on light, light red on dark."""
    return ERROR_ON_DARK if palette.color(role).lightness() < 128 else ERROR_ON_LIGHT


def plate(palette: QPalette) -> QColor:
    """Where a picture is missing: a little off the view's background, towards its text."""
    return blend(palette.color(QPalette.ColorRole.Base), palette.color(QPalette.ColorRole.Text), 0.12)


class FollowsPalette:
    """A widget mixin: `_restyle()` runs again whenever the desktop's palette changes (a switch to
    a dark theme), but not for the change its own restyling causes."""

    _restyling = False

    def event(self, event) -> bool:
        if event.type() in (QEvent.Type.ApplicationPaletteChange, QEvent.Type.PaletteChange) and not self._restyling:
            self._restyling = True
            try:
                self._restyle()
            finally:
                self._restyling = False
        return super().event(event)

    def _restyle(self) -> None:
        raise NotImplementedError


_TEXT_ON = {QPalette.ColorRole.Window: QPalette.ColorRole.WindowText, QPalette.ColorRole.Base: QPalette.ColorRole.Text}


def dim(palette: QPalette, on: QPalette.ColorRole = QPalette.ColorRole.Window) -> QColor:
    """Secondary text (key hints, reasons, a folder under a name) on the background `on` (Window, or
    Base in item views): the palette's text moved towards that background, never so far that it
    stops reading (contrast 4.5 or more where the palette allows). Not PlaceholderText: a dark theme
    may leave that at Qt's default grey, which barely shows on a dark background."""
    background = palette.color(on)
    text = palette.color(_TEXT_ON[on])
    for t in (0.4, 0.3, 0.2, 0.1):
        colour = blend(text, background, t)
        if contrast(colour, background) >= 4.5:
            return colour
    return text

