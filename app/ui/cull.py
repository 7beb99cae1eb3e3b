"""The cull view: the candidates (below the cull threshold, technically bad, or not the pick of
their group), each with its reasons, beside a large preview of the current one.

One switch per cull rule, each with how many candidates it names (on or off): the list is loaded
once under every rule, and a switch only filters it, so trying the rules costs no reload.

Review by keyboard: ↑↓ (or ←→) move, P pick, X reject, U unmark, 0-5 stars. The list stays as it
was loaded while reviewing, so a photo just picked does not jump away; "Remove rejected" moves the
rejected photos of the folder to the trash or the rejects folder, and Ctrl+Z puts them back.
"""
from __future__ import annotations

import html
import logging
from collections.abc import Iterable
from enum import IntEnum

from PySide6.QtCore import (QAbstractListModel, QModelIndex, QObject, QPersistentModelIndex, QRect, QRectF, QSize,
                            Qt, QTimer, Signal)
from PySide6.QtGui import QColor, QFont, QKeyEvent, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QDoubleSpinBox, QFrame, QHBoxLayout, QLabel,
                               QListView, QPushButton, QSplitter, QStackedWidget, QStyle, QStyledItemDelegate,
                               QStyleOptionViewItem, QVBoxLayout, QWidget)

from app import curation
from app.core import cullrules
from app.curation import CullItem
from app.storage.repo import Photo
from app.ui import art, keys, labels
from app.ui import format as fmt
from app.ui.delegate import paint_marks
from app.ui.viewer import ImageArea, preview_side
from app.workers.curation import CullResult, CurationService
from app.workers.preview import Preview, PreviewLoader
from app.workers.tasks import on_shutdown
from app.workers.thumbnails import ThumbKey, ThumbnailLoader

log = logging.getLogger(__name__)

THUMB_W, THUMB_H = 112, 84
PREVIEW_CACHE = 6


class CullRoles(IntEnum):
    Item = Qt.ItemDataRole.UserRole + 1
    Photo = Qt.ItemDataRole.UserRole + 2
    Id = Qt.ItemDataRole.UserRole + 3
    Thumbnail = Qt.ItemDataRole.UserRole + 4


class CullListModel(QAbstractListModel):
    def __init__(self, thumbnails: ThumbnailLoader | None, thumb_pixels: int = 256, parent: QObject | None = None):
        super().__init__(parent)
        self.thumbnails = thumbnails
        self.thumb_pixels = thumb_pixels
        self.items: list[CullItem] = []
        self.photos: dict[int, Photo] = {}
        self._rows: dict[int, int] = {}
        self._by_thumb: dict[ThumbKey, int] = {}
        if thumbnails is not None:
            thumbnails.ready.connect(self._thumbnail_arrived)
            thumbnails.failed.connect(self._thumbnail_arrived)

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.items)

    def flags(self, index):
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self.items) or index.column() != 0:
            return None
        item = self.items[index.row()]
        pid = item.member.row.id
        if role == Qt.ItemDataRole.DisplayRole:
            return item.member.row.name
        if role == Qt.ItemDataRole.ToolTipRole:
            return "<br>".join([f"<b>{fmt.printable(item.member.row.name)}</b>"] + list(item.reasons))
        if role == CullRoles.Item:
            return item
        if role == CullRoles.Id:
            return pid
        if role == CullRoles.Photo:
            return self.photos.get(pid)
        if role in (CullRoles.Thumbnail, Qt.ItemDataRole.DecorationRole):
            return self._thumbnail(pid)
        return None

    def id_at(self, row: int) -> int | None:
        return self.items[row].member.row.id if 0 <= row < len(self.items) else None

    def row_of(self, photo_id: int) -> int | None:
        return self._rows.get(photo_id)

    def _thumbnail(self, pid: int) -> QPixmap | None:
        photo = self.photos.get(pid)
        if photo is None or self.thumbnails is None:
            return None
        key = ThumbKey(photo.path, photo.size, photo.mtime_ns, self.thumb_pixels)
        pixmap = self.thumbnails.get(key)
        if pixmap is None:
            self._by_thumb[key] = pid
            while len(self._by_thumb) > 1024:  # rows long scrolled away
                del self._by_thumb[next(iter(self._by_thumb))]
        return pixmap

    def _thumbnail_arrived(self, key: ThumbKey, _reason: str = "") -> None:
        pid = self._by_thumb.pop(key, None)
        row = None if pid is None else self._rows.get(pid)
        if row is not None:
            index = self.index(row)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole, int(CullRoles.Thumbnail)])

    def set_items(self, items: list[CullItem], photos: dict[int, Photo]) -> None:
        """The candidates in the order curation.cull_list gives them (worst first), as the CLI lists them."""
        self.beginResetModel()
        self.items = items
        self.photos = photos
        self._rows = {it.member.row.id: r for r, it in enumerate(items)}
        self._by_thumb.clear()
        self.endResetModel()

    def photos_changed(self, fresh: dict[int, Photo]) -> list[int]:
        """Take the new marks of these photos; returns the rows that changed."""
        rows = []
        for pid, photo in fresh.items():
            row = self._rows.get(pid)
            if row is not None:
                self.photos[pid] = photo
                rows.append(row)
                index = self.index(row)
                self.dataChanged.emit(index, index)
        return rows

    def counts(self) -> tuple[int, int]:
        """Candidates marked rejected and picked or starred now."""
        rejected = sum(1 for p in self.photos.values() if p.flag == "reject")
        kept = sum(1 for p in self.photos.values() if p.flag == "pick" or p.rating)
        return rejected, kept


class CullDelegate(QStyledItemDelegate):
    def __init__(self, good: float = 5.5, cull: float = 4.0, parent=None):
        super().__init__(parent)
        self.good, self.cull = good, cull

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        return QSize(300, THUMB_H + 12)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        item: CullItem | None = index.data(CullRoles.Item)
        if item is None:
            return
        photo: Photo | None = index.data(CullRoles.Photo)
        palette = option.palette
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = option.rect
        if selected:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(palette.color(QPalette.ColorRole.Highlight))
            painter.drawRoundedRect(QRectF(rect.adjusted(2, 2, -2, -2)), 6, 6)
        area = QRect(rect.x() + 8, rect.y() + 6, THUMB_W, THUMB_H)
        flag = photo.flag if photo is not None else item.member.row.flag
        rating = photo.rating if photo is not None else item.member.row.rating
        pixmap = index.data(CullRoles.Thumbnail)
        if pixmap is not None and not pixmap.isNull():
            size = pixmap.size().scaled(area.size(), Qt.AspectRatioMode.KeepAspectRatio)
            image = QRect(0, 0, size.width(), size.height())
            image.moveCenter(area.center())
            painter.setOpacity(0.45 if flag == "reject" else 1.0)
            painter.drawPixmap(image, pixmap)
            painter.setOpacity(1.0)
        else:
            image = area.adjusted(8, 6, -8, -6)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(palette.color(QPalette.ColorRole.Mid).lighter(130))
            painter.drawRoundedRect(QRectF(image), 4, 4)
        paint_marks(painter, image, rating or 0, flag or "", 150)

        text = rect.adjusted(THUMB_W + 18, 6, -8, -6)
        colour = palette.color(QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text)
        bold = QFont(option.font)
        bold.setBold(True)
        painter.setFont(bold)
        fm = painter.fontMetrics()
        line = fm.height()
        # The score in a pill coloured as on the grid's badges, then the name.
        status = photo.status if photo is not None else "scored"
        score = photo.score if photo is not None else item.member.row.score
        badge_text, badge_colour = fmt.badge(status, score, self.good, self.cull)
        pill = QRectF(text.x(), text.y(), max(line, fm.horizontalAdvance(badge_text) + 12), line)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(badge_colour)
        painter.drawRoundedRect(pill, line / 2, line / 2)
        painter.setPen(QColor("white"))
        painter.drawText(pill, Qt.AlignmentFlag.AlignCenter, badge_text)
        painter.setPen(colour)
        name_x = int(pill.right()) + 8
        painter.drawText(QRect(name_x, text.y(), text.right() - name_x, line), Qt.AlignmentFlag.AlignLeft,
                         fm.elidedText(fmt.printable(item.member.row.name), Qt.TextElideMode.ElideMiddle,
                                       text.right() - name_x))
        painter.setFont(option.font)
        mark = {"pick": "picked", "reject": "rejected"}.get(flag or "", "")
        if rating:
            mark = (mark + " · " if mark else "") + "★" * rating
        y = text.y() + line + 4
        painter.setPen(colour if selected else art.dim(palette, QPalette.ColorRole.Base))
        fm = painter.fontMetrics()
        for text_line in wrap(fm, "; ".join(item.reasons), text.width(), 3 if not mark else 2):
            painter.drawText(QRect(text.x(), y, text.width(), line), Qt.AlignmentFlag.AlignLeft, text_line)
            y += line
        if mark:
            tint = fmt.REJECT if flag == "reject" else fmt.PICK.darker(130) if flag == "pick" else QColor("#b7791f")
            painter.setPen(colour if selected else tint)
            painter.drawText(QRect(text.x(), y, text.width(), line), Qt.AlignmentFlag.AlignLeft, mark)
        painter.restore()


def wrap(fm, text: str, width: int, lines: int) -> list[str]:
    """Text broken at spaces into at most `lines` lines of `width` pixels, the last one elided."""
    out: list[str] = []
    words = text.split(" ")
    current = ""
    while words and len(out) < lines:
        word = words[0]
        attempt = f"{current} {word}" if current else word
        if fm.horizontalAdvance(attempt) <= width or not current:
            current = attempt
            words.pop(0)
        else:
            out.append(current)
            current = ""
    if current and len(out) < lines:
        out.append(current)
    if words and out:
        out[-1] = fm.elidedText(out[-1] + " " + " ".join(words), Qt.TextElideMode.ElideRight, width)
    return [fm.elidedText(t, Qt.TextElideMode.ElideRight, width) for t in out]


class CullList(QListView):
    markRequested = Signal(str)  # P X U (when the window's shortcuts did not take the key)
    rateRequested = Signal(int)

    def __init__(self, model: CullListModel, delegate: CullDelegate, parent=None):
        super().__init__(parent)
        self.setObjectName("cullList")
        self.setModel(model)
        self.setItemDelegate(delegate)
        self.setUniformItemSizes(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        flags = {Qt.Key.Key_P: "pick", Qt.Key.Key_X: "reject", Qt.Key.Key_U: ""}
        if key in flags and not event.modifiers():
            self.markRequested.emit(flags[key])
        elif Qt.Key.Key_0 <= key <= Qt.Key.Key_5 and not event.modifiers():
            self.rateRequested.emit(int(key) - int(Qt.Key.Key_0))
        elif key in (Qt.Key.Key_Left, Qt.Key.Key_Right):
            row = self.currentIndex().row() + (1 if key == Qt.Key.Key_Right else -1)
            if 0 <= row < self.model().rowCount():
                self.setCurrentIndex(self.model().index(row, 0))
        else:
            super().keyPressEvent(event)


class CullView(QWidget):
    loaded = Signal()
    currentChanged = Signal(object)  # photo id or None
    removeRequested = Signal()
    undoRequested = Signal()
    markRequested = Signal(str)
    rateRequested = Signal(int)
    thresholdChanged = Signal(float)  # the user changed "Score below" (0: off)
    rulesChanged = Signal(list)  # the user switched a rule: the rules now on, in RULES order

    def __init__(self, service: CurationService, thumbnails, thumb_pixels: int = 256, good: float = 5.5,
                 cull: float = 4.0, parent: QWidget | None = None, rules: Iterable[str] | None = None):
        super().__init__(parent)
        self.setObjectName("cullView")
        self.service = service
        if rules is None:  # the cull_rules setting, which the service holds like the window does
            rules = getattr(service.settings, "cull_rules", cullrules.RULES)
        self.rules = self._known(rules)
        self.candidates: curation.CullList | None = None  # as loaded, under every rule
        self.shown: curation.CullList | None = None  # under the rules that are on
        self._photos: dict[int, Photo] = {}  # every loaded candidate's, shown or not
        self._waiting = 0  # photos not analysed yet when the list was loaded
        self.scoring_off = False  # and none will be until a model is set up
        self.under: str | None = None
        self.stale = True
        self.loading = False
        self._token = 0
        # Two threads: the photo asked for is not held up behind the next one decoded ahead.
        self.previews = PreviewLoader("cull-preview", 2, PREVIEW_CACHE, self)
        self.pool = self.previews.pool
        on_shutdown(self.stop)
        self.model = CullListModel(thumbnails, thumb_pixels, self)
        self.delegate = CullDelegate(good, cull, self)
        self.list = CullList(self.model, self.delegate, self)
        self.list.markRequested.connect(self.markRequested)
        self.list.rateRequested.connect(self.rateRequested)
        self.list.selectionModel().currentChanged.connect(self._current_changed)

        self.title = QLabel("Cull", self)
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.3)
        font.setBold(True)
        self.title.setFont(font)
        self.summary = QLabel(self)
        self.summary.setObjectName("cullSummary")
        self.summary.setMinimumWidth(1)  # it wraps rather than widening the window (the tooltip has it all)
        self.summary.setWordWrap(True)
        self.threshold = QDoubleSpinBox(self)
        self.threshold.setObjectName("cullThreshold")
        self.threshold.setRange(0.0, 10.0)
        self.threshold.setSingleStep(0.25)
        self.threshold.setDecimals(2)
        self.threshold.setValue(cull)
        self.threshold.setSpecialValueText("off")
        self.threshold.setToolTip("Photos scoring below this are candidates (0: off). It is the Cull below "
                                  "setting: the viewer and the grid use it too.")
        self.threshold.setKeyboardTracking(False)
        # Arrow keys belong to the list under review: the box takes them only once clicked into, so a
        # review key never moves (and saves) the threshold.
        self.threshold.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self._threshold_timer = QTimer(self)
        self._threshold_timer.setSingleShot(True)
        self._threshold_timer.setInterval(300)
        self._threshold_timer.timeout.connect(self.reload)
        self.threshold.valueChanged.connect(lambda _v: self._threshold_timer.start())
        self.threshold.valueChanged.connect(lambda _v: self._rule_labels())
        self._user_threshold = False  # the user (not the settings) moved the box since the last reload
        self.threshold.valueChanged.connect(lambda _v: setattr(self, "_user_threshold", True))
        # Told once the box settles (not per arrow step), and only for the user's own changes.
        self._threshold_timer.timeout.connect(self._threshold_settled)
        self.remove_button = QPushButton("Remove rejected…", self)
        self.remove_button.setObjectName("removeRejectedButton")
        self.remove_button.setToolTip("Move the photos marked rejected in this folder to the trash or the "
                                      "rejects folder")
        self.remove_button.clicked.connect(self.removeRequested)
        self.undo_button = QPushButton("Undo removal", self)
        self.undo_button.setObjectName("undoRemovalButton")
        self.undo_button.setToolTip("Put the last removed photos back (Ctrl+Z)")
        self.undo_button.clicked.connect(self.undoRequested)
        for b in (self.remove_button, self.undo_button):
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        header = QHBoxLayout()
        header.setContentsMargins(8, 6, 8, 6)
        header.addWidget(self.title)
        header.addSpacing(10)
        header.addWidget(self.summary, 1)
        header.addSpacing(10)
        header.addWidget(self.undo_button)
        header.addWidget(self.remove_button)
        switches = QHBoxLayout()
        switches.setContentsMargins(8, 0, 8, 6)
        switches.setSpacing(12)
        switches.addWidget(QLabel("Rules:", self))
        self.rule_switches: dict[str, QCheckBox] = {}
        for rule in cullrules.RULES:
            box = QCheckBox(rule.capitalize(), self)
            box.setObjectName(f"cullRule{rule.capitalize()}")
            box.setChecked(rule in self.rules)
            box.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the keys stay with the list under review
            box.toggled.connect(lambda on, rule=rule: self._rule_switched(rule, on))
            self.rule_switches[rule] = box
            switches.addWidget(box)
            if rule == "score":  # the score rule's own number sits beside it
                below = QHBoxLayout()
                below.setSpacing(4)
                below.addWidget(QLabel("below", self))
                below.addWidget(self.threshold)
                switches.addLayout(below)
        switches.addStretch(1)
        self._rule_labels()

        self.image = ImageArea(self)
        self.image.setObjectName("cullPreview")
        self.info = QLabel(self)
        self.info.setObjectName("cullInfo")
        self.info.setTextFormat(Qt.TextFormat.RichText)
        self.info.setWordWrap(True)
        self.info.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        hint = labels.DimLabel(keys.hint_text("cull"), self)
        hint.setObjectName("cullHint")
        info_box = QFrame(self)
        info_box.setObjectName("cullInfoBox")
        info_layout = QVBoxLayout(info_box)
        info_layout.setContentsMargins(10, 6, 10, 6)
        info_layout.addWidget(self.info)
        info_layout.addWidget(hint)
        preview = QWidget(self)
        preview_layout = QVBoxLayout(preview)
        preview_layout.setContentsMargins(0, 0, 0, 0)
        preview_layout.setSpacing(0)
        preview_layout.addWidget(self.image, 1)
        preview_layout.addWidget(info_box)

        self.empty = QLabel(self)
        self.empty.setObjectName("cullEmpty")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.splitter = QSplitter(self)
        self.splitter.addWidget(self.list)
        self.splitter.addWidget(preview)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([380, 800])
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.splitter)
        self.stack.addWidget(self.empty)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(header)
        layout.addLayout(switches)
        layout.addWidget(self.stack, 1)
        self._show_empty("Finding cull candidates…")

    # --- loading --------------------------------------------------------------------------

    def set_scope(self, under: str | None) -> None:
        if under != self.under:
            self.under = under
            self.candidates = self.shown = None
            self._photos = {}
            self.model.set_items([], {})
            self._rule_labels()
            self.stale = True

    def mark_stale(self) -> None:
        self.stale = True

    def reload_if_stale(self) -> None:
        if self.stale:
            self.reload()

    def reload(self) -> None:
        self._threshold_timer.stop()
        self.stale = False
        self.loading = True
        self._token += 1
        token, under, below = self._token, self.under, self.threshold.value()
        if not self.model.rowCount():
            self._show_empty("Finding cull candidates…")
        self.service.load_cull(under, below, lambda result: self._loaded(token, result))

    def _loaded(self, token: int, result: CullResult) -> None:
        if token != self._token or result.under != self.under or result.below != self.threshold.value():
            return  # the folder or the threshold changed meanwhile: a newer load is coming
        self.loading = False
        self._waiting = result.waiting
        self.candidates = result.cull
        self._photos = dict(result.photos)
        self._rule_labels()
        self._show_rules()
        self.loaded.emit()

    def set_scoring_off(self, off: bool) -> None:
        """Scoring went off or came back: the words for photos not analysed yet follow."""
        if off != self.scoring_off:
            self.scoring_off = off
            self._show_rules()

    def _show_rules(self) -> None:
        """The loaded candidates under the rules that are on, keeping the current photo where it stays."""
        if self.candidates is None:
            return
        keep = self.current_photo_id()
        keep_row = self.list.currentIndex().row()
        self.shown = self._with_marks(self.candidates).restrict(self.rules)
        ids = [i.member.row.id for i in self.shown.items]
        self.model.set_items(self.shown.items, {pid: self._photos[pid] for pid in ids if pid in self._photos})
        self._summary()
        if not self.shown.items:
            if self._waiting and not self.candidates.items:
                text = fmt.nothing_yet("candidates", self.scoring_off)
            elif not self.candidates.items:
                text = ("Nothing to cull here: no photo is below the threshold, technically bad, "
                        "or a lesser frame of a group.")
            else:
                off = [f"{rule.capitalize()} ({n:,})" for rule, n in self.candidates.by_rule.items()
                       if rule in cullrules.RULES and rule not in self.rules]
                text = ("Nothing to cull here under the rules that are on. Switched off: " + ", ".join(off) + ".")
            self._show_empty(text)
            self.currentChanged.emit(None)
        else:
            self.stack.setCurrentWidget(self.splitter)
            row = self.model.row_of(keep) if keep is not None else None
            if row is None:
                row = min(max(0, keep_row), self.model.rowCount() - 1)
            self.list.setCurrentIndex(self.model.index(row))
            self.list.scrollTo(self.model.index(row))

    def _with_marks(self, candidates: curation.CullList) -> curation.CullList:
        """The candidates with the user's rejects as they are now: a photo rejected since the load
        stays under any rules, as a reload would keep it (and "Remove rejected" would move it)."""
        items = []
        for i in candidates.items:
            photo = self._photos.get(i.member.row.id)
            if photo is not None and photo.flag == "reject" and cullrules.REJECTED not in i.rules:
                i = CullItem(i.member, ((cullrules.REJECTED, "rejected by you"), *i.findings))
            items.append(i)
        return curation.CullList(items, candidates.rules, candidates.below, candidates.group_of)

    # --- the rules ------------------------------------------------------------------------

    @staticmethod
    def _known(rules: Iterable[str]) -> frozenset[str]:
        return frozenset(r for r in rules if r in cullrules.RULES)

    def set_rules(self, rules: Iterable[str]) -> None:
        """The rules on by default changed (the cull_rules setting): switch to them without a reload."""
        rules = self._known(rules)
        if rules == self.rules:
            return
        self.rules = rules
        for rule, box in self.rule_switches.items():
            box.blockSignals(True)
            box.setChecked(rule in rules)
            box.blockSignals(False)
        self._show_rules()

    def _rule_switched(self, rule: str, on: bool) -> None:
        self.rules = self.rules | {rule} if on else self.rules - {rule}
        self._show_rules()
        self.rulesChanged.emit([r for r in cullrules.RULES if r in self.rules])

    def _rule_labels(self) -> None:
        """Each switch with how many candidates its rule names, whether it is on or off."""
        counts = self.candidates.by_rule if self.candidates is not None else None
        below = self.threshold.value()
        for rule, box in self.rule_switches.items():
            box.setText(rule.capitalize() if counts is None else f"{rule.capitalize()} {counts.get(rule, 0):,}")
            tip = cullrules.RULES[rule][:1].upper() + cullrules.RULES[rule][1:]
            if rule == "score":
                tip += (f" ({below:g}, the Score below box)" if below > 0 else " (off: Score below is 0)")
            box.setToolTip(tip + ". The number counts the candidates it names, whether it is on or off.")

    def _summary(self) -> None:
        rejected, kept = self.model.counts()
        parts = [fmt.plural(self.model.rowCount(), "candidate")]
        if len(self.rules) < len(cullrules.RULES):
            parts[0] += f" under {len(self.rules)} of {len(cullrules.RULES)} rules"
        lost = self.shown.scenes_lost if self.shown is not None else 0
        if lost:
            parts.append(f"every frame of {fmt.plural(lost, 'scene')} would go")
        if rejected:
            parts.append(f"{rejected:,} marked rejected")
        if kept:
            parts.append(f"{kept:,} kept")
        if self._waiting:
            parts.append(fmt.waiting_text(self._waiting, self.scoring_off))
        scope = fmt.printable(self.under) if self.under else "all photos"
        self.summary.setText(" · ".join(parts) + f" — in {scope}")
        self.summary.setToolTip(self.summary.text())

    def _show_empty(self, text: str) -> None:
        self.empty.setText(text)
        self.stack.setCurrentWidget(self.empty)

    # --- the current photo ----------------------------------------------------------------

    def current_photo_id(self) -> int | None:
        index = self.list.currentIndex()
        return self.model.id_at(index.row()) if index.isValid() else None

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        pid = self.model.id_at(current.row()) if current.isValid() else None
        self._show_current()
        self.currentChanged.emit(pid)

    def _show_current(self) -> None:
        index = self.list.currentIndex()
        item: CullItem | None = index.data(CullRoles.Item) if index.isValid() else None
        photo: Photo | None = index.data(CullRoles.Photo) if index.isValid() else None
        if item is None or photo is None:
            self.previews.forget()
            self.image.show_pixmap(None)
            self.info.setText("")
            return
        self._fill_info(item, photo)
        self._preview(photo, index.data(CullRoles.Thumbnail))
        nxt = self.model.index(index.row() + 1)
        if nxt.isValid():  # decoded ahead, so the next photo shows at once
            ahead = nxt.data(CullRoles.Photo)
            if ahead is not None and ahead.state == "present":
                self.previews.prefetch(ahead.path, preview_side(self))

    def _fill_info(self, item: CullItem, photo: Photo) -> None:
        marks = ("★" * photo.rating) if photo.rating else "no stars"
        if photo.flag:
            marks += " · " + ("picked" if photo.flag == "pick" else "<span style='color:#ef4444'>rejected</span>")
        score = f"{photo.score:.2f}" if photo.score is not None else "not scored"
        # Size is shown for the user to weigh, never a reason of its own.
        size = f" &nbsp; {photo.width} × {photo.height} px" if photo.width and photo.height else ""
        reasons = "".join(f"<li>{html.escape(r)}</li>" for r in item.reasons)
        self.info.setText(
            f"<b>{html.escape(fmt.printable(photo.name))}</b> &nbsp; score {score}{size} &nbsp; {marks}"
            f"<ul style='margin-top:2px; margin-bottom:0px'>{reasons}</ul>"
            f"<span style='color:{art.dim(self.palette()).name()}'>{html.escape(fmt.printable(photo.folder))}</span>")

    def _preview(self, photo: Photo, thumbnail: QPixmap | None) -> None:
        if photo.state != "present":
            self.previews.forget()
            self.image.show_pixmap(thumbnail, f"The file is {photo.state}")
            return
        self.image.show_pixmap(thumbnail, "" if thumbnail is not None else "Loading…")
        self.previews.request(photo.path, preview_side(self), self._show_preview, self._preview_failed)

    def _show_preview(self, preview: Preview) -> None:
        self.image.show_pixmap(QPixmap.fromImage(preview.image))

    def _preview_failed(self, text: str) -> None:
        self.image.show_pixmap(self.image.pixmap, text)

    def photos_changed(self, fresh: dict[int, Photo]) -> None:
        for pid, photo in fresh.items():  # the hidden candidates too: a switch may show them again
            if pid in self._photos:
                self._photos[pid] = photo
        rows = self.model.photos_changed(fresh)
        if not rows:
            return
        self._summary()
        current = self.list.currentIndex()
        if current.isValid() and current.row() in rows:
            item = current.data(CullRoles.Item)
            photo = current.data(CullRoles.Photo)
            if item is not None and photo is not None:
                self._fill_info(item, photo)

    def focus_view(self) -> None:
        self.list.setFocus()

    def set_thresholds(self, good: float, cull: float) -> None:
        self.delegate.good, self.delegate.cull = good, cull
        if abs(self.threshold.value() - cull) > 1e-9:
            self.threshold.setValue(cull)  # reloads through the timer
            self._user_threshold = False  # from the settings: nothing to save back
        self.list.viewport().update()

    def _threshold_settled(self) -> None:
        if self._user_threshold:
            self._user_threshold = False
            self.thresholdChanged.emit(self.threshold.value())

    @property
    def pools(self):
        return (self.pool,)

    def stop(self, wait_ms: int = 0) -> bool:
        self._token += 1
        self._threshold_timer.stop()
        return self.previews.stop(wait_ms)
