"""The bar above the grid: sort order and filters; it emits the PhotoQuery they make."""
from __future__ import annotations

import math

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QHBoxLayout, QLabel, QToolButton, QWidget

from app.storage.browse import PhotoQuery

SORTS = [("Score", "score"), ("Capture date", "date"), ("Name", "name"), ("File size", "size"),
         ("My taste", "taste")]  # taste: the learned taste model's ranking (app.ui.window_finding)
EYES_CLOSED = "eyes closed"  # not a status: a filter on the faces found (PhotoQuery.eyes_closed)
SHOW = [("All photos", None), ("Scored", "scored"), ("Not scored yet", "unscored"), ("Failed", "failed"),
        ("Eyes closed", EYES_CLOSED)]
MARKS = [("Any mark", None), ("Picks", "pick"), ("Rejects", "reject"), ("Hide rejects", "unrejected")]
# Whose score the grid shows, sorts and filters by; or the second look: the photos the two models rank far apart.
# It labels the score range beside it, in place of a "Score" label (the bar must fit half a screen).
MODELS = [("V2.5 score", "v2.5"), ("LAION V2 score", "laion-v2"), ("Second look", "second look")]
RATINGS = [("Any rating", 0)] + [("★" * n + " or more" if n < 5 else "★★★★★", n) for n in range(1, 6)]
COMBO_MIN_WIDTH = 60  # in a narrow window the combo boxes shorten their text, so the window can be half a screen


class FilterBar(QWidget):
    queryChanged = Signal(object)  # PhotoQuery, without the folder (the sidebar owns it)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("filterBar")
        self._building = True
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.setSpacing(6)

        layout.addWidget(QLabel("Sort"))
        self.sort = self._combo("sortCombo", SORTS)
        layout.addWidget(self.sort)
        self.order = QToolButton(self)
        self.order.setObjectName("orderButton")
        self.order.setCheckable(True)
        self.order.setToolTip("Reverse the order")
        self.order.toggled.connect(self._order_text)
        self.order.toggled.connect(self._changed)
        layout.addWidget(self.order)
        layout.addSpacing(6)

        self.show_combo = self._combo("showCombo", SHOW)
        layout.addWidget(self.show_combo)
        self.marks = self._combo("marksCombo", MARKS)
        layout.addWidget(self.marks)
        self.rating = self._combo("ratingCombo", RATINGS)
        layout.addWidget(self.rating)
        layout.addSpacing(6)

        self.model = self._combo("modelCombo", MODELS)
        self.model.setToolTip("Whose score the grid shows, sorts and filters by: the Aesthetic Predictor V2.5 "
                              "or the LAION aesthetic predictor V2 (`aesthete scan --model laion-v2` adds it). "
                              "Second look: only the photos the two models rank far apart, most disagreement "
                              "first, the ones most worth your eye before a cull")
        self.model.setMinimumWidth(50)
        layout.addWidget(self.model)
        self.min_score = self._spin("minScore", "min")
        self.max_score = self._spin("maxScore", "max")
        layout.addWidget(self.min_score)
        layout.addWidget(QLabel("–"))
        layout.addWidget(self.max_score)
        layout.addStretch(1)
        self._order_text(False)
        self._building = False

    def _combo(self, name: str, entries) -> QComboBox:
        combo = QComboBox(self)
        combo.setObjectName(name)
        for text, value in entries:
            combo.addItem(text, value)
        combo.setMinimumWidth(COMBO_MIN_WIDTH)
        combo.currentIndexChanged.connect(self._changed)
        combo.currentIndexChanged.connect(lambda _i: self._order_text(self.order.isChecked()))
        return combo

    def _spin(self, name: str, special: str) -> QDoubleSpinBox:
        spin = QDoubleSpinBox(self)
        spin.setObjectName(name)
        spin.setRange(-0.1, 10.0)
        spin.setSingleStep(0.5)
        spin.setDecimals(2)  # a histogram bar's bounds
        spin.setSpecialValueText(special)  # shown at the minimum: no bound
        spin.setValue(-0.1)
        spin.setKeyboardTracking(False)
        spin.setFixedWidth(72)
        spin.valueChanged.connect(self._changed)
        return spin

    def _natural_descending(self) -> bool:
        return self.sort.currentData() != "name"

    def taste_sort(self) -> bool:
        """The "My taste" sort: the window orders by the taste model (the query sorts by score beneath)."""
        return self.sort.currentData() == "taste"

    def show_ranking(self, words: str | None) -> None:
        """A search's order stands in for the sort (words: "best match first"); None: the sort's own."""
        self.order.setEnabled(words is None)
        if words is None:
            self._order_text(self.order.isChecked())
        else:
            self.order.setText("↓ " + words)

    def set_score_range(self, lo: float | None, hi: float | None) -> None:
        """Filter to scores from lo to hi (None: no bound), as one change."""
        self._building = True
        # The boxes hold two decimals: a finer bound is rounded outwards, so no photo inside it is left out
        # (a histogram bar's edges have two decimals already; the 1e-6 keeps 5.05 from flooring to 5.04).
        self.min_score.setValue(-0.1 if lo is None else math.floor(lo * 100 + 1e-6) / 100)
        self.max_score.setValue(-0.1 if hi is None else math.ceil(hi * 100 - 1e-6) / 100)
        self._building = False
        self._changed()

    def _order_text(self, reversed_: bool) -> None:
        if not self.order.isEnabled():
            return  # a search's order is shown (show_ranking)
        descending = self._natural_descending() != reversed_
        sort = self.sort.currentData()
        words = {"score": ("best first", "worst first"), "date": ("newest first", "oldest first"),
                 "name": ("Z–A", "A–Z"), "size": ("largest first", "smallest first"),
                 "taste": ("most to my taste first", "most to my taste first")}[sort]
        self.order.setText(("↓ " if descending else "↑ ") + (words[0] if descending else words[1]))

    def query(self, base: PhotoQuery | None = None) -> PhotoQuery:
        base = base or PhotoQuery()
        reversed_ = self.order.isChecked()
        lo = self.min_score.value()
        hi = self.max_score.value()
        show = self.show_combo.currentData()
        return base.with_(
            sort="score" if self.taste_sort() else self.sort.currentData(),
            descending=self._natural_descending() != reversed_,
            status=None if show == EYES_CLOSED else show,
            eyes_closed=show == EYES_CLOSED,
            flag=self.marks.currentData(),
            min_rating=self.rating.currentData() or 0,
            min_score=None if lo < 0 else lo,
            max_score=None if hi < 0 else hi,
            model="laion-v2" if self.model.currentData() == "laion-v2" else "v2.5",
            second_look=self.model.currentData() == "second look",
        )

    def set_sort(self, sort: str, reverse: bool = False) -> None:
        self.sort.setCurrentIndex(self.sort.findData(sort))
        self.order.setChecked(reverse)

    def set_model(self, model: str, announce: bool = False) -> None:
        """Whose score the grid shows: the `model` setting's, at start and when it changes."""
        index = self.model.findData(model)
        if index < 0 or index == self.model.currentIndex():
            return
        building, self._building = self._building, not announce
        self.model.setCurrentIndex(index)
        self._building = building

    def set_status(self, status: str | None) -> None:
        self.show_combo.setCurrentIndex(max(0, self.show_combo.findData(status)))

    def _changed(self, *_args) -> None:
        if not self._building:
            self.queryChanged.emit(self.query())

