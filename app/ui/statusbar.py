"""The scoring part of the status bar: done/total, photos per second, time left, the device, and
pause, resume and cancel; plus a button to the list of photos that could not be scored."""
from __future__ import annotations

import time
from collections import deque

from PySide6.QtCore import Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication, QHBoxLayout, QLabel, QProgressBar, QToolButton, QWidget

from app.ui import art, labels

RATE_WINDOW_S = 30.0


def eta_text(seconds: float) -> str:
    if seconds < 60:
        return "less than a minute left"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"about {minutes} min left"
    hours, minutes = divmod(minutes, 60)
    return f"about {hours} h {minutes:02d} min left"


class ScoringStatus(art.FollowsPalette, QWidget):
    pauseRequested = Signal()
    resumeRequested = Signal()
    cancelRequested = Signal()
    errorsRequested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("scoringStatus")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        self.label = QLabel(self)
        self.label.setObjectName("scoringLabel")
        self.bar = QProgressBar(self)
        self.bar.setObjectName("scoringProgress")
        self.bar.setFixedWidth(160)
        self.bar.setTextVisible(False)
        self.device = labels.DimLabel("", self)
        self.device.setObjectName("deviceLabel")
        self.faces = labels.DimLabel("", self)  # "Face checks off" while they are; the tooltip says why
        self.faces.setObjectName("facesOffLabel")
        self.faces.hide()
        self.pause = QToolButton(self)
        self.pause.setObjectName("pauseButton")
        self.pause.setText("Pause")
        self.pause.clicked.connect(self._toggle)
        self.cancel = QToolButton(self)
        self.cancel.setObjectName("cancelButton")
        self.cancel.setText("Stop")
        self.cancel.setToolTip("Stop scoring for now (Resume picks it up again)")
        self.cancel.clicked.connect(self.cancelRequested)
        self.errors = QToolButton(self)
        self.errors.setObjectName("errorsButton")
        self.errors.clicked.connect(self.errorsRequested)
        self._restyle()
        for w in (self.errors, self.label, self.bar, self.device, self.faces, self.pause, self.cancel):
            layout.addWidget(w)
        self._samples: deque[tuple[float, int]] = deque()
        self._paused = False
        self._stopped = False
        self._done = 0
        self._total = 0
        self.set_errors(0)
        self.set_idle("")

    def _restyle(self) -> None:
        """The "could not be scored" button in a red that reads on this palette's buttons."""
        palette = QApplication.palette(self.errors)
        self.errors.setStyleSheet(f"color: {art.error_colour(palette, QPalette.ColorRole.Button).name()};")

    # --- what the controller reports ----------------------------------------------------------

    def set_device(self, name: str) -> None:
        self.device.setText(name)
        self.device.setToolTip("The model runs on " + name if name else "")

    def set_errors(self, count: int) -> None:
        self.errors.setText(f"{count:,} could not be scored" if count != 1 else "1 could not be scored")
        self.errors.setVisible(count > 0)

    def set_loading(self, message: str = "") -> None:
        """The model is loading; `message` names a long one-time step (converting the encoder)."""
        self.label.setText(f"{message}…" if message else "Loading the model…")
        self.bar.setRange(0, 0)
        self.bar.show()
        self._buttons(True)

    def set_faces_off(self, why: str) -> None:
        """Photos are scored, but their faces are not checked: why, and what to do, in the tooltip."""
        self.faces.setText("Face checks off" if why else "")
        self.faces.setToolTip(why)
        self.faces.setVisible(bool(why))

    def set_off(self, why: str) -> None:
        self.label.setText("Scoring is off")
        self.label.setToolTip(why)
        self.bar.hide()
        self.device.setText("")
        self._buttons(False)

    def set_idle(self, text: str = "All photos scored") -> None:
        self.label.setText(text)
        self.bar.hide()
        self._samples.clear()
        self._buttons(False)

    def set_paused(self, paused: bool) -> None:
        self._paused = paused
        self.pause.setText("Resume" if paused else "Pause")
        self._render()

    def set_stopped(self) -> None:
        self._paused = True
        self._stopped = True
        self.pause.setText("Resume")
        self.pause.show()
        self.cancel.hide()
        self.bar.hide()
        self.label.setText("Scoring stopped")

    def progress(self, done: int, total: int) -> None:
        if total <= 0:
            self.set_idle("All photos scored")
            return
        self._stopped = False
        now = time.monotonic()
        if done < self._done:
            self._samples.clear()
        self._done, self._total = done, total
        self._samples.append((now, done))
        while self._samples and now - self._samples[0][0] > RATE_WINDOW_S:
            self._samples.popleft()
        self._render()

    def rate(self) -> float | None:
        if len(self._samples) < 2:
            return None
        (t0, d0), (t1, d1) = self._samples[0], self._samples[-1]
        return (d1 - d0) / (t1 - t0) if t1 > t0 and d1 > d0 else None

    def _render(self) -> None:
        if self._total <= 0 or self._stopped:
            return
        done, total = self._done, self._total
        parts = [f"Scoring {done:,} / {total:,}"]
        if self._paused:
            parts = [f"Paused at {done:,} / {total:,}"]
        else:
            rate = self.rate()
            if rate:
                parts.append(f"{rate:.1f} photos/s" if rate >= 1 else f"{60 * rate:.0f} photos/min")
                parts.append(eta_text((total - done) / rate))
        self.label.setText(" · ".join(parts))
        self.label.setToolTip("")
        self.bar.setRange(0, total)
        self.bar.setValue(done)
        self.bar.show()
        self._buttons(True)

    def _buttons(self, active: bool) -> None:
        self.pause.setVisible(active)
        self.cancel.setVisible(active and not self._paused)

    def _toggle(self) -> None:
        if self._paused:
            self.resumeRequested.emit()
        else:
            self.pauseRequested.emit()
