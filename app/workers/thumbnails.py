"""Thumbnails made off the GUI thread: a QThreadPool decodes EXIF-oriented previews, keeps them in
a disk cache (keyed by a hash of path, file size, mtime and pixel size) and emits QImage.

Requests come from painting, so only visible tiles ask; the newest request is served first and
old ones (tiles scrolled away) are dropped once too many wait. The disk cache (one copy per photo
and tile size) is pruned in the pool when the loader is made: see prune_cache.
"""
from __future__ import annotations

import hashlib
import io
import logging
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from PIL import Image
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot
from PySide6.QtGui import QImage, QPixmap

from app.config import paths
from app.core import decode, diskcache
from app.errors import PhotoError
from app.workers.tasks import make_pool, on_shutdown, run_task

log = logging.getLogger(__name__)

MAX_WAITING = 256  # requests kept in the stack; older ones belong to tiles scrolled away
MEMORY_BYTES = 160 * 1024 * 1024
# The disk cache: a 256 px thumbnail is 15-30 KB, so 500 MB holds about 20,000 photos at two tile
# sizes; one unused for 90 days belongs to a folder gone from the library or a tile size left.
CACHE_BYTES = 500 * 1000 * 1000
CACHE_AGE_S = 90 * 86400
USED_EVERY_S = 86400  # a hit marks its file used at most once a day: no write per paint
ABANDONED_S = 3600  # a half-written file (its writer died) left this long


@dataclass(frozen=True)
class ThumbKey:
    path: str
    size: int
    mtime_ns: int
    pixels: int

    def cache_name(self) -> str:
        h = hashlib.blake2b(digest_size=16)
        h.update(os.fsencode(self.path))
        h.update(f"|{self.size}|{self.mtime_ns}|{self.pixels}".encode())
        return h.hexdigest() + ".jpg"


def cache_folder() -> Path:
    return paths.cache_dir() / "thumbnails"


def cache_file(key: ThumbKey) -> Path:
    name = key.cache_name()
    return cache_folder() / name[:2] / name


def make_thumbnail(key: ThumbKey) -> QImage:
    """Read the cached thumbnail, or decode the photo and cache one; raises PhotoError."""
    target = cache_file(key)
    try:
        cached = time.time() - target.stat().st_mtime
    except OSError:
        cached = None
    if cached is not None:
        image = QImage(str(target))
        if not image.isNull():
            if cached > USED_EVERY_S:
                diskcache.mark_used(target)
            return image
    decoded = decode.decode(Path(key.path), min_side=key.pixels)
    im = decoded.image
    im.thumbnail((key.pixels, key.pixels), Image.Resampling.LANCZOS, reducing_gap=2.0)
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=85)
    data = buf.getvalue()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".{threading.get_ident()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, target)
    except OSError as exc:
        log.warning("cannot write thumbnail cache %s: %s", target, exc)
    image = QImage.fromData(data, "JPEG")
    if image.isNull():
        raise PhotoError("could not make a thumbnail")
    return image


def prune_cache(max_bytes: int = CACHE_BYTES, max_age_s: float = CACHE_AGE_S,
                cancelled=None) -> diskcache.Pruned:
    """Bound the disk cache: thumbnails unused for max_age_s go, then the least recently used
    beyond max_bytes; files being written stay (their writer's .tmp, until abandoned)."""
    folder = cache_folder()
    diskcache.remove_abandoned(folder.glob("??/*.tmp"), ABANDONED_S)
    return diskcache.prune(folder.glob("??/*.jpg"), max_bytes=max_bytes, max_age_s=max_age_s, cancelled=cancelled)


class _Worker(QRunnable):
    def __init__(self, loader: "ThumbnailLoader"):
        super().__init__()
        self.loader = loader
        self.setAutoDelete(True)

    def run(self) -> None:
        while True:
            key = self.loader._next()
            if key is None:
                return
            try:
                image = make_thumbnail(key)
            except PhotoError as exc:
                self.loader._signals.failed.emit(key, exc.reason)
            except OSError as exc:  # Pillow's word for a damaged file
                log.info("no thumbnail for %s: %s", key.path, exc)
                self.loader._signals.failed.emit(key, f"damaged image data ({exc})")
            except Exception as exc:  # a bug in a decoder: that photo's problem, logged once
                log.exception("thumbnail of %s failed", key.path)
                self.loader._signals.failed.emit(key, f"{type(exc).__name__}: {exc}")
            else:
                self.loader._signals.ready.emit(key, image)


class _Signals(QObject):
    ready = Signal(object, QImage)
    failed = Signal(object, str)


class ThumbnailLoader(QObject):
    """Hands out thumbnails as QPixmap from memory, or asks the pool and emits `ready` later."""

    ready = Signal(object)  # ThumbKey
    failed = Signal(object, str)

    def __init__(self, threads: int = 2, parent: QObject | None = None):
        super().__init__(parent)
        # One thread more than the decoders use: the start-up prune never delays a thumbnail.
        self.pool: QThreadPool = make_pool("thumbnails", threads + 1, self)
        on_shutdown(self.stop)
        self._threads = threads
        self._lock = threading.Lock()
        self._waiting: OrderedDict[ThumbKey, None] = OrderedDict()
        self._busy: set[ThumbKey] = set()
        self._workers = 0
        self._stopped = False
        self._memory: OrderedDict[ThumbKey, QPixmap] = OrderedDict()
        self._memory_bytes = 0
        self._failed: dict[ThumbKey, str] = {}
        self._signals = _Signals()
        self._signals.ready.connect(self._on_ready)
        self._signals.failed.connect(self._on_failed)
        run_task(self.pool, prune_cache, cancelled=lambda: self._stopped)

    def get(self, key: ThumbKey) -> QPixmap | None:
        """The thumbnail when it is in memory; otherwise ask for it (newest first) and return None."""
        pixmap = self._memory.get(key)
        if pixmap is not None:
            self._memory.move_to_end(key)
            return pixmap
        if key in self._failed:
            return None
        self.request(key)
        return None

    def failure(self, key: ThumbKey) -> str | None:
        return self._failed.get(key)

    def request(self, key: ThumbKey) -> None:
        with self._lock:
            if self._stopped or key in self._busy:
                return
            self._waiting[key] = None
            self._waiting.move_to_end(key)
            while len(self._waiting) > MAX_WAITING:
                self._waiting.popitem(last=False)
            start = self._workers < self._threads
            if start:
                self._workers += 1
        if start:
            self.pool.start(_Worker(self))

    def _next(self) -> ThumbKey | None:
        with self._lock:
            if self._stopped or not self._waiting:
                self._workers -= 1
                return None
            key, _ = self._waiting.popitem(last=True)
            self._busy.add(key)
            return key

    @Slot(object, QImage)
    def _on_ready(self, key: ThumbKey, image: QImage) -> None:
        with self._lock:
            self._busy.discard(key)
        pixmap = QPixmap.fromImage(image)
        self._memory[key] = pixmap
        self._memory_bytes += _cost(pixmap)
        while self._memory_bytes > MEMORY_BYTES and len(self._memory) > 1:
            _, old = self._memory.popitem(last=False)
            self._memory_bytes -= _cost(old)
        self.ready.emit(key)

    @Slot(object, str)
    def _on_failed(self, key: ThumbKey, reason: str) -> None:
        with self._lock:
            self._busy.discard(key)
        self._failed[key] = reason
        self.failed.emit(key, reason)

    def clear_memory(self) -> None:
        self._memory.clear()
        self._memory_bytes = 0

    def stop(self, wait_ms: int = 0) -> bool:
        """Drop waiting requests and wait for the running decodes; True when all finished."""
        with self._lock:
            self._stopped = True
            self._waiting.clear()
        return self.pool.waitForDone(wait_ms)


def _cost(pixmap: QPixmap) -> int:
    return max(1, pixmap.width() * pixmap.height() * 4)
