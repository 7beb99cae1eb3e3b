"""The banner shown above the grid when scoring is off: why, and what to do about it.

It never blocks: the library can be browsed while it is shown. It offers to download the weights
(with progress, cancellable) or to choose a local encoder folder and head file.
"""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (QApplication, QFrame, QHBoxLayout, QLabel, QProgressBar, QPushButton, QToolButton,
                               QVBoxLayout)

from app.ui import art
from app.workers.download import download_size_text


class ModelBanner(art.FollowsPalette, QFrame):
    downloadRequested = Signal()
    chooseRequested = Signal()
    cancelRequested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("modelBanner")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self._restyle()
        outer = QVBoxLayout(self)
        outer.setContentsMargins(10, 8, 10, 8)
        row = QHBoxLayout()
        self.title = QLabel("<b>Scoring is off.</b>", self)
        self.title.setWordWrap(True)  # the window may be narrower than the sentence
        self.message = QLabel(self)
        self.message.setObjectName("bannerMessage")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        text = QVBoxLayout()
        text.addWidget(self.title)
        text.addWidget(self.message)
        row.addLayout(text, 1)
        self.download = QPushButton("Download the model", self)
        self.download.setObjectName("downloadButton")
        self.download.setToolTip(f"{download_size_text()[:1].upper()}{download_size_text()[1:]} from Hugging Face and GitHub")
        self.download.clicked.connect(self.downloadRequested)
        self.choose = QPushButton("Choose model files…", self)
        self.choose.setObjectName("chooseButton")
        self.choose.clicked.connect(self.chooseRequested)
        self.stop = QPushButton("Cancel", self)
        self.stop.setObjectName("cancelDownloadButton")
        self.stop.clicked.connect(self.cancelRequested)
        self.close_button = QToolButton(self)
        self.close_button.setText("✕")
        self.close_button.setToolTip("Hide (scoring stays off)")
        self.close_button.setAutoRaise(True)
        self.close_button.clicked.connect(self.hide)
        for w in (self.download, self.choose, self.stop, self.close_button):
            row.addWidget(w, 0, Qt.AlignmentFlag.AlignTop)
        outer.addLayout(row)
        self.progress = QProgressBar(self)
        self.progress.setObjectName("downloadProgress")
        self.progress.setFormat("%p%")
        outer.addWidget(self.progress)
        self.show_problem("")
        self.hide()

    def _restyle(self) -> None:
        """A panel tinted amber from the desktop's own window colour, with its text colour: light on
        a light desktop, dark on a dark one."""
        palette = QApplication.palette(self)
        window = palette.color(QPalette.ColorRole.Window)
        text = palette.color(QPalette.ColorRole.WindowText)
        background = art.blend(window, art.AMBER, 0.28 if art.is_dark(palette) else 0.22)
        if art.contrast(background, text) < 4.5:  # a palette whose text barely reads on its window
            text = art.blend(text, QColor("white") if background.lightness() < 128 else QColor("black"), 0.6)
        border = art.blend(window, art.AMBER, 0.7)
        self.setStyleSheet(f"#modelBanner {{ background: {background.name()}; border: 1px solid {border.name()}; "
                           f"border-radius: 6px; }} #modelBanner QLabel {{ color: {text.name()}; }}")

    def show_problem(self, why: str) -> None:
        """Scoring is off for this reason; offer the two ways out."""
        self.title.setText("<b>Scoring is off.</b> You can browse your photos; scores appear once a model is set up.")
        self.message.setText(why)
        self.download.show()
        self.choose.show()
        self.download.setEnabled(True)
        self.stop.hide()
        self.progress.hide()
        self.show()

    def show_downloading(self, what: str, done: float, total: float) -> None:
        self.title.setText(f"<b>Downloading the model</b> ({what})…")
        mb = done / 1e6
        if total > 0:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * done / total))
            self.progress.setFormat(f"{mb:,.0f} of {total / 1e6:,.0f} MB")
        else:
            self.progress.setRange(0, 0)
            self.progress.setFormat(f"{mb:,.0f} MB")
        self.message.setText("Scoring starts when the download is complete. You can keep working.")
        self.download.hide()
        self.choose.hide()
        self.stop.show()
        self.progress.show()
        self.show()
