"""Labels the views share: one that cuts its text to fit (the tooltip has it whole), one in the
palette's secondary text colour."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLabel, QSizePolicy, QWidget

from app.ui import art


class ElidedLabel(QLabel):
    """Text in one line, cut where it does not fit (in the middle by default, so both ends of a
    folder stay readable); the tooltip has it whole. It gives way to the window, not the other way."""

    def __init__(self, parent: QWidget | None = None, mode: Qt.TextElideMode = Qt.TextElideMode.ElideMiddle):
        super().__init__(parent)
        self.full = ""
        self.mode = mode
        self.setMinimumWidth(1)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

    def set_full_text(self, text: str) -> None:
        self.full = text
        self.setToolTip(text)
        self._elide()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        shown = self.fontMetrics().elidedText(self.full, self.mode, max(1, self.width()))
        if shown != self.text():
            self.setText(shown)


class DimLabel(art.FollowsPalette, QLabel):
    """A label in the secondary text colour of the desktop's palette, kept when the palette changes."""

    def __init__(self, text: str = "", parent=None):
        super().__init__(text, parent)
        self._restyle()

    def _restyle(self) -> None:
        self.setStyleSheet(f"color: {art.dim(QApplication.palette(self)).name()};")
