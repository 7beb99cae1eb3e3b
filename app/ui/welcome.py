"""What a first start shows: the app in one sentence and the way to add photos."""
from __future__ import annotations

import os

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget

from app.pathutil import is_under
from app.ui import art, labels


def pictures_folder() -> str | None:
    """~/Pictures (or the desktop's own pictures folder) when it exists."""
    from PySide6.QtCore import QStandardPaths

    candidates = QStandardPaths.standardLocations(QStandardPaths.StandardLocation.PicturesLocation)
    candidates.append(os.path.expanduser("~/Pictures"))
    for path in candidates:
        if path and os.path.isdir(path):
            return os.path.abspath(path)
    return None


class WelcomePage(QWidget):
    addFolder = Signal(str)  # a suggested folder
    chooseFolder = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("welcome")
        layout = QVBoxLayout(self)
        layout.addStretch(2)
        logo = QLabel(self)
        logo.setPixmap(art.icon().pixmap(96, 96))
        logo.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(logo)
        title = QLabel("<h1>Welcome to Aesthete</h1>", self)
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(title)
        text = QLabel("Add a folder of photos. Aesthete scores each one for aesthetic quality in the "
                      "background, keeps watching the folder, and helps you find your best shots.", self)
        text.setWordWrap(True)
        text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        text.setFixedWidth(520)
        text.setMinimumHeight(text.heightForWidth(520))  # wrapped text gets the lines it needs
        layout.addWidget(text, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addSpacing(16)
        self.suggested = pictures_folder()
        self.suggest = QPushButton(self)
        self.suggest.setObjectName("addPicturesButton")
        if self.suggested:
            self.suggest.setText(f"Add {self._short(self.suggested)}")
            self.suggest.clicked.connect(lambda: self.addFolder.emit(self.suggested))
            self.suggest.setDefault(True)
        else:
            self.suggest.hide()
        self.choose = QPushButton("Choose a folder…", self)
        self.choose.setObjectName("chooseFolderButton")
        self.choose.clicked.connect(self.chooseFolder)
        for button in (self.suggest, self.choose):
            button.setMinimumWidth(240)
            layout.addWidget(button, 0, Qt.AlignmentFlag.AlignHCenter)
        note = labels.DimLabel("Your photos are only read, never changed. Scores are kept in a local database.", self)
        note.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addSpacing(8)
        layout.addWidget(note)
        layout.addStretch(3)

    @staticmethod
    def _short(path: str) -> str:
        home = os.path.expanduser("~")
        return os.path.join("~", os.path.relpath(path, home)) if is_under(path, home, or_same=False) else path
