"""The library grid's item model: a QAbstractListModel over photo ids in view order.

Sorting and filtering happen in SQL (storage.browse), in the model's query thread: the model holds
only the ordered ids and fetches rows in pages as the view paints them, so 100,000 photos cost one
id list. A new query's ids replace the old ones when they arrive; an answer to a query the user
has changed since is dropped. Scores that arrive update rows in place (the order is kept until the
user re-sorts); thumbnails are asked for when a tile is painted.
"""
from __future__ import annotations

import logging
import time
from enum import IntEnum
from typing import TYPE_CHECKING, NamedTuple

from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex, QStringListModel, Qt, QTimer, Signal
from PySide6.QtGui import QPixmap
from shiboken6 import isValid

from app.storage import browse
from app.storage.repo import Photo
from app.workers.tasks import make_pool, on_shutdown, run_task
from app.workers.thumbnails import ThumbKey, ThumbnailLoader

if TYPE_CHECKING:  # a type only: the ui hands the engine to storage and the services, and writes no SQL
    from sqlalchemy import Engine

log = logging.getLogger(__name__)

PAGE = 256
CACHE_ROWS = 20_000


class Roles(IntEnum):
    Photo = Qt.ItemDataRole.UserRole + 1
    Id = Qt.ItemDataRole.UserRole + 2
    Path = Qt.ItemDataRole.UserRole + 3
    Score = Qt.ItemDataRole.UserRole + 4
    Status = Qt.ItemDataRole.UserRole + 5  # scored|unscored|scoring|failed|unsupported|missing|offline
    Rating = Qt.ItemDataRole.UserRole + 6
    Flag = Qt.ItemDataRole.UserRole + 7
    Error = Qt.ItemDataRole.UserRole + 8
    Thumbnail = Qt.ItemDataRole.UserRole + 9  # QPixmap or None (asked for, arrives later)
    ThumbnailFailed = Qt.ItemDataRole.UserRole + 10
    Tile = Qt.ItemDataRole.UserRole + 11  # a Tile: all a grid tile shows, in one call


class Tile(NamedTuple):
    """What one grid tile shows: the delegate asks for it once per tile it paints."""

    id: int
    name: str
    status: str
    score: float | None
    rating: int
    flag: str
    thumbnail: QPixmap | None  # None while it is being made, or when it failed
    thumbnail_failed: bool
    closed_eyes: int = 0  # prominent faces with their eyes closed


class Loaded:
    """What the query thread hands over: the ids in view order and the rows shown first."""

    def __init__(self, ids: list[int], first: dict[int, Photo]):
        self.ids = ids
        self.first = first


def load(engine: Engine, query: browse.PhotoQuery, stale) -> Loaded | None:
    """Run in the query thread: the query's ids, or None once a newer query made it stale."""
    if stale():
        return None
    ids = browse.photo_ids(engine, query, cancelled=stale)
    if ids is None or stale():
        return None
    return Loaded(ids, browse.photos_by_id(engine, ids[:PAGE], query.model))


class PhotoListModel(QStringListModel):
    """The photos a query selects, in its order: one row per photo id.

    Its base class is QStringListModel only for a row count kept in C++ (a list of empty strings,
    never shown): QListView asks the model for an index of every row at each layout, and each
    index asks rowCount(), so a rowCount written in Python costs 200,000 calls into Python, half a
    second, for 100,000 photos. Everything shown comes from data() below."""

    reloaded = Signal(float)  # ms from asking until the new rows were in place (the query included)
    reloadFailed = Signal(str)  # the query failed; the rows shown stay

    def __init__(self, engine: Engine, thumbnails: ThumbnailLoader | None, thumb_pixels: int = 256,
                 parent: QObject | None = None):
        super().__init__(parent)
        self.engine = engine
        self.thumbnails = thumbnails
        self.thumb_pixels = thumb_pixels
        self.query = browse.PhotoQuery()
        self.pool = make_pool("photo-query", 1, self)  # one at a time: a newer query cancels the older
        on_shutdown(self.stop)
        self._wanted = [0]  # the newest reload; a list so the query thread sees it change
        self._shown = 0  # the reload whose rows are in place
        self._refreshing = False  # fresh rows for changed photos are on their way
        self._stopped = False
        self._ids: list[int] = []
        # id -> row, made when first asked (a few ms at 100,000 photos; plain browsing never asks:
        # a thumbnail remembers the row that asked for it)
        self._rows: dict[int, int] | None = {}
        self._cache: dict[int, Photo] = {}
        self._scoring: set[int] = set()
        self._dirty: set[int] = set()
        self._flush = QTimer(self)
        self._flush.setSingleShot(True)
        self._flush.setInterval(150)  # scores arriving fast repaint in batches
        self._flush.timeout.connect(self._refresh_dirty)
        if thumbnails is not None:
            thumbnails.ready.connect(self._thumbnail_arrived)
            thumbnails.failed.connect(self._thumbnail_failed)
        self._by_thumb: dict[ThumbKey, tuple[int, int]] = {}  # thumbnails asked for: (id, row)

    # --- Qt model API ----------------------------------------------------------------------

    def flags(self, index):
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or index.row() >= len(self._ids) or index.column() != 0:
            return None
        if role == Roles.Id:
            return self._ids[index.row()]
        photo = self.photo_at(index.row())
        if photo is None:
            return None
        if role == Roles.Tile:
            thumbnail = self._thumbnail(photo, index.row())
            failed = thumbnail is None and self.thumbnails is not None and \
                self.thumbnails.failure(self._thumb_key(photo)) is not None
            return Tile(photo.id, photo.name, self.status_of(photo), photo.score, photo.rating or 0,
                        photo.flag or "", thumbnail, failed, photo.closed_eyes or 0)
        if role == Qt.ItemDataRole.DisplayRole:
            return photo.name
        if role == Roles.Photo:
            return photo
        if role == Roles.Path:
            return photo.path
        if role == Roles.Score:
            return photo.score
        if role == Roles.Status:
            return self.status_of(photo)
        if role == Roles.Rating:
            return photo.rating
        if role == Roles.Flag:
            return photo.flag
        if role == Roles.Error:
            return photo.error
        if role in (Roles.Thumbnail, Qt.ItemDataRole.DecorationRole):
            return self._thumbnail(photo, index.row())
        if role == Roles.ThumbnailFailed:
            return None if self.thumbnails is None else self.thumbnails.failure(self._thumb_key(photo))
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(photo)
        return None

    # The rows are the query's answer: nothing edits, adds, removes or moves them in place.
    def setData(self, index, value, role=Qt.ItemDataRole.EditRole) -> bool:
        return False

    def insertRows(self, row, count, parent=QModelIndex()) -> bool:
        return False

    def removeRows(self, row, count, parent=QModelIndex()) -> bool:
        return False

    def moveRows(self, source_parent, source_row, count, destination_parent, destination_row) -> bool:
        return False

    def sort(self, column, order=Qt.SortOrder.AscendingOrder) -> None:
        pass

    def roleNames(self):
        names = super().roleNames()
        for role in Roles:
            names[int(role)] = role.name.lower().encode()
        return names

    # --- what the view asks -----------------------------------------------------------------

    def photo_at(self, row: int) -> Photo | None:
        if not 0 <= row < len(self._ids):
            return None
        pid = self._ids[row]
        photo = self._cache.get(pid)
        if photo is None:
            self._fetch_page(row)
            photo = self._cache.get(pid)
        return photo

    def id_at(self, row: int) -> int | None:
        return self._ids[row] if 0 <= row < len(self._ids) else None

    def ids(self) -> list[int]:
        return self._ids

    def row_of(self, photo_id: int) -> int | None:
        if self._rows is None:
            self._rows = dict(zip(self._ids, range(len(self._ids))))
        return self._rows.get(photo_id)

    def is_loading(self) -> bool:
        """A query is on its way: the rows shown are about to change."""
        return self._shown != self._wanted[0]

    def is_busy(self) -> bool:
        """A query, or fresh data for changed photos, is still on its way."""
        return self.is_loading() or self._refreshing or any(self.row_of(pid) is not None for pid in self._dirty)

    def status_of(self, photo: Photo) -> str:
        status = photo.status
        if status == "unscored" and photo.id in self._scoring:
            return "scoring"
        return status

    def _fetch_page(self, row: int) -> None:
        if len(self._cache) > CACHE_ROWS:
            self._cache.clear()
        start = max(0, row - PAGE // 4)
        wanted = [pid for pid in self._ids[start:start + PAGE] if pid not in self._cache]
        self._cache.update(browse.photos_by_id(self.engine, wanted, self.query.model))

    def _thumb_key(self, photo: Photo) -> ThumbKey:
        return ThumbKey(photo.path, photo.size, photo.mtime_ns, self.thumb_pixels)

    def _thumbnail(self, photo: Photo, row: int):
        if self.thumbnails is None:
            return None
        key = self._thumb_key(photo)
        pixmap = self.thumbnails.get(key)
        if pixmap is None:
            self._by_thumb[key] = (photo.id, row)
            while len(self._by_thumb) > 4 * PAGE:  # tiles long scrolled away
                del self._by_thumb[next(iter(self._by_thumb))]
        return pixmap

    def _thumbnail_arrived(self, key: ThumbKey) -> None:
        pid, row = self._by_thumb.pop(key, (None, None))
        if pid is not None and self.id_at(row) != pid:
            row = self.row_of(pid)  # the rows changed since it was asked for
        if row is not None:
            index = self.index(row)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole, int(Roles.Thumbnail)])

    def _thumbnail_failed(self, key: ThumbKey, _reason: str) -> None:
        self._thumbnail_arrived(key)

    def _tooltip(self, photo: Photo) -> str:
        from app.ui.format import tooltip

        return tooltip(photo, self.status_of(photo))

    # --- changes --------------------------------------------------------------------------

    def set_query(self, query: browse.PhotoQuery) -> None:
        """Run the query in SQL (in the query thread) and show its photos in its order."""
        self.query = query
        self.reload()

    def reload(self) -> None:
        """Re-run the current query (after a scan or a watcher change); `reloaded` says when the
        new rows are in place. A query still running for an older reload stops."""
        if self._stopped:
            return
        self._wanted[0] += 1
        wanted, generation = self._wanted, self._wanted[0]
        started = time.perf_counter()
        run_task(self.pool, load, self.engine, self.query, lambda: wanted[0] != generation,
                 on_done=lambda loaded: self._loaded(generation, started, loaded),
                 on_error=lambda exc: self._load_failed(generation, exc))

    def stop(self) -> None:
        """Quitting: drop the queries that wait and stop the running one."""
        self._stopped = True
        self._wanted[0] += 1
        self.pool.clear()

    def _loaded(self, generation: int, started: float, loaded: Loaded | None) -> None:
        if loaded is None or generation != self._wanted[0] or not isValid(self):
            return  # the user asked for something else meanwhile
        self._shown = generation
        if loaded.ids == self._ids:
            self._cache.clear()
            self._cache.update(loaded.first)
            if self._ids:
                self.dataChanged.emit(self.index(0), self.index(len(self._ids) - 1))
        else:
            self.beginResetModel()
            self._ids = loaded.ids
            self._rows = None
            self._cache = dict(loaded.first)
            self._by_thumb.clear()
            self._set_row_count(len(loaded.ids))
            self.endResetModel()
        self.reloaded.emit((time.perf_counter() - started) * 1000)

    def _set_row_count(self, rows: int) -> None:
        """Make the C++ list as long as the ids (inside a reset, so without signals of its own)."""
        blocked = self.blockSignals(True)
        try:
            have = super().rowCount()
            if rows > have:
                # At the front: QStringListModel inserts one string at a time, and QList makes room
                # at its front cheaply, while inserting further in moves the rest each time.
                super().insertRows(0, rows - have)
            elif rows < have:
                super().removeRows(rows, have - rows)
        finally:
            self.blockSignals(blocked)

    def _load_failed(self, generation: int, exc: BaseException) -> None:
        if generation == self._wanted[0] and isValid(self):
            self._shown = generation
            log.warning("the library view could not be loaded: %s", exc)
            self.reloadFailed.emit(str(exc))

    def set_thumb_pixels(self, pixels: int) -> None:
        self.thumb_pixels = pixels
        self._by_thumb.clear()
        if self._ids:
            self.dataChanged.emit(self.index(0), self.index(len(self._ids) - 1))

    def set_scoring(self, ids: list[int]) -> None:
        """These photos are being scored now (the rest of the waiting ones are not)."""
        old, self._scoring = self._scoring, set(ids)
        for pid in old ^ self._scoring:
            self._dirty.add(pid)
        self._flush.start()

    def photo_changed(self, photo_id: int) -> None:
        """The photo's row in the database changed (a score, an error, marks): repaint it soon."""
        self._dirty.add(photo_id)
        if not self._flush.isActive():
            self._flush.start()

    def photos_changed(self, ids) -> None:
        self._dirty.update(ids)
        self._refresh_dirty()

    def _refresh_dirty(self) -> None:
        """Read the changed photos that are shown again, in the query thread."""
        if self._refreshing:
            self._flush.start()  # after the read on its way
            return
        if self._stopped:
            return
        dirty, self._dirty = self._dirty, set()
        shown = [pid for pid in dirty if self.row_of(pid) is not None]
        if not shown:
            return
        self._refreshing = True
        run_task(self.pool, browse.photos_by_id, self.engine, shown, self.query.model,
                 on_done=lambda fresh: self._fresh_rows(shown, fresh), on_error=self._fresh_rows_failed)

    def _fresh_rows(self, ids: list[int], fresh: dict[int, Photo]) -> None:
        if not isValid(self):
            return
        self._refreshing = False
        for pid in ids:
            self._cache.pop(pid, None)
        self._cache.update(fresh)
        rows = sorted(r for r in map(self.row_of, ids) if r is not None)
        if rows:
            # One signal per run of adjacent rows keeps the repaint small.
            start = prev = rows[0]
            for r in rows[1:] + [None]:
                if r is not None and r == prev + 1:
                    prev = r
                    continue
                self.dataChanged.emit(self.index(start), self.index(prev))
                if r is not None:
                    start = prev = r
        if self._dirty and not self._flush.isActive():
            self._flush.start()

    def _fresh_rows_failed(self, exc: BaseException) -> None:
        if isValid(self):
            self._refreshing = False
            log.warning("changed photos could not be read again: %s", exc)
