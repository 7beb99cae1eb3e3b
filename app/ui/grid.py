"""The library grid: a QListView in icon mode over PhotoListModel, painted by TileDelegate.

The model's rows change when a query's answer arrives (a re-sort, a filter, a rescan); the grid
keeps the selected photos and the current one selected where they are still shown.
"""
from __future__ import annotations

from PySide6.QtCore import QEvent, QItemSelection, QItemSelectionModel, QModelIndex, QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QAbstractItemView, QListView

from app.ui.delegate import TileDelegate
from app.ui.photo_model import PhotoListModel

MAX_SELECTED_RANGES = 5000  # runs of adjacent rows kept selected across a re-sort


class LibraryGrid(QListView):
    openRequested = Signal(QModelIndex)  # Enter or double-click: the viewer
    visibleChanged = Signal(list)  # ids of the photos on screen (debounced)

    def __init__(self, model: PhotoListModel, delegate: TileDelegate, parent=None):
        super().__init__(parent)
        self.setObjectName("libraryGrid")
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setMovement(QListView.Movement.Static)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(True)
        self.setUniformItemSizes(True)
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(2000)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setSelectionRectVisible(True)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setDragEnabled(False)
        self.setMouseTracking(True)
        self.setSpacing(2)
        self.setModel(model)
        self.setItemDelegate(delegate)
        self.delegate = delegate
        self.verticalScrollBar().setSingleStep(40)
        # Always there, so the width the tiles share never changes when it appears.
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        self.base_tile = delegate.tile
        self.doubleClicked.connect(self.openRequested)
        self._visible_timer = QTimer(self)
        self._visible_timer.setSingleShot(True)
        self._visible_timer.setInterval(200)
        self._visible_timer.timeout.connect(self._emit_visible)
        self.verticalScrollBar().valueChanged.connect(self._visible_timer.start)
        model.modelReset.connect(self._visible_timer.start)
        model.rowsInserted.connect(self._visible_timer.start)
        self._kept: tuple[list[int], int | None] | None = None
        model.modelAboutToBeReset.connect(self._keep_selection)
        model.modelReset.connect(self._restore_selection)

    def photo_model(self) -> PhotoListModel:
        return self.model()  # type: ignore[return-value]

    def set_tile(self, tile: int) -> None:
        """The wished tile width; tiles stretch a little so the columns fill the width."""
        self.base_tile = tile
        self._fit()

    def _fit(self) -> None:
        from app.ui.delegate import MARGIN

        width = self.viewport().width() - 2
        cell = self.base_tile + 2 * MARGIN + 2 * self.spacing()
        columns = max(1, round(width / cell)) if width > cell else 1
        tile = max(64, width // columns - 2 * MARGIN - 2 * self.spacing())
        if tile != self.delegate.tile:
            self.delegate.set_tile(tile)
            self.scheduleDelayedItemsLayout()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.currentIndex().isValid():
            self.openRequested.emit(self.currentIndex())
            return
        super().keyPressEvent(event)

    def paintEvent(self, event) -> None:
        self.delegate.begin_frame()
        try:
            super().paintEvent(event)
        finally:
            if self.delegate.end_frame():  # tiles left for the next frame
                QTimer.singleShot(0, self.viewport().update)

    def changeEvent(self, event) -> None:
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.FontChange, QEvent.Type.StyleChange):
            self.delegate.forget_painted()
        super().changeEvent(event)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit()
        self._visible_timer.start()

    def visible_rows(self) -> range:
        model = self.model()
        if model is None or model.rowCount() == 0:
            return range(0)
        vp = self.viewport().rect()
        first = self.indexAt(QPoint(vp.left() + 4, vp.top() + 4))
        last = self.indexAt(QPoint(vp.right() - 4, vp.bottom() - 4))
        start = first.row() if first.isValid() else self._nearest(vp.top())
        end = last.row() if last.isValid() else min(model.rowCount() - 1, self._nearest(vp.bottom(), last=True))
        return range(max(0, start), max(0, end) + 1)

    def _nearest(self, y: int, last: bool = False) -> int:
        # The row at the left edge of the row of tiles at y (gaps between tiles miss indexAt).
        grid = self.delegate.sizeHint(None, QModelIndex())
        per_row = max(1, self.viewport().width() // max(1, grid.width() + 2 * self.spacing()))
        line = max(0, (y + self.verticalOffset()) // max(1, grid.height() + 2 * self.spacing()))
        row = line * per_row + (per_row - 1 if last else 0)
        return min(row, self.model().rowCount() - 1)

    def _emit_visible(self) -> None:
        model = self.photo_model()
        ids = [pid for pid in (model.id_at(r) for r in self.visible_rows()) if pid is not None]
        self.visibleChanged.emit(ids)

    def selected_ids(self) -> list[int]:
        model = self.photo_model()
        rows = sorted(row for r in self.selectionModel().selection() for row in range(r.top(), r.bottom() + 1))
        return [pid for pid in (model.id_at(r) for r in rows) if pid is not None]

    def current_id(self) -> int | None:
        current = self.currentIndex()
        return self.photo_model().id_at(current.row()) if current.isValid() else None

    def _keep_selection(self) -> None:
        self._kept = (self.selected_ids(), self.current_id()) if self.selectionModel().hasSelection() else None

    def _restore_selection(self) -> None:
        kept, self._kept = self._kept, None
        if kept:
            self.select_ids(*kept)

    def select_ids(self, ids: list[int], current: int | None) -> None:
        """Select these photos again after a reload (those still shown)."""
        model = self.photo_model()
        sel = self.selectionModel()
        rows = sorted(row for row in map(model.row_of, ids) if row is not None)
        selection = QItemSelection()
        start = prev = None
        for row in rows + [None]:
            if start is not None and (row is None or row != prev + 1):
                selection.select(model.index(start), model.index(prev))
                if selection.count() >= MAX_SELECTED_RANGES:
                    break
                start = None
            if start is None:
                start = row
            prev = row
        sel.select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        if current is not None:
            row = model.row_of(current)
            if row is not None:
                sel.setCurrentIndex(model.index(row), QItemSelectionModel.SelectionFlag.NoUpdate)
