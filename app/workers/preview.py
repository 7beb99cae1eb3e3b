"""Large previews for the viewer, made in a worker thread: an EXIF-oriented QImage sized for the
screen, plus the capture facts a photographer looks for (camera, lens, exposure)."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from PIL import Image
from PySide6.QtGui import QImage

from app.core import decode

log = logging.getLogger(__name__)

EXIF_IFD = 0x8769


@dataclass
class Preview:
    path: str
    image: QImage
    width: int
    height: int
    capture: dict[str, str] = field(default_factory=dict)


def to_qimage(im: Image.Image) -> QImage:
    im = im.convert("RGB")
    data = im.tobytes()
    image = QImage(data, im.width, im.height, 3 * im.width, QImage.Format.Format_RGB888)
    return image.copy()  # own the pixels: `data` dies with this function


def _number(value) -> float | None:
    try:
        return float(Fraction(str(value))) if not isinstance(value, (int, float)) else float(value)
    except (ValueError, ZeroDivisionError, TypeError):
        try:
            return float(value)
        except (TypeError, ValueError, ZeroDivisionError):
            return None


def capture_info(path: Path) -> dict[str, str]:
    """Camera, lens and exposure from EXIF, in words; empty when the file has none."""
    out: dict[str, str] = {}
    try:
        with Image.open(path) as im:
            exif = im.getexif()
            sub = exif.get_ifd(EXIF_IFD)
    except Exception:  # no EXIF is normal; a damaged block is not worth more than a log line
        log.debug("no capture info in %s", path, exc_info=True)
        return out
    make = str(exif.get(0x010F, "") or "").strip("\x00 ")
    model = str(exif.get(0x0110, "") or "").strip("\x00 ")
    camera = model if make and model.lower().startswith(make.lower().split()[0]) else f"{make} {model}".strip()
    if camera:
        out["Camera"] = camera
    lens = str(sub.get(0xA434, "") or "").strip("\x00 ")
    if lens:
        out["Lens"] = lens
    parts = []
    exposure = _number(sub.get(0x829A))
    if exposure:
        parts.append(f"1/{round(1 / exposure)} s" if exposure < 1 else f"{exposure:g} s")
    aperture = _number(sub.get(0x829D))
    if aperture:
        parts.append(f"f/{aperture:.1f}".replace(".0", ""))
    iso = sub.get(0x8827)
    if iso:
        parts.append(f"ISO {iso if not isinstance(iso, tuple) else iso[0]}")
    focal = _number(sub.get(0x920A))
    if focal:
        parts.append(f"{focal:.0f} mm")
    if parts:
        out["Exposure"] = ", ".join(parts)
    return out


def load_preview(path: str, max_side: int) -> Preview:
    """Decode for the viewer; raises PhotoError with the reason when the photo cannot be shown."""
    decoded = decode.decode(Path(path), min_side=max_side)
    im = decoded.image
    if max(im.size) > max_side:
        im.thumbnail((max_side, max_side), Image.Resampling.LANCZOS, reducing_gap=2.0)
    return Preview(path, to_qimage(im), decoded.width, decoded.height, capture_info(Path(path)))
