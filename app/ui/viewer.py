"""The viewer: one photo large, with its score, capture info, size and path. Arrow keys move,
Esc returns to the grid. The image is decoded in a worker; a late result for a photo the user
has already left is dropped."""
from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt, Signal
from PySide6.QtGui import QKeyEvent, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import (QFormLayout, QFrame, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout,
                               QWidget)

from app.storage.repo import Photo
from app.ui import keys, labels
from app.ui import format as fmt
from app.workers.preview import Preview, PreviewLoader
from app.workers.tasks import on_shutdown


def preview_side(widget: QWidget) -> int:
    """The long side, in device pixels, of a preview that fills the widget's screen."""
    screen = widget.screen()
    side = 2048
    if screen is not None:
        geo = screen.availableGeometry()
        side = int(max(geo.width(), geo.height()) * screen.devicePixelRatio())
    return max(1024, side)


class ImageArea(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("viewerImage")
        self.pixmap: QPixmap | None = None
        self.note = ""
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAutoFillBackground(True)
        palette = self.palette()
        palette.setColor(QPalette.ColorRole.Window, Qt.GlobalColor.black)
        self.setPalette(palette)

    def show_pixmap(self, pixmap: QPixmap | None, note: str = "") -> None:
        self.pixmap = pixmap
        self.note = note
        self.update()

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        if self.pixmap is not None and not self.pixmap.isNull():
            ratio = self.pixmap.devicePixelRatio()
            size = QSize(int(self.pixmap.width() / ratio), int(self.pixmap.height() / ratio))
            size = size.scaled(self.size() - QSize(16, 16), Qt.AspectRatioMode.KeepAspectRatio)
            if size.width() > self.pixmap.width() / ratio:  # never upscale a preview past 100 %
                size = QSize(int(self.pixmap.width() / ratio), int(self.pixmap.height() / ratio))
            target = QRect(0, 0, size.width(), size.height())
            target.moveCenter(self.rect().center())
            painter.drawPixmap(target, self.pixmap)
        if self.note:
            painter.setPen(Qt.GlobalColor.lightGray)
            painter.drawText(self.rect().adjusted(20, 20, -20, -20), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                             self.note)


class Viewer(QWidget):
    closed = Signal()
    moveRequested = Signal(int)  # -1 previous, +1 next
    openRequested = Signal()
    revealRequested = Signal()

    def __init__(self, good: float = 5.5, cull: float = 4.0, parent=None):
        super().__init__(parent)
        self.setObjectName("viewer")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.good, self.cull = good, cull
        self.previews = PreviewLoader("preview", 2, 6, self)
        self.pool = self.previews.pool
        on_shutdown(self.stop)
        self.image = ImageArea(self)
        self.photo: Photo | None = None
        self.status = ""

        side = QFrame(self)
        side.setObjectName("viewerInfo")
        side.setFixedWidth(300)
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self.fields: dict[str, QLabel] = {}
        for name in ("Score", "Status", "Marks", "Captured", "Camera", "Lens", "Exposure", "Dimensions",
                     "File size", "Name", "Folder"):
            label = QLabel(side)
            label.setObjectName("info" + name.replace(" ", ""))
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            form.addRow(name, label)
            self.fields[name] = label
        self.score_label = QLabel(side)
        self.score_label.setObjectName("viewerScore")
        self.score_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.score_label.setMinimumHeight(56)
        buttons = QHBoxLayout()
        back = QPushButton("Back", side)
        back.setToolTip("Back to the grid (Esc)")
        back.clicked.connect(self.closed)
        open_button = QPushButton("Open", side)
        open_button.setToolTip("Open in the system viewer")
        open_button.clicked.connect(self.openRequested)
        reveal = QPushButton("Show in folder", side)
        reveal.clicked.connect(self.revealRequested)
        for b in (back, open_button, reveal):
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            buttons.addWidget(b)
        col = QVBoxLayout(side)
        col.addWidget(self.score_label)
        col.addLayout(form)
        col.addStretch(1)
        hint = labels.DimLabel(keys.hint_text("viewer"), side)
        hint.setObjectName("viewerHint")
        hint.setWordWrap(True)
        col.addWidget(hint)
        col.addLayout(buttons)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.image, 1)
        layout.addWidget(side)

    def show_photo(self, photo: Photo, status: str, thumbnail: QPixmap | None) -> None:
        old = self.photo
        # The same file as on screen: a rescan that found it edited (new size or mtime) shows it again.
        same = old is not None and (old.id, old.path, old.size, old.mtime_ns) == (photo.id, photo.path, photo.size,
                                                                                photo.mtime_ns)
        self.photo = photo
        self.status = status
        self._fill_info(photo, status)
        if same:
            return
        for name in ("Camera", "Lens", "Exposure"):
            self.fields[name].setText("—")
        if status in ("missing", "offline"):
            self.previews.forget()
            self.image.show_pixmap(thumbnail, "The file is " + ("missing" if status == "missing" else
                                                                 "offline (its folder is unreachable)"))
            return
        self.image.show_pixmap(thumbnail, "" if thumbnail is not None else "Loading…")
        self.previews.request(photo.path, preview_side(self), self._show_preview, self._failed)

    def set_thresholds(self, good: float, cull: float) -> None:
        self.good, self.cull = good, cull
        if self.photo is not None:
            self._fill_info(self.photo, self.status)

    def _show_preview(self, preview: Preview) -> None:
        pixmap = QPixmap.fromImage(preview.image)
        self.image.show_pixmap(pixmap)
        for name in ("Camera", "Lens", "Exposure"):
            self.fields[name].setText(preview.capture.get(name, "—"))

    def _failed(self, text: str) -> None:
        self.image.show_pixmap(self.image.pixmap, text)

    def _fill_info(self, photo: Photo, status: str) -> None:
        text, colour = fmt.badge(status, photo.score, self.good, self.cull)
        if photo.score is not None:
            text = f"{photo.score:.2f}"
        self.score_label.setText(text)
        self.score_label.setStyleSheet(
            f"background: {colour.name()}; color: white; font-size: 24pt; font-weight: bold; border-radius: 8px;")
        self.fields["Score"].setText(fmt.verdict(photo.score, self.good, self.cull) if photo.score is not None
                                     else "not scored yet")
        status_text = fmt.STATUS_TEXT.get(status, status)
        if photo.error:
            status_text += f": {photo.error}"
        self.fields["Status"].setText(status_text)
        marks = ("★" * photo.rating) if photo.rating else "no stars"
        if photo.flag:
            marks += " · " + ("picked" if photo.flag == "pick" else "rejected")
        self.fields["Marks"].setText(marks)
        self.fields["Captured"].setText(fmt.date_text(photo.captured_at))
        self.fields["Dimensions"].setText(f"{photo.width} × {photo.height} px" if photo.width else "—")
        self.fields["File size"].setText(fmt.size_text(photo.size))
        self.fields["Name"].setText(photo.name)
        self.fields["Folder"].setText(fmt.printable(photo.folder))

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key == Qt.Key.Key_Escape:
            self.closed.emit()
        elif key in (Qt.Key.Key_Right, Qt.Key.Key_Down, Qt.Key.Key_Space, Qt.Key.Key_PageDown):
            self.moveRequested.emit(1)
        elif key in (Qt.Key.Key_Left, Qt.Key.Key_Up, Qt.Key.Key_Backspace, Qt.Key.Key_PageUp):
            self.moveRequested.emit(-1)
        else:
            super().keyPressEvent(event)

    def stop(self, wait_ms: int = 0) -> bool:
        return self.previews.stop(wait_ms)
