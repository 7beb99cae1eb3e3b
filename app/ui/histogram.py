"""The score histogram strip: the library's (or folder's) scores in 40 buckets, as the LAION
predictor's visualiser showed them; clicking a bucket filters the grid to its scores."""
from __future__ import annotations

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from app.storage.browse import Histogram


class ScoreHistogram(QWidget):
    bucketClicked = Signal(float, float)  # the bucket's lowest and highest score
    cleared = Signal()  # the chosen bucket clicked again

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("scoreHistogram")
        self.histogram: Histogram | None = None
        self.chosen: int | None = None
        self.setMinimumHeight(28)
        self.setMaximumHeight(28)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMouseTracking(True)
        self.setCursor(Qt.CursorShape.PointingHandCursor)

    def set_histogram(self, histogram: Histogram | None) -> None:
        self.histogram = histogram
        if histogram is None or self.chosen is not None and self.chosen >= len(histogram.counts):
            self.chosen = None
        self.setToolTip("" if histogram is None else
                        f"Scores {histogram.lo:.2f}–{histogram.edges(len(histogram.counts) - 1)[1]:.2f} "
                        f"of {sum(histogram.counts):,} photos; click a bar to show only its photos")
        self.update()

    def clear_choice(self) -> None:
        self.chosen = None
        self.update()

    def bucket_at(self, x: float) -> int | None:
        if self.histogram is None or not self.width():
            return None
        n = len(self.histogram.counts)
        return min(n - 1, max(0, int(x / self.width() * n)))

    def mousePressEvent(self, event: QMouseEvent) -> None:
        i = self.bucket_at(event.position().x())
        if i is None or event.button() != Qt.MouseButton.LeftButton:
            return super().mousePressEvent(event)
        if i == self.chosen:
            self.chosen = None
            self.cleared.emit()
        else:
            self.chosen = i
            self.bucketClicked.emit(*self.histogram.edges(i))
        self.update()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        i = self.bucket_at(event.position().x())
        if i is not None:
            lo, hi = self.histogram.edges(i)
            self.setToolTip(f"{self.histogram.counts[i]:,} photos scored {lo:.2f}–{hi:.2f}")
        super().mouseMoveEvent(event)

    def paintEvent(self, _event: QPaintEvent) -> None:
        if self.histogram is None:
            return
        counts = self.histogram.counts
        top = max(counts) or 1
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        palette = self.palette()
        bar = palette.highlight().color()
        faded = QColor(bar)
        faded.setAlpha(110)
        w = self.width() / len(counts)
        h = self.height() - 2
        for i, count in enumerate(counts):
            if not count:
                continue
            height = max(1.0, h * count / top)
            painter.fillRect(QRectF(i * w + 0.5, self.height() - height, max(1.0, w - 1), height),
                             bar if self.chosen in (None, i) else faded)
        painter.end()
