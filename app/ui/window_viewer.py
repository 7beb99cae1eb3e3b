"""The viewer inside the library page: opening a photo from the grid, moving through the grid's
rows, and keeping the photo shown (or its neighbour) while the grid's rows are replaced."""
from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QObject

from app.ui.photo_model import Roles


class ViewerNavigation(QObject):
    """The window's viewer follows the grid's current row."""

    def __init__(self, window):
        super().__init__(window)
        self.w = window
        self._viewer_row: int | None = None  # the viewer's row while the grid's rows are replaced
        window.grid.openRequested.connect(self.open_viewer)
        window.viewer.closed.connect(self.close_viewer)
        window.viewer.moveRequested.connect(self.move_viewer)
        window.model.dataChanged.connect(self._rows_changed)
        window.model.modelAboutToBeReset.connect(self._keep_viewer_row)
        window.model.modelReset.connect(self._follow_viewer)  # after the grid has kept its selection

    def open_current(self) -> None:
        if self.w.grid.currentIndex().isValid():
            self.open_viewer(self.w.grid.currentIndex())

    def open_viewer(self, index: QModelIndex) -> None:
        if not index.isValid():
            return
        self.w.grid.selectionModel().setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        self._show_in_viewer(index)
        self.w.pages.setCurrentWidget(self.w.viewer)
        self.w.viewer.setFocus()

    def _show_in_viewer(self, index: QModelIndex) -> None:
        photo = index.data(Roles.Photo)
        if photo is not None:
            self.w.viewer.show_photo(photo, index.data(Roles.Status), index.data(Roles.Thumbnail))

    def move_viewer(self, step: int) -> None:
        row = self.w.grid.currentIndex().row() + step
        if 0 <= row < self.w.model.rowCount():
            index = self.w.model.index(row)
            self.w.grid.selectionModel().setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
            self._show_in_viewer(index)

    def close_viewer(self) -> None:
        self.w.pages.setCurrentWidget(self.w.grid_page)
        self.w.grid.scrollTo(self.w.grid.currentIndex())
        self.w.grid.setFocus()

    def _keep_viewer_row(self) -> None:
        self._viewer_row = self.w.grid.currentIndex().row() if self.w.pages.currentWidget() is self.w.viewer else None

    def _follow_viewer(self) -> None:
        """New rows under the viewer: it keeps its photo, or when that left (deleted, moved away)
        shows the photo that took its place, or closes when no photo is left."""
        row, self._viewer_row = self._viewer_row, None
        if row is None or self.w.pages.currentWidget() is not self.w.viewer or self.w.viewer.photo is None:
            return
        kept = self.w.model.row_of(self.w.viewer.photo.id)
        if kept is None:
            if not self.w.model.rowCount():
                self.close_viewer()
                return
            kept = min(max(0, row), self.w.model.rowCount() - 1)
        index = self.w.model.index(kept)
        self.w.grid.selectionModel().setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        self._show_in_viewer(index)

    def _rows_changed(self, top: QModelIndex, bottom: QModelIndex, _roles=None) -> None:
        if self.w.pages.currentWidget() is self.w.viewer:
            row = self.w.grid.currentIndex().row()
            if top.row() <= row <= bottom.row():
                self._show_in_viewer(self.w.model.index(row))
