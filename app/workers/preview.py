"""Large previews for the viewer, the cull view and the compare view, made in a worker thread: an
EXIF-oriented QImage sized for the screen (or at full size), plus the capture facts a photographer
looks for (camera, lens, exposure). PreviewLoader is the one way the views ask for them.
"""
from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Callable, Hashable

from PIL import Image
from PySide6.QtCore import QObject
from PySide6.QtGui import QImage

from app.core import decode
from app.errors import PhotoError
from app.workers.tasks import make_pool, run_task

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


def load_preview(path: str, max_side: int | None) -> Preview:
    """Decode for a view, at most max_side pixels on the long side (None: full size); raises
    PhotoError with the reason when the photo cannot be shown."""
    decoded = decode.decode(Path(path), min_side=max_side)
    im = decoded.image
    if max_side is not None and max(im.size) > max_side:
        im.thumbnail((max_side, max_side), Image.Resampling.LANCZOS, reducing_gap=2.0)
    return Preview(path, to_qimage(im), decoded.width, decoded.height, capture_info(Path(path)))


def error_text(exc: BaseException) -> str:
    """What a view shows in place of a photo it cannot show."""
    reason = exc.reason if isinstance(exc, PhotoError) else f"{type(exc).__name__}: {exc}"
    return "Cannot show this photo: " + reason


@dataclass(frozen=True)
class PreviewKey:
    """A preview is of these bytes: an edited photo (same path) has a new size or mtime."""

    path: str
    size: int
    mtime_ns: int
    max_side: int | None


class PreviewLoader(QObject):
    """Previews for one view: decoded on its pool (tasks.run_task), kept by path, size and mtime.

    A view asks for one photo per slot (the viewer has one, the compare view one per pane); asking
    again, or forget(), drops the result of the earlier request when it comes, so a late preview
    never covers the photo the user moved to. Dropped results are still kept for the next time."""

    def __init__(self, name: str, threads: int, keep: int, parent: QObject | None = None):
        super().__init__(parent)
        self.pool = make_pool(name, threads, self)
        self.keep = keep
        self._cache: OrderedDict[PreviewKey, Preview] = OrderedDict()
        self._lock = threading.Lock()  # the cache is read and filled in the pool's threads
        self._asked: dict[Hashable, int] = {}  # slot -> number of its latest request

    def request(self, path: str, max_side: int | None, on_ready: Callable[[Preview], None],
                on_failed: Callable[[str], None], slot: Hashable = 0) -> None:
        """on_ready(preview) or on_failed(error text) in the GUI thread, unless asked again first."""
        asked = self._asked[slot] = self._asked.get(slot, 0) + 1

        def wanted() -> bool:
            return self._asked.get(slot) == asked

        run_task(self.pool, self.load, path, max_side,
                 on_done=lambda preview: on_ready(preview) if wanted() else None,
                 on_error=lambda exc: on_failed(error_text(exc)) if wanted() else None)

    def prefetch(self, path: str, max_side: int | None) -> None:
        """Decode ahead, so that asking for it later is quick."""
        run_task(self.pool, self.load, path, max_side, on_error=lambda exc: None)

    def forget(self) -> None:
        """Drop the results of every request made so far."""
        self._asked = {slot: n + 1 for slot, n in self._asked.items()}

    def stop(self, wait_ms: int = 0) -> bool:
        self.forget()
        self.pool.clear()
        return self.pool.waitForDone(wait_ms)

    def load(self, path: str, max_side: int | None) -> Preview:
        """The preview of the file as it is now (in a worker thread): from the cache when the file's
        size and mtime are those it was made from."""
        try:
            st = os.stat(path)
        except OSError:  # gone or unreadable: decoding says why in words
            return load_preview(path, max_side)
        # Stat before reading: a file edited meanwhile is cached under its older key, decoded again next time.
        key = PreviewKey(path, st.st_size, st.st_mtime_ns, max_side)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return cached
        preview = load_preview(path, max_side)
        with self._lock:
            for old in [k for k in self._cache if k.path == path and k.max_side == max_side]:
                del self._cache[old]  # an earlier version of the file
            self._cache[key] = preview
            while len(self._cache) > self.keep:
                self._cache.popitem(last=False)
        return preview
