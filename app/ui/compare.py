"""Side-by-side compare of two frames: one zoom and one pan shared by both panes, fit or 1:1 (one
image pixel on one screen pixel) to check focus. Full-size images are decoded in a worker; until
they arrive the thumbnails stand in, already placed where the full image will be.
"""
from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QObject, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QKeyEvent, QMouseEvent, QPainter, QPalette, QPixmap, QWheelEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from app.storage.repo import Photo
from app.ui import keys, labels
from app.ui import format as fmt
from app.workers.preview import Preview, PreviewLoader
from app.workers.tasks import on_shutdown

MAX_ZOOM = 8.0  # screen pixels per image pixel, at most
ZOOM_STEP = 1.25
CACHE = 4  # full-size images kept (a 24 MP frame is 72 MB)


class ZoomState(QObject):
    """Zoom and pan shared by the panes: fit, or `scale` logical pixels per image pixel around
    `center` (a point of the image as a fraction of its width and height)."""

    changed = Signal()

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.fit = True
        self.scale = 1.0
        self.center = QPointF(0.5, 0.5)

    def set(self, fit: bool, scale: float | None = None, center: QPointF | None = None) -> None:
        self.fit = fit
        if scale is not None:
            self.scale = scale
        if center is not None:
            self.center = QPointF(min(1.0, max(0.0, center.x())), min(1.0, max(0.0, center.y())))
        self.changed.emit()


@dataclass
class Side:
    photo: Photo
    title: str
    detail: str  # score, faults, "the pick", shown beside the title
    is_pick: bool = False


class ZoomPane(QWidget):
    """One frame of the comparison, drawn at the shared zoom."""

    def __init__(self, state: ZoomState, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.image: QImage | None = None
        self.stand_in: QPixmap | None = None
        self.full_size = QSize()
        self.note = ""
        self._drag: QPointF | None = None
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(120, 120)
        self.setAutoFillBackground(True)
        palette = self.palette()
        palette.setColor(QPalette.ColorRole.Window, QColor("#111111"))
        self.setPalette(palette)
        self.setMouseTracking(False)
        state.changed.connect(self.update)

    def show_photo(self, full_size: QSize, stand_in: QPixmap | None, note: str = "") -> None:
        self.image = None
        self.stand_in = stand_in
        self.full_size = full_size
        self.note = note
        self.update()

    def show_image(self, image: QImage) -> None:
        self.image = image
        self.full_size = image.size()
        self.note = ""
        self.update()

    def show_note(self, note: str) -> None:
        self.note = note
        self.update()

    # --- geometry -------------------------------------------------------------------------

    def _size(self) -> QSize:
        if self.full_size.isValid() and not self.full_size.isEmpty():
            return self.full_size
        if self.stand_in is not None and not self.stand_in.isNull():
            return self.stand_in.size()
        return QSize()

    def pixel_scale(self) -> float:
        """Logical pixels per image pixel that show one image pixel on one screen pixel."""
        return 1.0 / max(1.0, self.devicePixelRatioF())

    def fit_scale(self) -> float:
        size = self._size()
        if size.isEmpty():
            return 1.0
        scale = min((self.width() - 8) / size.width(), (self.height() - 8) / size.height())
        return max(0.01, min(scale, self.pixel_scale()))  # fit never enlarges past 1:1

    def current_scale(self) -> float:
        return self.fit_scale() if self.state.fit else self.state.scale

    def image_rect(self) -> QRectF:
        """Where the whole image lies in this pane's coordinates."""
        size = self._size()
        s = self.current_scale()
        center = QPointF(0.5, 0.5) if self.state.fit else self.state.center
        w, h = size.width() * s, size.height() * s
        return QRectF(self.width() / 2 - center.x() * w, self.height() / 2 - center.y() * h, w, h)

    def image_point(self, pos: QPointF) -> QPointF:
        """The point of the image under pos, as fractions of its width and height."""
        rect = self.image_rect()
        if rect.isEmpty():
            return QPointF(0.5, 0.5)
        return QPointF((pos.x() - rect.x()) / rect.width(), (pos.y() - rect.y()) / rect.height())

    # --- painting -------------------------------------------------------------------------

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        target = self.image_rect()
        source_image = self.image if self.image is not None and not self.image.isNull() else None
        if not target.isEmpty() and (source_image is not None or self.stand_in is not None):
            visible = target.intersected(QRectF(self.rect()))
            if not visible.isEmpty():
                # Only the visible part is drawn: at 1:1 a full frame is far larger than the pane.
                src_size = source_image.size() if source_image is not None else self.stand_in.size()
                fx, fy = src_size.width() / target.width(), src_size.height() / target.height()
                source = QRectF((visible.x() - target.x()) * fx, (visible.y() - target.y()) * fy,
                                visible.width() * fx, visible.height() * fy)
                # Smoothing below 1:1; crisp pixels at and above it, where focus is judged.
                smooth = self.current_scale() < self.pixel_scale() * 0.999 or source_image is None
                painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth)
                if source_image is not None:
                    painter.drawImage(visible, source_image, source)
                else:
                    painter.drawPixmap(visible, self.stand_in, source)
        if self.note:
            painter.setPen(Qt.GlobalColor.lightGray)
            painter.drawText(self.rect().adjusted(12, 12, -12, -12),
                             Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom | Qt.TextFlag.TextWordWrap,
                             self.note)

    # --- zoom and pan (shared through the state) -----------------------------------------

    def zoom_at(self, pos: QPointF, factor: float) -> None:
        old = self.current_scale()
        point = self.image_point(pos)
        new = max(min(self.fit_scale(), old) * 0.5, min(MAX_ZOOM * self.pixel_scale(), old * factor))
        size = self._size()
        if size.isEmpty():
            return
        # Keep the image point under the cursor where it is.
        dx = (pos.x() - self.width() / 2) / (new * size.width())
        dy = (pos.y() - self.height() / 2) / (new * size.height())
        self.state.set(False, new, QPointF(point.x() - dx, point.y() - dy))

    def one_to_one_at(self, pos: QPointF) -> None:
        if not self.state.fit and abs(self.state.scale - self.pixel_scale()) < 1e-6:
            self.state.set(True)
        else:
            self.state.set(False, self.pixel_scale(), self.image_point(pos))

    def pan_by(self, dx: float, dy: float) -> None:
        if self.state.fit:
            return
        size = self._size()
        if size.isEmpty():
            return
        s = self.state.scale
        c = self.state.center
        self.state.set(False, None, QPointF(c.x() - dx / (s * size.width()), c.y() - dy / (s * size.height())))

    def wheelEvent(self, event: QWheelEvent) -> None:
        steps = event.angleDelta().y() / 120
        if steps:
            self.zoom_at(event.position(), ZOOM_STEP ** steps)
        event.accept()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._drag = event.position()
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._drag is not None:
            delta = event.position() - self._drag
            self._drag = event.position()
            self.pan_by(delta.x(), delta.y())

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self._drag = None
        self.unsetCursor()
        super().mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        self.one_to_one_at(event.position())


class CompareView(QWidget):
    closed = Signal()
    pickRequested = Signal(int)  # photo id to make the group's pick
    ready = Signal()  # both full-size images are on screen

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("compareView")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.previews = PreviewLoader("compare", 2, CACHE, self)  # full size: max_side None
        self.pool = self.previews.pool
        on_shutdown(self.stop)
        self.state = ZoomState(self)
        self.state.changed.connect(self._show_zoom)
        self.panes = [ZoomPane(self.state, self), ZoomPane(self.state, self)]
        self.sides: list[Side | None] = [None, None]
        self.titles = [QLabel(self), QLabel(self)]
        self.keep = [QPushButton("Make this the pick", self), QPushButton("Make this the pick", self)]

        top = QHBoxLayout()
        top.setContentsMargins(8, 6, 8, 6)
        back = QPushButton("Back", self)
        back.setToolTip("Back to the groups (Esc)")
        back.clicked.connect(self.closed)
        self.fit_button = QPushButton("Fit", self)
        self.fit_button.setToolTip("Show the whole frames (F)")
        self.fit_button.clicked.connect(lambda: self.state.set(True))
        self.one_button = QPushButton("1:1", self)
        self.one_button.setToolTip("One image pixel on one screen pixel, to check focus (Z, or double-click a spot)")
        self.one_button.clicked.connect(lambda: self.panes[0].one_to_one_at(self._middle()))
        self.zoom_label = QLabel(self)
        self.zoom_label.setObjectName("compareZoom")
        self.zoom_label.setMinimumWidth(60)
        hint = labels.DimLabel(keys.hint_text("compare"), self)
        hint.setObjectName("compareHint")
        hint.setMinimumWidth(1)  # it gives way first when the window is narrow
        for b in (back, self.fit_button, self.one_button):
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        top.setSpacing(6)
        top.addWidget(back)
        top.addSpacing(16)
        top.addWidget(self.fit_button)
        top.addWidget(self.one_button)
        top.addSpacing(6)
        top.addWidget(self.zoom_label)
        top.addStretch(1)
        top.addWidget(hint)

        panes = QHBoxLayout()
        panes.setContentsMargins(4, 0, 4, 4)
        panes.setSpacing(6)
        for i in range(2):
            col = QVBoxLayout()
            col.setSpacing(4)
            head = QHBoxLayout()
            self.titles[i].setObjectName(f"compareTitle{i}")
            self.titles[i].setTextFormat(Qt.TextFormat.RichText)
            self.titles[i].setMinimumWidth(1)  # a long file name is cut, not a wider window
            self.keep[i].setFocusPolicy(Qt.FocusPolicy.NoFocus)
            self.keep[i].clicked.connect(lambda _=False, i=i: self._keep(i))
            head.addWidget(self.titles[i], 1)
            head.addWidget(self.keep[i])
            col.addLayout(head)
            col.addWidget(self.panes[i], 1)
            panes.addLayout(col, 1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(top)
        layout.addLayout(panes, 1)
        self._show_zoom()

    def _middle(self) -> QPointF:
        pane = self.panes[0]
        return QPointF(pane.width() / 2, pane.height() / 2)

    def show_pair(self, left: Side, right: Side, stand_ins: tuple[QPixmap | None, QPixmap | None]) -> None:
        self.state.set(True, center=QPointF(0.5, 0.5))
        for pane in self.panes:
            pane.image = None  # neither side is ready until its own image is in
        for i, (side, stand_in) in enumerate(zip((left, right), stand_ins)):
            self._show_side(i, side, stand_in)

    def update_sides(self, left: Side, right: Side) -> None:
        """New words for the same two photos (after the pick changed)."""
        for i, side in enumerate((left, right)):
            self.sides[i] = side
            self._title(i)

    def _title(self, i: int) -> None:
        side = self.sides[i]
        if side is None:
            return
        self.titles[i].setText(f"<b>{side.title}</b> &nbsp; {side.detail}")
        self.titles[i].setToolTip(fmt.printable(side.photo.path))
        self.keep[i].setEnabled(not side.is_pick)

    def _show_side(self, i: int, side: Side, stand_in: QPixmap | None) -> None:
        self.sides[i] = side
        self._title(i)
        photo = side.photo
        size = QSize(photo.width or 0, photo.height or 0)
        self.panes[i].show_photo(size, stand_in, "Decoding the full-size image…")
        self.previews.request(photo.path, None, lambda preview: self._loaded(i, preview),
                              self.panes[i].show_note, slot=i)

    def _loaded(self, i: int, preview: Preview) -> None:
        self.panes[i].show_image(preview.image)
        if self.loaded():
            self.ready.emit()

    def loaded(self) -> bool:
        """True when both panes show their full-size image."""
        return all(p.image is not None for p in self.panes)

    def _keep(self, i: int) -> None:
        side = self.sides[i]
        if side is not None:
            self.pickRequested.emit(side.photo.id)

    def _show_zoom(self) -> None:
        if self.state.fit:
            self.zoom_label.setText("Fit")
        else:
            percent = self.state.scale / self.panes[0].pixel_scale() * 100
            self.zoom_label.setText(f"{percent:.0f} %")

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        pane = self.panes[0]
        step = 0.1 * min(pane.width(), pane.height())
        if key == Qt.Key.Key_Escape:
            self.closed.emit()
        elif key == Qt.Key.Key_Z:
            pane.one_to_one_at(self._middle())
        elif key == Qt.Key.Key_F:
            self.state.set(True)
        elif key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            pane.zoom_at(self._middle(), ZOOM_STEP)
        elif key == Qt.Key.Key_Minus:
            pane.zoom_at(self._middle(), 1 / ZOOM_STEP)
        elif key == Qt.Key.Key_Left:
            pane.pan_by(step, 0)
        elif key == Qt.Key.Key_Right:
            pane.pan_by(-step, 0)
        elif key == Qt.Key.Key_Up:
            pane.pan_by(0, step)
        elif key == Qt.Key.Key_Down:
            pane.pan_by(0, -step)
        else:
            super().keyPressEvent(event)

    def stop(self, wait_ms: int = 0) -> bool:
        return self.previews.stop(wait_ms)
