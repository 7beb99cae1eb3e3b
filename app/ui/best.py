"""The best-shots view: every group of near-duplicates as one row of frames, painted by a delegate
(one view for all groups, never a widget per photo). The pick is framed in green, the rest are
dimmed; the row says what kind of group it is and why the pick won.

Keys: ↑↓ move between groups, ←→ between frames, Enter or P makes the focused frame the pick,
Space marks a frame to compare, C compares (the marked frame, or the pick, with the focused one).
"""
from __future__ import annotations

import logging
import math

from PySide6.QtCore import QEvent, QModelIndex, QPoint, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QKeyEvent, QMouseEvent, QPainter, QPalette, QPen
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QLabel, QListView, QMenu, QPushButton,
                               QStackedWidget, QStyledItemDelegate, QStyleOptionViewItem, QToolTip,
                               QVBoxLayout, QWidget)

from app.curation import GroupView
from app.ui import art, keys, labels
from app.ui import format as fmt
from app.ui.best_model import GroupListModel, GroupRoles, kind_text, reason_text
from app.ui.compare import CompareView, Side
from app.ui.delegate import paint_badge, paint_marks
from app.ui.facestrip import FaceStrip
from app.workers.curation import CurationService, GroupsResult
from app.workers.tasks import on_shutdown

log = logging.getLogger(__name__)

PAD = 10  # inside a group's panel
GAP = 10  # between frames
DIM = 0.5  # opacity of the frames that are not the pick: dimmed, still judged at a glance
ASPECT = 0.75


class GroupDelegate(QStyledItemDelegate):
    """Paints a group: a header with its kind and the reason, then its frames, wrapped to the width."""

    def __init__(self, frame: int = 200, good: float = 5.5, cull: float = 4.0, parent=None):
        super().__init__(parent)
        self.frame = frame
        self.good, self.cull = good, cull
        self.width = 800  # the viewport's; the view keeps it current
        self.line = 16  # a text line's height; the view sets it from its font

    # --- geometry (shared with the view's hit tests) ---------------------------------------

    def picture_height(self) -> int:
        return round(self.frame * ASPECT)

    def header_height(self) -> int:
        return 2 * self.line + 14

    def cell_height(self) -> int:
        return self.picture_height() + 2 * self.line + 8

    def columns(self) -> int:
        return max(1, (self.width - 2 * PAD - 8 + GAP) // (self.frame + GAP))

    def frame_rect(self, row_rect: QRect, i: int) -> QRect:
        """The cell (picture and its two label lines) of frame i in a row painted at row_rect."""
        cols = self.columns()
        line, col = divmod(i, cols)
        x = row_rect.x() + PAD + col * (self.frame + GAP)
        y = row_rect.y() + self.header_height() + line * (self.cell_height() + GAP)
        return QRect(x, y, self.frame, self.cell_height())

    def frame_at(self, row_rect: QRect, count: int, pos: QPoint) -> int | None:
        for i in range(count):
            if self.frame_rect(row_rect, i).adjusted(-GAP // 2, -GAP // 2, GAP // 2, GAP // 2).contains(pos):
                return i
        return None

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        group: GroupView | None = index.data(GroupRoles.Group)
        n = len(group.members) if group is not None else 1
        lines = math.ceil(n / self.columns())
        height = self.header_height() + lines * self.cell_height() + (lines - 1) * GAP + PAD
        return QSize(max(100, self.width - 4), height + 6)

    # --- painting -------------------------------------------------------------------------

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        group: GroupView | None = index.data(GroupRoles.Group)
        if group is None:
            return
        view = option.widget
        model: GroupListModel = index.model()  # type: ignore[assignment]
        current = view is not None and view.currentIndex() == index
        focus_frame = getattr(view, "frame", 0) if current else None
        marked = getattr(view, "marked", None)
        palette = option.palette
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        panel = QRectF(option.rect.adjusted(2, 3, -2, -3))
        painter.setPen(QPen(palette.color(QPalette.ColorRole.Highlight), 2) if current
                       else QPen(palette.color(QPalette.ColorRole.Mid), 1))
        painter.setBrush(palette.color(QPalette.ColorRole.Base))
        painter.drawRoundedRect(panel, 8, 8)
        self._header(painter, option, group, model)
        small = QFont(option.font)
        small.setPointSizeF(max(7.0, small.pointSizeF() * 0.9))
        for i, member in enumerate(group.members):
            cell = self.frame_rect(option.rect, i)
            self._frame(painter, option, model, group, member, cell, small,
                        focused=i == focus_frame, marked=marked == member.row.id)
        painter.restore()

    def _header(self, painter: QPainter, option: QStyleOptionViewItem, group: GroupView,
                model: GroupListModel) -> None:
        palette = option.palette
        rect = option.rect.adjusted(PAD + 2, 8, -PAD - 2, 0)
        bold = QFont(option.font)
        bold.setBold(True)
        painter.setFont(bold)
        painter.setPen(palette.color(QPalette.ColorRole.Text))
        title = kind_text(group)
        painter.drawText(QRect(rect.x(), rect.y(), rect.width(), self.line), Qt.AlignmentFlag.AlignLeft, title)
        used = QFontMetrics(bold).horizontalAdvance(title) + 16
        pick = group.pick
        painter.setFont(option.font)
        keep = f"keep {fmt.printable(pick.row.name)}"
        painter.setPen(fmt.PICK.darker(130))
        painter.drawText(QRect(rect.x() + used, rect.y(), rect.width() - used, self.line), Qt.AlignmentFlag.AlignLeft,
                         painter.fontMetrics().elidedText(keep, Qt.TextElideMode.ElideMiddle, rect.width() - used))
        painter.setPen(art.dim(palette, QPalette.ColorRole.Base))
        reason = reason_text(group)
        painter.drawText(QRect(rect.x(), rect.y() + self.line + 2, rect.width(), self.line), Qt.AlignmentFlag.AlignLeft,
                         painter.fontMetrics().elidedText(reason, Qt.TextElideMode.ElideRight, rect.width()))

    def _frame(self, painter: QPainter, option: QStyleOptionViewItem, model: GroupListModel, group: GroupView,
               member, cell: QRect, small: QFont, focused: bool, marked: bool) -> None:
        palette = option.palette
        pid = member.row.id
        is_pick = pid == group.pick_id
        area = QRect(cell.x(), cell.y(), cell.width(), self.picture_height())
        pixmap = model.thumbnail(pid)
        if pixmap is not None and not pixmap.isNull():
            size = pixmap.size().scaled(area.size(), Qt.AspectRatioMode.KeepAspectRatio)
            image = QRect(0, 0, size.width(), size.height())
            image.moveCenter(area.center())
        else:
            image = area.adjusted(area.width() // 10, area.height() // 8, -area.width() // 10, -area.height() // 8)
        opacity = 1.0 if is_pick else (0.85 if focused else DIM)
        painter.setOpacity(opacity)
        if pixmap is not None and not pixmap.isNull():
            painter.drawPixmap(image, pixmap)
        else:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(art.plate(palette))
            painter.drawRoundedRect(QRectF(image), 4, 4)
            if model.thumbnail_failed(pid):
                painter.setPen(art.dim(palette, QPalette.ColorRole.Base))
                painter.drawText(image, Qt.AlignmentFlag.AlignCenter, "no preview")
        photo = model.photos.get(pid)
        paint_badge(painter, image, model.status(pid), photo.score if photo else member.row.score,
                    self.good, self.cull, self.frame)
        paint_marks(painter, image, member.row.rating or 0, member.row.flag or "", self.frame)
        painter.setOpacity(1.0)
        if is_pick:
            painter.setPen(QPen(fmt.PICK, 3))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(QRectF(image).adjusted(-2, -2, 2, 2), 4, 4)
            self._chip(painter, image, "PICK", fmt.PICK, small)
        if marked:
            painter.setPen(QPen(QColor("#f59e0b"), 2, Qt.PenStyle.DashLine))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(QRectF(image).adjusted(-5, -5, 5, 5), 5, 5)
            if not is_pick:
                self._chip(painter, image, "COMPARE", QColor("#f59e0b"), small)
        if focused:
            painter.setPen(QPen(palette.color(QPalette.ColorRole.Highlight), 2))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(QRectF(cell).adjusted(-4, -4, 4, 2), 6, 6)

        painter.setFont(small)
        name_rect = QRect(cell.x(), area.bottom() + 4, cell.width(), self.line)
        painter.setPen(palette.color(QPalette.ColorRole.Text) if is_pick or focused
                       else art.dim(palette, QPalette.ColorRole.Base))
        painter.drawText(name_rect, Qt.AlignmentFlag.AlignHCenter,
                         painter.fontMetrics().elidedText(fmt.printable(member.row.name),
                                                          Qt.TextElideMode.ElideMiddle, cell.width()))
        if member.faults:
            painter.setPen(fmt.POOR)
            painter.drawText(name_rect.translated(0, self.line), Qt.AlignmentFlag.AlignHCenter,
                             painter.fontMetrics().elidedText(", ".join(member.faults), Qt.TextElideMode.ElideRight,
                                                              cell.width()))

    def _chip(self, painter: QPainter, image: QRect, text: str, colour: QColor, font: QFont) -> None:
        bold = QFont(font)
        bold.setBold(True)
        painter.setFont(bold)
        fm = painter.fontMetrics()
        box = QRectF(image.left() + 5, image.top() + 5, fm.horizontalAdvance(text) + 12, fm.height() + 2)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        painter.drawRoundedRect(box, box.height() / 2, box.height() / 2)
        painter.setPen(QColor("white"))
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)


class GroupStrip(QListView):
    """One list of groups; the current row has a focused frame (`frame`), moved with ←→."""

    pickRequested = Signal(int, int)  # row, photo id
    compareRequested = Signal()
    focusChanged = Signal()

    def __init__(self, model: GroupListModel, delegate: GroupDelegate, parent=None):
        super().__init__(parent)
        self.setObjectName("bestShotsList")
        self.setModel(model)
        self.setItemDelegate(delegate)
        self.delegate = delegate
        self.frame = 0
        self.marked: int | None = None  # a photo id marked for compare (Space, Ctrl+click)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        self.setUniformItemSizes(False)
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(500)
        self.setMouseTracking(True)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._menu)
        self.verticalScrollBar().setSingleStep(40)
        delegate.line = QFontMetrics(self.font()).height()

    def group_model(self) -> GroupListModel:
        return self.model()  # type: ignore[return-value]

    def current_group(self) -> GroupView | None:
        index = self.currentIndex()
        return self.group_model().group_at(index.row()) if index.isValid() else None

    def focused_id(self) -> int | None:
        group = self.current_group()
        if group is None or not group.members:
            return None
        return group.members[min(self.frame, len(group.members) - 1)].row.id

    def set_focus(self, row: int, frame: int) -> None:
        index = self.model().index(row, 0)
        if not index.isValid():
            return
        group = self.group_model().group_at(row)
        self.frame = max(0, min(frame, len(group.members) - 1))
        if self.currentIndex() != index:
            self.setCurrentIndex(index)  # currentChanged would move the focus to the pick
            self.frame = max(0, min(frame, len(group.members) - 1))
        self._frame_moved()

    def _frame_moved(self) -> None:
        index = self.currentIndex()
        if index.isValid():
            self.update(index)
            self._reveal_frame()
        self.focusChanged.emit()

    def _reveal_frame(self) -> None:
        """Scroll so the focused frame shows (a large group is taller than the window)."""
        index = self.currentIndex()
        rect = self.visualRect(index)
        cell = self.delegate.frame_rect(rect, self.frame).adjusted(-6, -self.delegate.header_height(), 6, 8)
        view = self.viewport().rect()
        bar = self.verticalScrollBar()
        if cell.top() < view.top():
            bar.setValue(bar.value() + cell.top() - view.top())
        elif cell.bottom() > view.bottom():
            bar.setValue(bar.value() + min(cell.bottom() - view.bottom(), cell.top() - view.top()))

    def currentChanged(self, current: QModelIndex, previous: QModelIndex) -> None:
        super().currentChanged(current, previous)
        group = self.group_model().group_at(current.row()) if current.isValid() else None
        if group is not None:
            # Arriving in a group, the focus starts on its pick.
            self.frame = next((i for i, m in enumerate(group.members) if m.row.id == group.pick_id), 0)
        if previous.isValid():
            self.update(previous)
        if current.isValid():
            self.update(current)
        self.focusChanged.emit()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        group = self.current_group()
        if group is None:
            super().keyPressEvent(event)
            return
        if key == Qt.Key.Key_Left:
            if self.frame > 0:
                self.frame -= 1
                self._frame_moved()
        elif key == Qt.Key.Key_Right:
            if self.frame < len(group.members) - 1:
                self.frame += 1
                self._frame_moved()
        elif key in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_P):
            self.request_pick()
        elif key == Qt.Key.Key_C:
            self.compareRequested.emit()
        elif key == Qt.Key.Key_Space:
            self.toggle_mark()
        elif key in (Qt.Key.Key_Up, Qt.Key.Key_Down) and event.modifiers() == Qt.KeyboardModifier.NoModifier:
            # Within a group spread over several lines, move by a line of frames first.
            cols = self.delegate.columns()
            step = -cols if key == Qt.Key.Key_Up else cols
            if 0 <= self.frame + step < len(group.members):
                self.frame += step
                self._frame_moved()
            else:
                super().keyPressEvent(event)
        else:
            super().keyPressEvent(event)

    def request_pick(self) -> None:
        pid = self.focused_id()
        if pid is not None:
            self.pickRequested.emit(self.currentIndex().row(), pid)

    def toggle_mark(self) -> None:
        pid = self.focused_id()
        if pid is not None:
            self.marked = None if self.marked == pid else pid
            self.update(self.currentIndex())

    def _hit(self, pos: QPoint) -> tuple[QModelIndex, int | None]:
        index = self.indexAt(pos)
        if not index.isValid():
            return index, None
        group = self.group_model().group_at(index.row())
        return index, self.delegate.frame_at(self.visualRect(index), len(group.members), pos)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        index, frame = self._hit(event.position().toPoint())
        if index.isValid() and frame is not None and event.button() in (Qt.MouseButton.LeftButton,
                                                                         Qt.MouseButton.RightButton):
            self.set_focus(index.row(), frame)
            if event.button() == Qt.MouseButton.LeftButton and \
                    event.modifiers() & Qt.KeyboardModifier.ControlModifier:
                self.toggle_mark()
            self.setFocus()
            return
        super().mousePressEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        index, frame = self._hit(event.position().toPoint())
        if index.isValid() and frame is not None:
            self.set_focus(index.row(), frame)
            self.request_pick()
            return
        super().mouseDoubleClickEvent(event)

    def _menu(self, pos: QPoint) -> None:
        if self.focused_id() is None:
            return
        menu = QMenu(self)
        menu.addAction("Make this the pick\tEnter", self.request_pick)
        menu.addAction("Compare\tC", self.compareRequested.emit)
        menu.addAction("Mark to compare\tSpace", self.toggle_mark)
        menu.exec(self.viewport().mapToGlobal(pos))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        width = self.viewport().width()
        if width != self.delegate.width:
            self.delegate.width = width
            self.scheduleDelayedItemsLayout()

    def viewportEvent(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip:
            index, frame = self._hit(event.pos())
            if index.isValid() and frame is not None:
                group = self.group_model().group_at(index.row())
                m = group.members[frame]
                lines = [f"<b>{fmt.printable(m.row.name)}</b>"]
                if m.row.score is not None:
                    lines.append(f"Score {m.row.score:.2f}")
                if m.row.id == group.pick_id:
                    lines.append(f"The pick: {reason_text(group)}")
                if m.faults:
                    lines.append(", ".join(m.faults))
                QToolTip.showText(event.globalPos(), "<br>".join(lines), self)
                return True
        return super().viewportEvent(event)


class BestShotsView(QWidget):
    """The page: a header (scope, counts, Accept all, Compare) over the groups, or the compare."""

    loaded = Signal()  # groups shown (after a load)
    status = Signal(str)  # a line for the status bar

    def __init__(self, service: CurationService, thumbnails, thumb_pixels: int = 256, good: float = 5.5,
                 cull: float = 4.0, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("bestShotsView")
        self.service = service
        self.under: str | None = None
        self.stale = True
        self.loading = False
        self.scoring_off = False  # photos not analysed yet will not be until a model is set up
        self._token = 0
        on_shutdown(self.stop)
        self.model = GroupListModel(thumbnails, thumb_pixels, self)
        self.delegate = GroupDelegate(200, good, cull, self)
        self.strip = GroupStrip(self.model, self.delegate, self)
        self.compare_view = CompareView(self)
        self.empty = QLabel(self)
        self.empty.setObjectName("bestShotsEmpty")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)

        self.title = QLabel("Best shots", self)
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.3)
        font.setBold(True)
        self.title.setFont(font)
        self.summary = QLabel(self)
        self.summary.setObjectName("bestShotsSummary")  # the counts
        self.scope_label = labels.ElidedLabel(self)  # the folder, cut in the middle to fit (the tooltip has it all)
        self.scope_label.setObjectName("bestShotsScope")
        self.accept_button = QPushButton("Accept all picks", self)
        self.accept_button.setObjectName("acceptAllButton")
        self.accept_button.setToolTip("Mark the pick of every group as picked (Ctrl+Shift+A)")
        self.accept_button.clicked.connect(self.accept_all)
        self.compare_button = QPushButton("Compare", self)
        self.compare_button.setToolTip("Compare the focused frame with the pick, or with the frame marked by Space (C)")
        self.compare_button.clicked.connect(self.compare)
        for b in (self.accept_button, self.compare_button):
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        # The key hints have a line of their own under the title: never run into the folder.
        self.hint = labels.DimLabel(keys.hint_text("best"), self)
        self.hint.setObjectName("bestShotsHint")
        self.hint.setMinimumWidth(1)  # it gives way first when the window is narrow
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.title)
        top.addSpacing(10)
        top.addWidget(self.summary)
        top.addSpacing(6)
        top.addWidget(self.scope_label, 1)
        top.addSpacing(10)
        top.addWidget(self.compare_button)
        top.addWidget(self.accept_button)
        header = QVBoxLayout()
        header.setContentsMargins(8, 6, 8, 6)
        header.setSpacing(2)
        header.addLayout(top)
        header.addWidget(self.hint)
        self.header = QWidget(self)
        self.header.setLayout(header)

        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.strip)
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.compare_view)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.header)
        layout.addWidget(self.stack, 1)
        self.faces = FaceStrip(self)  # the faces of the focused group's frames (or the two compared)
        layout.addWidget(self.faces)

        self.strip.focusChanged.connect(self.show_faces)
        self.faces.frameClicked.connect(self._face_clicked)
        self.strip.pickRequested.connect(self.choose_pick)
        self.strip.compareRequested.connect(self.compare)
        self.compare_view.closed.connect(self.close_compare)
        self.compare_view.pickRequested.connect(self._pick_from_compare)
        self._compare_ids: tuple[int, int] | None = None
        self._show_empty("Finding bursts and similar shots…")

    # --- loading --------------------------------------------------------------------------

    def set_scope(self, under: str | None) -> None:
        if under != self.under:
            self.under = under
            self.model.set_groups([], {})
            self.stale = True

    def mark_stale(self) -> None:
        self.stale = True

    def reload(self) -> None:
        """Load the groups under the scope in a worker; a result for an older request is dropped."""
        self.stale = False
        self.loading = True
        self._token += 1
        token, under = self._token, self.under
        if not self.model.rowCount():
            self._show_empty("Finding bursts and similar shots…")
        self.service.load_groups(under, lambda result: self._loaded(token, result))

    def set_scoring_off(self, off: bool) -> None:
        """Scoring went off or came back: the words for photos not analysed yet follow."""
        if off != self.scoring_off:
            self.scoring_off = off
            if not self.loading and self.isVisible():
                self.reload()
            else:
                self.stale = True

    def reload_if_stale(self) -> None:
        if self.stale:
            self.reload()

    def _loaded(self, token: int, result: GroupsResult) -> None:
        if token != self._token or result.under != self.under:
            return  # the folder changed, or a newer load is on its way
        self.loading = False
        keep_group = self.strip.current_group()
        keep_photo = self.strip.focused_id()
        self.model.set_groups(result.groups, result.photos)
        photos = sum(len(g.members) for g in result.groups)
        parts = [fmt.plural(len(result.groups), "group"), f"{photos:,} photos"]
        if result.waiting:
            parts.append(fmt.waiting_text(result.waiting, self.scoring_off))
        self.summary.setText(" · ".join(parts) + " —")
        self.scope_label.set_full_text(f"in {fmt.printable(self.under)}" if self.under else "in all photos")
        if not result.groups:
            self._show_empty("No bursts or similar shots here." if not result.waiting else
                             fmt.nothing_yet("groups", self.scoring_off))
        else:
            if self.stack.currentWidget() is self.empty:
                self.stack.setCurrentWidget(self.strip)
            self._restore(keep_group, keep_photo)
        self.show_faces()
        self.accept_button.setEnabled(bool(result.groups))
        self.loaded.emit()

    def _restore(self, group: GroupView | None, photo_id: int | None) -> None:
        row = self.model.row_of_photo(photo_id) if photo_id is not None else None
        if row is None and group is not None:
            row = self.model.row_of_group(group.id)
        row = row if row is not None else 0
        new_group = self.model.group_at(row)
        frame = next((i for i, m in enumerate(new_group.members) if m.row.id == photo_id), None)
        self.strip.setCurrentIndex(self.model.index(row))
        if frame is not None:
            self.strip.set_focus(row, frame)
        self.strip.scrollTo(self.model.index(row))

    def _show_empty(self, text: str) -> None:
        self.empty.setText(text)
        if self.stack.currentWidget() is not self.compare_view:
            self.stack.setCurrentWidget(self.empty)
            self.show_faces()

    def photos_changed(self, fresh: dict) -> None:
        self.model.photos_changed(fresh)
        self._refresh_compare()
        self.show_faces()

    def show_faces(self) -> None:
        """Under the groups, the focused group's faces; under the compare, its two frames' faces."""
        page = self.stack.currentWidget()
        self.faces.show_group(None if page is self.empty else self.strip.current_group(), self.strip.focused_id(),
                              self._compare_ids if page is self.compare_view else None)

    def _face_clicked(self, photo_id: int) -> None:
        row = self.model.row_of_photo(photo_id)
        if row is not None and self.stack.currentWidget() is self.strip:
            ids = [m.row.id for m in self.model.group_at(row).members]
            self.strip.set_focus(row, ids.index(photo_id))

    # --- picks ----------------------------------------------------------------------------

    def current_photo_id(self) -> int | None:
        if self.stack.currentWidget() is self.compare_view:
            return None
        return self.strip.focused_id()

    def make_pick(self) -> None:
        """P, Enter: the focused frame becomes its group's pick."""
        self.strip.request_pick()

    def choose_pick(self, row: int, photo_id: int) -> None:
        group = self.model.group_at(row)
        if group is None:
            return
        if photo_id == group.pick_id and group.pick.row.flag == "pick":
            return
        self.service.choose_pick(group, photo_id)
        self.model.set_pick(row, photo_id)
        self.status.emit(f"{fmt.printable(group.pick.row.name)} is now the pick of its {kind_text(group).lower()}")
        self._refresh_compare()

    def accept_all(self) -> None:
        """Keep every group's pick as shown: each becomes a pick mark (so it stays after rescans)."""
        todo = [(g, g.pick_id) for g in self.model.groups if g.pick.row.flag != "pick"]
        if not todo:
            self.status.emit("Every pick is accepted already")
            return
        for row, group in enumerate(self.model.groups):
            if group.pick.row.flag != "pick":
                self.model.set_pick(row, group.pick_id)
        self.service.accept_picks(todo, on_done=lambda changed: self.status.emit(
            f"Accepted {fmt.plural(len(todo), 'pick')}"))

    # --- compare --------------------------------------------------------------------------

    def compare(self) -> None:
        """Open the compare: the frame marked with Space (or the pick) beside the focused frame."""
        group = self.strip.current_group()
        focused = self.strip.focused_id()
        if group is None or focused is None or len(group.members) < 2:
            self.status.emit("Choose a group with two frames or more to compare")
            return
        ids = [m.row.id for m in group.members]
        other = self.strip.marked if self.strip.marked in ids and self.strip.marked != focused else group.pick_id
        if other == focused:  # the pick is focused: compare it with the next frame
            other = ids[(ids.index(focused) + 1) % len(ids)]
        left, right = (other, focused) if other == group.pick_id else (focused, other)
        self.open_compare(left, right)

    def open_compare(self, left: int, right: int) -> None:
        row = self.model.row_of_photo(left)
        if row is None or self.model.row_of_photo(right) != row:
            return
        self._compare_ids = (left, right)
        sides = self._sides()
        if sides is None:
            return
        self.compare_view.show_pair(*sides, (self.model.thumbnail(left), self.model.thumbnail(right)))
        self.stack.setCurrentWidget(self.compare_view)
        self.compare_view.setFocus()
        self.show_faces()

    def _sides(self) -> tuple[Side, Side] | None:
        if self._compare_ids is None:
            return None
        out = []
        for pid in self._compare_ids:
            row = self.model.row_of_photo(pid)
            member = self.model.member(row, pid) if row is not None else None
            photo = self.model.photos.get(pid)
            if member is None or photo is None:
                return None
            group = self.model.group_at(row)
            words = []
            if member.row.score is not None:
                words.append(f"score {member.row.score:.2f}")
            if pid == group.pick_id:
                words.append("<span style='color:#16a34a'><b>the pick</b></span>")
            if member.faults:
                words.append(f"<span style='color:#c8553d'>{', '.join(member.faults)}</span>")
            out.append(Side(photo, fmt.printable(member.row.name), " · ".join(words), pid == group.pick_id))
        return out[0], out[1]

    def _refresh_compare(self) -> None:
        if self.stack.currentWidget() is self.compare_view:
            sides = self._sides()
            if sides is not None:
                self.compare_view.update_sides(*sides)

    def _pick_from_compare(self, photo_id: int) -> None:
        row = self.model.row_of_photo(photo_id)
        if row is not None:
            self.choose_pick(row, photo_id)

    def close_compare(self) -> None:
        self.stack.setCurrentWidget(self.strip if self.model.rowCount() else self.empty)
        self.strip.setFocus()
        self.show_faces()

    def focus_view(self) -> None:
        (self.compare_view if self.stack.currentWidget() is self.compare_view else self.strip).setFocus()

    def zoom(self, factor: float) -> None:
        self.delegate.frame = int(max(120, min(480, self.delegate.frame * factor)))
        self.strip.scheduleDelayedItemsLayout()
        self.strip.viewport().update()

    def set_thresholds(self, good: float, cull: float) -> None:
        self.delegate.good, self.delegate.cull = good, cull
        self.strip.viewport().update()

    @property
    def pools(self):
        return (self.compare_view.pool, self.faces.previews.pool)

    def stop(self, wait_ms: int = 0) -> bool:
        self._token += 1
        stopped = self.compare_view.stop(wait_ms)
        return self.faces.stop(wait_ms) and stopped
