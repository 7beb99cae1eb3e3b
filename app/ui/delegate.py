"""Paints one library tile: the thumbnail, a coloured score badge, stars and the pick/reject flag.

A painted tile is kept as a pixmap until something it shows changes, so a repaint (scores
arriving, hovering, scrolling back) copies one pixmap per tile: each Qt call from Python can wait
for the GIL while worker threads run Python, and drawing a tile takes dozens of them. For the same
reason a frame draws new tiles for a few milliseconds at most; the rest show a placeholder and
are drawn in the next frame, so a busy machine fills the grid in a few frames instead of
holding the GUI thread (the view calls begin_frame and end_frame around its paint).
"""
from __future__ import annotations

import functools
import math
import time
from collections import OrderedDict

from PySide6.QtCore import QModelIndex, QPointF, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPainterPath, QPalette, QPen, QPixmap, QPolygonF
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from app.ui import art
from app.ui import format as fmt
from app.ui.photo_model import Roles, Tile

MARGIN = 6
LABEL = 20  # the file name line under the thumbnail
ASPECT = 0.75  # the picture area is 4:3, the shape of most photos; portraits fit its height
TILE_CACHE_BYTES = 48 * 1024 * 1024  # painted tiles kept: a few screens of them
FRAME_BUDGET_S = 0.012  # drawing new tiles in one frame stops after this (one tile at least)
NO_TILE = Tile(0, "", "unscored", None, 0, "", None, False)  # a row whose photo has gone
WHITE = QColor("white")
SHADOW = QColor(0, 0, 0, 90)
STAR = QColor("#facc15")
STAR_EDGE = QPen(QColor(0, 0, 0, 120), 1)

_SELECTED = QStyle.StateFlag.State_Selected.value
_HOVERED = QStyle.StateFlag.State_MouseOver.value
_STATE_SHOWN = _SELECTED | _HOVERED | QStyle.StateFlag.State_Active.value | QStyle.StateFlag.State_Enabled.value


class TileDelegate(QStyledItemDelegate):
    def __init__(self, tile: int = 200, good: float = 5.5, cull: float = 4.0, parent=None):
        super().__init__(parent)
        self.tile = tile
        self.good = good
        self.cull = cull
        self._painted: OrderedDict[tuple, QPixmap] = OrderedDict()
        self._painted_bytes = 0
        self.frame_budget_s: float | None = FRAME_BUDGET_S
        self._frame_started: float | None = None  # inside a frame of the view
        self._drawn_in_frame = 0
        self.deferred = False  # the last frame left tiles to draw in the next one

    def begin_frame(self) -> None:
        self._frame_started = time.perf_counter()
        self._drawn_in_frame = 0
        self.deferred = False

    def end_frame(self) -> bool:
        """The frame is painted; True when tiles wait for the next one (ask for it)."""
        self._frame_started = None
        return self.deferred

    def set_tile(self, tile: int) -> None:
        self.tile = tile
        self.forget_painted()

    def forget_painted(self) -> None:
        """Paint every tile afresh (the palette, the font or the tile size changed)."""
        self._painted.clear()
        self._painted_bytes = 0

    def picture_height(self) -> int:
        return round(self.tile * ASPECT)

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        return QSize(self.tile + 2 * MARGIN, self.picture_height() + 2 * MARGIN + LABEL)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        tile: Tile = index.data(Roles.Tile) or NO_TILE
        rect = option.rect
        width, height = rect.width(), rect.height()
        state = option.state.value & _STATE_SHOWN
        ratio = painter.device().devicePixelRatioF()
        pixmap = tile.thumbnail
        key = (tile.id, tile.name, tile.status, tile.score, tile.rating, tile.flag, tile.thumbnail_failed,
               tile.closed_eyes, 0 if pixmap is None else pixmap.cacheKey(), width, height, state, ratio, self.tile,
               self.good, self.cull)
        painted = self._painted.get(key)
        if painted is None:
            if (self._frame_started is not None and self.frame_budget_s is not None and self._drawn_in_frame
                    and time.perf_counter() - self._frame_started > self.frame_budget_s):
                self.deferred = True
                self._placeholder(painter, rect, option.palette)
                return
            self._drawn_in_frame += 1
            painted = QPixmap(round(width * ratio), round(height * ratio))
            painted.setDevicePixelRatio(ratio)
            painted.fill(Qt.GlobalColor.transparent)
            canvas = QPainter(painted)
            canvas.setFont(option.font)
            self._draw(canvas, QRect(0, 0, width, height), option.palette, option.font, bool(state & _SELECTED),
                       bool(state & _HOVERED), tile)
            canvas.end()
            self._keep(key, painted)
        else:
            self._painted.move_to_end(key)
        painter.drawPixmap(rect.topLeft(), painted)

    def _placeholder(self, painter: QPainter, rect: QRect, palette: QPalette) -> None:
        """Where the picture goes, until the tile is drawn in the next frame."""
        area = QRect(rect.x() + MARGIN, rect.y() + MARGIN, self.tile, self.picture_height())
        painter.fillRect(area.adjusted(area.width() // 10, area.height() // 6, -area.width() // 10,
                                       -area.height() // 6), art.plate(palette))

    def _keep(self, key: tuple, painted: QPixmap) -> None:
        self._painted[key] = painted
        self._painted_bytes += painted.width() * painted.height() * 4
        while self._painted_bytes > TILE_CACHE_BYTES and len(self._painted) > 1:
            _, old = self._painted.popitem(last=False)
            self._painted_bytes -= old.width() * old.height() * 4

    def _draw(self, painter: QPainter, rect: QRect, palette: QPalette, font: QFont, selected: bool, hovered: bool,
              tile: Tile) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        cell = QRectF(rect.adjusted(2, 2, -2, -2))
        if selected:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(palette.color(QPalette.ColorRole.Highlight))
            painter.drawRoundedRect(cell, 6, 6)
        elif hovered:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(palette.color(QPalette.ColorRole.AlternateBase))
            painter.drawRoundedRect(cell, 6, 6)

        area = QRect(rect.x() + MARGIN, rect.y() + MARGIN, self.tile, self.picture_height())
        status = tile.status
        pixmap = tile.thumbnail
        dim = status in ("missing", "offline") or tile.flag == "reject"
        if pixmap is not None and not pixmap.isNull():
            size = pixmap.size().scaled(area.size(), Qt.AspectRatioMode.KeepAspectRatio)
            target = QRect(0, 0, size.width(), size.height())
            target.moveCenter(area.center())
            if dim:
                painter.setOpacity(0.35)
            painter.drawPixmap(target, pixmap)
            painter.setOpacity(1.0)
            image_rect = target
        else:
            image_rect = area.adjusted(area.width() // 10, area.height() // 6, -area.width() // 10, -area.height() // 6)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(art.plate(palette))
            painter.drawRoundedRect(QRectF(image_rect), 4, 4)
            if tile.thumbnail_failed:
                painter.setPen(art.dim(palette, QPalette.ColorRole.Base))
                painter.drawText(image_rect, Qt.AlignmentFlag.AlignCenter, "no preview")

        paint_badge(painter, image_rect, status, tile.score, self.good, self.cull, self.tile)
        paint_marks(painter, image_rect, tile.rating, tile.flag, self.tile)
        if tile.closed_eyes:
            paint_closed_eyes(painter, image_rect, tile.closed_eyes, self.tile)

        label = QRect(rect.x() + MARGIN, area.bottom() + 2, self.tile, LABEL)
        painter.setPen(palette.color(QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text))
        small = QFont(font)
        small.setPointSizeF(max(7.0, small.pointSizeF() * 0.9))
        painter.setFont(small)
        painter.drawText(label, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignVCenter,
                         painter.fontMetrics().elidedText(tile.name, Qt.TextElideMode.ElideMiddle, label.width()))


def paint_badge(painter: QPainter, image: QRect, status: str, score: float | None, good: float, cull: float,
                tile: int) -> None:
    """The coloured score pill in the bottom-left corner of a picture (sized for a tile this wide)."""
    text, colour = fmt.badge(status, score, good, cull)
    font, fm = _badge_font(painter.font(), tile)
    painter.setFont(font)
    h = fm.height() + 4
    w = max(h, fm.horizontalAdvance(text) + 12)
    box = QRectF(image.left() + 5, image.bottom() - h - 4, w, h)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(SHADOW)
    painter.drawRoundedRect(box.translated(0, 1), h / 2, h / 2)
    painter.setBrush(colour)
    painter.drawRoundedRect(box, h / 2, h / 2)
    painter.setPen(WHITE)
    painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)


def paint_closed_eyes(painter: QPainter, image: QRect, faces: int, tile: int) -> None:
    """A pill in the top-left corner: a closed eye (an eyelid's curve with lashes), and how many faces
    have their eyes closed when more than one."""
    font, fm = _badge_font(painter.font(), tile)
    painter.setFont(font)
    h = fm.height() + 4
    text = str(faces) if faces > 1 else ""
    w = h * 1.5 + (fm.horizontalAdvance(text) + 4 if text else 0)
    box = QRectF(image.left() + 5, image.top() + 5, w, h)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(SHADOW)
    painter.drawRoundedRect(box.translated(0, 1), h / 2, h / 2)
    painter.setBrush(fmt.EYES_CLOSED)
    painter.drawRoundedRect(box, h / 2, h / 2)
    eye_w, cx, cy = h * 0.8, box.left() + h * 0.75, box.top() + h * 0.42
    lid = QPainterPath(QPointF(cx - eye_w / 2, cy))
    lid.quadTo(QPointF(cx, cy + eye_w * 0.55), QPointF(cx + eye_w / 2, cy))
    painter.setPen(QPen(WHITE, max(1.5, h / 10), Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawPath(lid)
    for dx in (-0.3, 0.0, 0.3):  # lashes
        x = cx + dx * eye_w
        y = cy + eye_w * 0.27 * (1 - (dx / 0.5) ** 2)
        painter.drawLine(QPointF(x, y), QPointF(x + dx * eye_w * 0.3, y + eye_w * 0.22))
    if text:
        painter.drawText(QRectF(box.left() + h * 1.4, box.top(), w - h * 1.4, h), Qt.AlignmentFlag.AlignCenter, text)


_badge_fonts: dict[tuple[str, int], tuple[QFont, QFontMetrics]] = {}


def _badge_font(base: QFont, tile: int) -> tuple[QFont, QFontMetrics]:
    """The badge's bold font for this base font and tile width, made once."""
    key = (base.key(), tile)
    made = _badge_fonts.get(key)
    if made is None:
        font = QFont(base)
        font.setBold(True)
        font.setPointSizeF(max(8.0, min(14.0, tile / 18)))
        made = _badge_fonts[key] = (font, QFontMetrics(font))
    return made


def paint_marks(painter: QPainter, image: QRect, rating: int, flag: str, tile: int) -> None:
    """The pick/reject disc in the top-right corner and the stars along the bottom-right."""
    if flag:
        r = max(9.0, tile / 16)
        centre = QPointF(image.right() - r - 5, image.top() + r + 5)
        painter.setPen(QPen(QColor("white"), 2))
        painter.setBrush(fmt.PICK if flag == "pick" else fmt.REJECT)
        painter.drawEllipse(centre, r, r)
        painter.setPen(QPen(QColor("white"), max(2.0, r / 4), Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        if flag == "pick":
            path = QPainterPath(centre + QPointF(-r * 0.45, 0))
            path.lineTo(centre + QPointF(-r * 0.1, r * 0.4))
            path.lineTo(centre + QPointF(r * 0.5, -r * 0.4))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawPath(path)
        else:
            d = r * 0.4
            painter.drawLine(centre + QPointF(-d, -d), centre + QPointF(d, d))
            painter.drawLine(centre + QPointF(-d, d), centre + QPointF(d, -d))
    if rating:
        size = max(8.0, tile / 20)
        x = image.right() - 5 - rating * (size + 2)
        y = image.bottom() - size - 8
        painter.setPen(STAR_EDGE)
        painter.setBrush(STAR)
        star = _star(size / 2)
        for i in range(rating):
            painter.drawPolygon(star.translated(x + i * (size + 2) + size / 2, y + size / 2))


@functools.lru_cache(maxsize=32)
def _star(radius: float) -> QPolygonF:
    """A five-pointed star around (0, 0)."""
    points = []
    for i in range(10):
        r = radius if i % 2 == 0 else radius * 0.45
        a = -math.pi / 2 + i * math.pi / 5
        points.append(QPointF(r * math.cos(a), r * math.sin(a)))
    return QPolygonF(points)
