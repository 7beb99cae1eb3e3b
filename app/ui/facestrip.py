"""The faces of a group's frames side by side, one column per frame and one row per person, all at one
zoom, so a photographer checks eyes and focus at a glance (what the paid culling tools show). Shown
under Best shots for the focused group, and under the compare for its two frames.

Each frame is decoded in a worker (the one preview loader) at the size where its faces fill a cell;
the faces are cut from it in the GUI thread, a few small copies.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from PySide6.QtCore import QPoint, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QImage, QMouseEvent, QPainter, QPalette, QPen
from PySide6.QtWidgets import QFrame, QScrollArea, QWidget

from app.core.bestpick import FaceInFrame, Lineup
from app.curation import GroupView
from app.ui import art
from app.ui import format as fmt
from app.workers.preview import Preview, PreviewLoader
from app.workers.tasks import on_shutdown

CELL = 112  # px of one face (logical pixels)
PAD = 1.7  # a face's cell shows this many times the largest face's size: the head and a margin
GAP = 8
CAPTION = 18  # the line under a face: "eyes closed", "soft"
ROWS_SHOWN = 3  # more people scroll
MAX_DECODE = 6000  # a frame is decoded at most this large on its long side (faces smaller than a cell stay small)
SOFT = QColor("#c8553d")


@dataclass(frozen=True)
class StripFrame:
    photo_id: int
    path: str
    title: str
    is_pick: bool
    faces: tuple[FaceInFrame | None, ...]  # one per person of the lineup
    aspect: float  # width / height, for the faces' size in pixels


def caption(face: FaceInFrame | None) -> str:
    if face is None:
        return "not found"
    words = []
    if face.closed:
        words.append("eyes closed")
    if face.soft:
        words.append("soft")
    return " · ".join(words)


def zoom_share(frames: list[StripFrame]) -> float:
    """The largest face's side as a share of its frame's long side: every cell shows PAD times that
    share of its frame, so the same person is the same size in every column (one zoom for all)."""
    largest = 0.0
    for fr in frames:
        for face in fr.faces:
            if face is None:
                continue
            f = face.face
            # A box is in fractions of width and height; its side in units of the long side:
            w, h = (f.w, f.h / fr.aspect) if fr.aspect >= 1 else (f.w * fr.aspect, f.h)
            largest = max(largest, math.sqrt(w * h))
    return largest or 0.1


class FaceGrid(QWidget):
    """The painted grid of faces; clicking a column asks for that frame."""

    frameClicked = Signal(int)  # photo id

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("faceGrid")
        self.frames: list[StripFrame] = []
        self.people = 0
        self.current: int | None = None
        self.crops: dict[int, list[QImage | None]] = {}  # photo id -> each person's face, once decoded
        self.failed: dict[int, str] = {}  # photo id -> why its frame cannot be shown

    @property
    def header(self) -> int:
        return self.fontMetrics().height() + 6

    def column_width(self) -> int:
        return CELL + GAP

    def row_height(self) -> int:
        return CELL + CAPTION

    def sizeHint(self) -> QSize:
        return QSize(GAP + len(self.frames) * self.column_width(), self.header + self.people * self.row_height() + 4)

    def minimumSizeHint(self) -> QSize:
        return self.sizeHint()

    def cell_rect(self, column: int, person: int) -> QRect:
        return QRect(GAP + column * self.column_width(), self.header + person * self.row_height(), CELL, CELL)

    def column_at(self, pos: QPoint) -> int | None:
        column = (pos.x() - GAP // 2) // self.column_width()
        return column if 0 <= column < len(self.frames) else None

    def mousePressEvent(self, event: QMouseEvent) -> None:
        column = self.column_at(event.position().toPoint())
        if column is not None and event.button() == Qt.MouseButton.LeftButton:
            self.frameClicked.emit(self.frames[column].photo_id)
        super().mousePressEvent(event)

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        palette = self.palette()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        small = QFont(self.font())
        small.setPointSizeF(max(7.0, small.pointSizeF() * 0.9))
        for c, fr in enumerate(self.frames):
            left = GAP + c * self.column_width()
            if fr.photo_id == self.current:
                band = QColor(palette.color(QPalette.ColorRole.Highlight))
                band.setAlpha(60)
                painter.fillRect(QRect(left - GAP // 2, 0, self.column_width(), self.height()), band)
            title = QRect(left, 0, CELL, self.header)
            painter.setFont(small)
            text = ("✓ " if fr.is_pick else "") + fr.title
            painter.setPen(fmt.PICK if fr.is_pick else palette.color(QPalette.ColorRole.Text))
            painter.drawText(title, Qt.AlignmentFlag.AlignCenter,
                             painter.fontMetrics().elidedText(text, Qt.TextElideMode.ElideMiddle, CELL))
            crops = self.crops.get(fr.photo_id)
            for p in range(self.people):
                self._cell(painter, palette, c, p, fr.faces[p] if p < len(fr.faces) else None,
                           crops[p] if crops and p < len(crops) else None, fr.photo_id)
        painter.end()

    def _cell(self, painter: QPainter, palette: QPalette, column: int, person: int, face: FaceInFrame | None,
              crop: QImage | None, photo_id: int) -> None:
        rect = self.cell_rect(column, person)
        if face is not None and crop is not None:
            painter.drawImage(QRectF(rect), crop)
        else:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(art.plate(palette))
            painter.drawRoundedRect(QRectF(rect), 4, 4)
            if face is None or photo_id in self.failed:
                painter.setPen(art.dim(palette))
                painter.drawText(rect, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                                 "no face found" if face is None else "cannot show")
        if face is not None and (face.closed or face.soft):
            painter.setPen(QPen(fmt.EYES_CLOSED if face.closed else SOFT, 3))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(QRectF(rect).adjusted(1.5, 1.5, -1.5, -1.5), 4, 4)
        words = caption(face) if face is not None else ""
        if words:
            painter.setPen(fmt.EYES_CLOSED if face.closed else SOFT)
            painter.drawText(QRect(rect.left(), rect.bottom() + 1, CELL, CAPTION), Qt.AlignmentFlag.AlignCenter,
                             painter.fontMetrics().elidedText(words, Qt.TextElideMode.ElideRight, CELL))


class FaceStrip(QScrollArea):
    """The faces of one group's frames (or of the two compared), side by side at one zoom; hidden where
    no frame shows a face."""

    frameClicked = Signal(int)  # photo id
    facesShown = Signal()  # every frame's faces are cut (or failed): for tests and screenshots

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("faceStrip")
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setWidgetResizable(False)
        self.grid = FaceGrid(self)
        self.grid.frameClicked.connect(self.frameClicked)
        self.setWidget(self.grid)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.previews = PreviewLoader("faces", 2, 6, self)
        on_shutdown(self.stop)
        self._shown: tuple = ()
        self.hide()

    def show_group(self, group: GroupView | None, current: int | None, only: tuple[int, ...] | None = None) -> None:
        """The group's frames (or only those ids, in that order) with `current` highlighted."""
        lineup: Lineup | None = group.lineup if group is not None else None
        if group is None or lineup is None:
            self._shown = ()
            self.previews.forget()
            self.hide()
            return
        members = {m.row.id: m for m in group.members}
        order = [pid for pid in (only or [m.row.id for m in group.members]) if pid in members]
        frames = []
        for pid in order:
            row = members[pid].row
            aspect = (row.width / row.height) if row.width and row.height else 4 / 3
            frames.append(StripFrame(pid, row.path, fmt.printable(row.name), pid == group.pick_id,
                                     lineup.frames.get(pid, ()), aspect))
        share = zoom_share(frames)
        key = (tuple(frames), share)
        self.grid.current = current
        if key != self._shown:
            self._shown = key
            self.previews.forget()
            self.grid.frames, self.grid.people = frames, lineup.people
            self.grid.crops, self.grid.failed = {}, {}
            self.grid.resize(self.grid.sizeHint())
            self._load(frames, share)
        rows = min(lineup.people, ROWS_SHOWN)
        bar = self.horizontalScrollBar().sizeHint().height()
        self.setFixedHeight(self.grid.header + rows * self.grid.row_height() + bar + 6)
        self.show()
        self.grid.update()
        column = next((i for i, fr in enumerate(frames) if fr.photo_id == current), None)
        if column is not None:
            self.ensureVisible(GAP + column * self.grid.column_width() + CELL // 2, 0, CELL, 0)

    def _load(self, frames: list[StripFrame], share: float) -> None:
        ratio = self.devicePixelRatioF()
        # The long side at which the largest face's cell is CELL pixels across, on this screen.
        side = min(MAX_DECODE, math.ceil(CELL * ratio / (PAD * share) / 256) * 256)
        for fr in frames:
            self.previews.request(fr.path, side, lambda p, fr=fr: self._cut(fr, p, share, ratio),
                                  lambda why, fr=fr: self._failed(fr, why), slot=fr.photo_id)

    def _cut(self, fr: StripFrame, preview: Preview, share: float, ratio: float) -> None:
        image = preview.image
        span = PAD * share * max(image.width(), image.height())  # the cell's side in this image's pixels
        crops: list[QImage | None] = []
        for face in fr.faces:
            if face is None:
                crops.append(None)
                continue
            f = face.face
            cx, cy = (f.x + f.w / 2) * image.width(), (f.y + f.h / 2) * image.height()
            box = QRect(round(cx - span / 2), round(cy - span / 2), max(1, round(span)), max(1, round(span)))
            crop = image.copy(box).scaled(round(CELL * ratio), round(CELL * ratio), Qt.AspectRatioMode.IgnoreAspectRatio,
                                          Qt.TransformationMode.SmoothTransformation)
            crop.setDevicePixelRatio(ratio)
            crops.append(crop)
        self.grid.crops[fr.photo_id] = crops
        self._arrived()

    def _failed(self, fr: StripFrame, why: str) -> None:
        self.grid.failed[fr.photo_id] = why
        self._arrived()

    def _arrived(self) -> None:
        self.grid.update()
        if all(fr.photo_id in self.grid.crops or fr.photo_id in self.grid.failed for fr in self.grid.frames):
            self.facesShown.emit()

    def stop(self, wait_ms: int = 0) -> bool:
        return self.previews.stop(wait_ms)
