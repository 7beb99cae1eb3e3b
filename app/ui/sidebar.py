"""The sidebar: "All photos", then each library root with its subfolders and photo counts.

Counts come from one GROUP BY over folders; a folder's count includes everything below it. A root
can be added, rescanned, relocated, revealed or removed from its context menu.
"""
from __future__ import annotations

import os

from PySide6.QtCore import QModelIndex, QPoint, Qt, Signal
from PySide6.QtGui import QAction, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QMenu, QPushButton, QStyle, QTreeView,
                               QVBoxLayout, QWidget)

from app.pathutil import is_under
from app.storage import browse
from app.ui.format import printable

PATH_ROLE = Qt.ItemDataRole.UserRole + 1
ROOT_ROLE = Qt.ItemDataRole.UserRole + 2  # the root's path on root items
ALL = ""  # PATH_ROLE of "All photos"


class Sidebar(QWidget):
    folderSelected = Signal(object)  # a folder path, or None for all photos
    addRequested = Signal()
    rescanRequested = Signal(str)
    removeRequested = Signal(str)
    relocateRequested = Signal(str)
    revealRequested = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("sidebar")
        self.model = QStandardItemModel(self)
        self.tree = QTreeView(self)
        self.tree.setObjectName("folderTree")
        self.tree.setModel(self.model)
        self.tree.setHeaderHidden(True)
        self.tree.setUniformRowHeights(True)
        self.tree.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(self._menu)
        self.tree.setIndentation(14)
        self.add_button = QPushButton(self.style().standardIcon(QStyle.StandardPixmap.SP_DirOpenIcon),
                                      "Add folder…", self)
        self.add_button.setObjectName("addFolderButton")
        self.add_button.clicked.connect(self.addRequested)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tree)
        row = QHBoxLayout()
        row.setContentsMargins(6, 0, 6, 6)
        row.addWidget(self.add_button)
        layout.addLayout(row)
        self._selected: str | None = ALL
        self.tree.selectionModel().currentChanged.connect(self._current_changed)
        self._folder_icon = self.style().standardIcon(QStyle.StandardPixmap.SP_DirIcon)
        self._root_icon = self.style().standardIcon(QStyle.StandardPixmap.SP_DriveHDIcon)
        self._offline_icon = self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)

    def show_counts(self, roots: list[tuple[int, str]], counts: list[browse.FolderCount], total: int) -> None:
        """Rebuild the tree, keeping what was expanded and selected."""
        expanded = self._expanded_paths()
        selected = self._selected
        self.tree.selectionModel().blockSignals(True)
        self.model.clear()
        top = self.model.invisibleRootItem()
        everything = QStandardItem(f"All photos  ({total:,})")
        everything.setData(ALL, PATH_ROLE)
        everything.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_DirHomeIcon))
        top.appendRow(everything)
        by_root: dict[int, dict[str, int]] = {}
        for c in counts:
            by_root.setdefault(c.root_id, {})[c.folder] = c.count
        items: dict[str, QStandardItem] = {}
        for rid, root in roots:
            folders = by_root.get(rid, {})
            totals: dict[str, int] = {root: 0}
            for folder, n in folders.items():
                path = folder
                while True:
                    totals[path] = totals.get(path, 0) + n
                    if path == root or len(path) <= len(root):
                        break
                    path = os.path.dirname(path)
            online = os.path.isdir(root)
            item = QStandardItem(self._label(printable(root) if not online else _short(root), totals[root], online))
            item.setToolTip(printable(root) + ("" if online else "\nunreachable: its photos are offline"))
            item.setData(root, PATH_ROLE)
            item.setData(root, ROOT_ROLE)
            item.setIcon(self._root_icon if online else self._offline_icon)
            top.appendRow(item)
            items[root] = item
            for path in sorted(p for p in totals if p != root):
                parent = items.get(os.path.dirname(path))
                if parent is None:
                    continue
                child = QStandardItem(self._label(os.path.basename(path), totals[path], True))
                child.setData(path, PATH_ROLE)
                child.setToolTip(printable(path))
                child.setIcon(self._folder_icon)
                parent.appendRow(child)
                items[path] = child
        for path in expanded:
            item = items.get(path)
            if item is not None:
                self.tree.setExpanded(item.index(), True)
        for root in (r for _id, r in roots):
            if root not in expanded and root in items and items[root].rowCount() <= 12:
                self.tree.setExpanded(items[root].index(), True)
        target = everything if selected in (None, ALL) else items.get(selected, everything)
        self.tree.setCurrentIndex(target.index())
        self.tree.selectionModel().blockSignals(False)
        if target is everything and selected not in (None, ALL):
            self._selected = ALL
            self.folderSelected.emit(None)

    @staticmethod
    def _label(name: str, count: int, online: bool) -> str:
        return f"{name}  ({count:,})" + ("" if online else "  — offline")

    def _expanded_paths(self) -> set[str]:
        out = set()
        stack = [self.model.invisibleRootItem()]
        while stack:
            item = stack.pop()
            for r in range(item.rowCount()):
                child = item.child(r)
                if self.tree.isExpanded(child.index()):
                    out.add(child.data(PATH_ROLE))
                stack.append(child)
        return out

    def select_folder(self, path: str | None) -> bool:
        """Select this folder (None: all photos); False when the tree does not list it."""
        stack = [self.model.invisibleRootItem()]
        while stack:
            item = stack.pop()
            for r in range(item.rowCount()):
                child = item.child(r)
                if child.data(PATH_ROLE) == (path or ALL):
                    self.tree.setCurrentIndex(child.index())
                    return True
                stack.append(child)
        return False

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        path = current.data(PATH_ROLE) if current.isValid() else ALL
        if path == self._selected:
            return
        self._selected = path
        self.folderSelected.emit(path or None)

    def _menu(self, pos: QPoint) -> None:
        index = self.tree.indexAt(pos)
        menu = QMenu(self)
        root = index.data(ROOT_ROLE) if index.isValid() else None
        path = index.data(PATH_ROLE) if index.isValid() else None
        if root:
            menu.addAction("Rescan", lambda: self.rescanRequested.emit(root))
            menu.addAction("Relocate…", lambda: self.relocateRequested.emit(root))
        if path:
            menu.addAction("Show in file manager", lambda: self.revealRequested.emit(path))
        if root:
            menu.addSeparator()
            remove = QAction("Remove from library", menu)
            remove.setToolTip("Take this folder out of the library; the files are not touched, and its "
                              "scores and marks come back if you add it again")
            remove.triggered.connect(lambda: self.removeRequested.emit(root))
            menu.addAction(remove)
        menu.addSeparator()
        menu.addAction("Add folder…", self.addRequested.emit)
        menu.exec(self.tree.viewport().mapToGlobal(pos))


def _short(path: str) -> str:
    home = os.path.expanduser("~")
    if path == home:
        return "~"
    if is_under(path, home, or_same=False):
        return os.path.join("~", os.path.relpath(path, home))
    return path
