"""The strip above the grid's filters: the search box (words, or "more like" a photo), what the
taste model has learned, and the score histogram."""
from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QToolButton, QVBoxLayout, QWidget

from app.ui.histogram import ScoreHistogram

TYPING_PAUSE_MS = 600  # a search starts this long after the last key (Enter starts it at once)


class SearchBox(QLineEdit):
    """Words to search for; Esc clears it."""

    escaped = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self.escaped.emit()
            return
        super().keyPressEvent(event)


class SearchStrip(QWidget):
    searchRequested = Signal(str)  # words to search for
    cleared = Signal()  # no search (nor "more like"): the filters' own order again

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("searchStrip")
        self.box = SearchBox(self)
        self.box.setObjectName("searchBox")
        self.box.setPlaceholderText("Search by words: kids on the beach at sunset (Ctrl+F)")
        self.box.setClearButtonEnabled(True)
        self.box.setToolTip("Find photos by what they show; Esc clears the search")
        self.like = QLabel(self)  # "More like NAME", while the grid shows photos like one
        self.like.setObjectName("similarLabel")
        self.like.hide()
        self.like_clear = QToolButton(self)
        self.like_clear.setObjectName("similarClear")
        self.like_clear.setText("×")
        self.like_clear.setToolTip("Back to every photo (Esc)")
        self.like_clear.hide()
        self.taste = QLabel(self)
        self.taste.setObjectName("tasteLabel")
        self.histogram = ScoreHistogram(self)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.box, 2)
        row.addWidget(self.like)
        row.addWidget(self.like_clear)
        row.addWidget(self.taste, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 0)
        layout.setSpacing(2)
        layout.addLayout(row)
        layout.addWidget(self.histogram)
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(TYPING_PAUSE_MS)
        self.timer.timeout.connect(self._search)
        self.box.textEdited.connect(self._typed)
        self.box.returnPressed.connect(self._search)
        self.box.escaped.connect(self.clear)
        self.like_clear.clicked.connect(self.clear)
        self._searched = ""

    def _typed(self, text: str) -> None:
        if not text.strip():
            self.clear()
        else:
            self.timer.start()

    def _search(self) -> None:
        self.timer.stop()
        text = " ".join(self.box.text().split())
        if text and text != self._searched:
            self._searched = text
            self.show_like(None)
            self.searchRequested.emit(text)

    def show_like(self, name: str | None) -> None:
        """Say the grid shows photos like this one (None: it does not)."""
        self.like.setText(f"More like {name}" if name else "")
        self.like.setVisible(bool(name))
        self.like_clear.setVisible(bool(name))
        if name:
            self.box.clear()
            self._searched = ""

    def clear(self) -> None:
        self.timer.stop()
        had = bool(self._searched or self.box.text() or self.like.isVisible())
        self.box.clear()
        self._searched = ""
        self.show_like(None)
        if had:
            self.cleared.emit()
