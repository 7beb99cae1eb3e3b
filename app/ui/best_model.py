"""The best-shots item model: one row per group of near-duplicates (burst, similar shots, exact
copies), each with its members, its pick and the reason in words. Thumbnails of the members come
from the shared ThumbnailLoader, so the grid's cache serves them too.
"""
from __future__ import annotations

from dataclasses import replace
from enum import IntEnum

from PySide6.QtCore import QAbstractListModel, QModelIndex, QObject, QPersistentModelIndex, Qt
from PySide6.QtGui import QPixmap

from app import curation
from app.curation import GroupView, Member
from app.storage.repo import Photo
from app.workers.thumbnails import ThumbKey, ThumbnailLoader

MAX_WAITING = 1024
KIND_TEXT = {"burst": "Burst", "similar": "Similar shots", "exact": "Exact copies"}


class GroupRoles(IntEnum):
    Group = Qt.ItemDataRole.UserRole + 1
    GroupId = Qt.ItemDataRole.UserRole + 2
    PickId = Qt.ItemDataRole.UserRole + 3


def kind_text(group: GroupView) -> str:
    n = len(group.members)
    return f"{KIND_TEXT.get(group.kind, group.kind.capitalize())} · {n} photos"


def reason_text(group: GroupView) -> str:
    reason = group.reason or ""
    return reason[:1].upper() + reason[1:]


class GroupListModel(QAbstractListModel):
    def __init__(self, thumbnails: ThumbnailLoader | None, thumb_pixels: int = 256, parent: QObject | None = None):
        super().__init__(parent)
        self.thumbnails = thumbnails
        self.thumb_pixels = thumb_pixels
        self.groups: list[GroupView] = []
        self.photos: dict[int, Photo] = {}
        self._row_of_photo: dict[int, int] = {}
        self._by_thumb: dict[ThumbKey, int] = {}  # photo id waiting for its thumbnail
        if thumbnails is not None:
            thumbnails.ready.connect(self._thumbnail_arrived)
            thumbnails.failed.connect(self._thumbnail_failed)

    # --- Qt model API ----------------------------------------------------------------------

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.groups)

    def flags(self, index):
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self.groups) or index.column() != 0:
            return None
        group = self.groups[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return kind_text(group)
        if role == Qt.ItemDataRole.ToolTipRole:
            return reason_text(group)
        if role == GroupRoles.Group:
            return group
        if role == GroupRoles.GroupId:
            return group.id
        if role == GroupRoles.PickId:
            return group.pick_id
        return None

    # --- what the view asks -----------------------------------------------------------------

    def group_at(self, row: int) -> GroupView | None:
        return self.groups[row] if 0 <= row < len(self.groups) else None

    def row_of_group(self, group_id: int) -> int | None:
        return next((r for r, g in enumerate(self.groups) if g.id == group_id), None)

    def row_of_photo(self, photo_id: int) -> int | None:
        return self._row_of_photo.get(photo_id)

    def status(self, photo_id: int) -> str:
        photo = self.photos.get(photo_id)
        return photo.status if photo is not None else "scored"

    def _key(self, photo: Photo) -> ThumbKey:
        return ThumbKey(photo.path, photo.size, photo.mtime_ns, self.thumb_pixels)

    def thumbnail(self, photo_id: int) -> QPixmap | None:
        photo = self.photos.get(photo_id)
        if photo is None or self.thumbnails is None:
            return None
        key = self._key(photo)
        pixmap = self.thumbnails.get(key)
        if pixmap is None:
            self._by_thumb[key] = photo_id
            while len(self._by_thumb) > MAX_WAITING:  # frames long scrolled away
                del self._by_thumb[next(iter(self._by_thumb))]
        return pixmap

    def thumbnail_failed(self, photo_id: int) -> bool:
        photo = self.photos.get(photo_id)
        return bool(photo is not None and self.thumbnails is not None and self.thumbnails.failure(self._key(photo)))

    def _thumbnail_arrived(self, key: ThumbKey, _reason: str = "") -> None:
        pid = self._by_thumb.pop(key, None)
        row = None if pid is None else self._row_of_photo.get(pid)
        if row is not None:
            index = self.index(row)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])

    def _thumbnail_failed(self, key: ThumbKey, reason: str) -> None:
        self._thumbnail_arrived(key, reason)

    # --- changes --------------------------------------------------------------------------

    def set_groups(self, groups: list[GroupView], photos: dict[int, Photo]) -> None:
        self.beginResetModel()
        self.groups = groups
        self.photos = photos
        self._row_of_photo = {m.row.id: r for r, g in enumerate(groups) for m in g.members}
        self._by_thumb.clear()
        self.endResetModel()

    def set_pick(self, row: int, photo_id: int) -> None:
        """The user's choice, shown at once (it is saved in a worker): the frame becomes a pick, a
        pick the user made before in the group is cleared."""
        group = self.group_at(row)
        if group is None:
            return
        for m in group.members:
            flag = "pick" if m.row.id == photo_id else ("" if m.row.flag == "pick" else m.row.flag)
            if flag != m.row.flag:
                m.row = replace(m.row, flag=flag)
        curation.judge_group(group)
        index = self.index(row)
        self.dataChanged.emit(index, index)

    def photos_changed(self, fresh: dict[int, Photo]) -> None:
        """These photos' rows changed in the database (marks): take their marks and repick."""
        rows: set[int] = set()
        for pid, photo in fresh.items():
            row = self._row_of_photo.get(pid)
            if row is None:
                continue
            self.photos[pid] = photo
            group = self.groups[row]
            for m in group.members:
                if m.row.id == pid and (m.row.flag, m.row.rating) != (photo.flag, photo.rating):
                    m.row = replace(m.row, flag=photo.flag, rating=photo.rating)
            rows.add(row)
        for row in sorted(rows):
            curation.judge_group(self.groups[row])
            index = self.index(row)
            self.dataChanged.emit(index, index)

    def member(self, row: int, photo_id: int) -> Member | None:
        group = self.group_at(row)
        return None if group is None else next((m for m in group.members if m.row.id == photo_id), None)
