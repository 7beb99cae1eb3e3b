"""The window's search by words, "more like this", score histogram and taste model: requests go to
the finding worker, answers come back as a ranking that the grid's query keeps (PhotoQuery.ranking),
so the score, rating, mark and folder filters still apply to them."""
from __future__ import annotations

import logging
import os

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QFileDialog, QMessageBox

from app.config import settings as settings_mod
from app.errors import AestheteError
from app.ui.searchbar import SearchStrip
from app.workers.finding import FindingService

log = logging.getLogger(__name__)

LEARN_AFTER_MARKS_MS = 2000  # marks come in runs (a row of keys): learn once they pause


class FindingPanel(QObject):
    def __init__(self, window):
        super().__init__(window)
        self.w = window
        self.service = FindingService(window.engine, window.settings, self)
        self.strip = SearchStrip(window)
        self.found: tuple[int, ...] | None = None  # the ranking of a search or of "more like this"
        self.by_taste: tuple[int, ...] | None = None  # every photo, the most to the user's taste first
        self.what = ""  # what the ranking shown is, in words
        self._token = 0
        self._histogram_token = 0
        self.learn_timer = QTimer(self)
        self.learn_timer.setSingleShot(True)
        self.learn_timer.setInterval(LEARN_AFTER_MARKS_MS)
        self.learn_timer.timeout.connect(self.learn)
        self.strip.searchRequested.connect(self.search)
        self.strip.cleared.connect(self.clear)
        self.strip.histogram.bucketClicked.connect(lambda lo, hi: window.filters.set_score_range(lo, hi))
        self.strip.histogram.cleared.connect(lambda: window.filters.set_score_range(None, None))
        self.service.status.connect(window._busy)
        window.curation.marksChanged.connect(lambda _ids: self.learn_timer.start())
        window.model.reloaded.connect(lambda *_: self.refresh_histogram())
        window.settings_ui.changes.subscribe(settings_mod.MODEL,
                                             lambda _old, new, _names: self.service.set_settings(new))
        self.strip.taste.setText("My taste: not learned yet")
        self.strip.taste.setToolTip("Mark photos (stars, picks, rejects): with 30 kept and 30 rejected, your taste "
                                    "is learned in the background and the “My taste” sort uses it")
        self.service.load_taste(on_done=lambda model: self._learned(model) if model is not None else None,
                                on_error=self._failed)

    # --- the ranking the grid shows ---------------------------------------------------------------

    def ranking(self) -> tuple[int, ...] | None:
        """What the grid's query keeps, in order: a search's (or "more like this") matches, else,
        with the "My taste" sort, every photo by taste; None: the filters' own order."""
        if self.found is not None:
            return self.found
        return self.by_taste if self.w.filters.taste_sort() else None

    def apply(self) -> None:
        w = self.w
        w.query = w.query.with_(ranking=self.ranking())
        w.filters.show_ranking(None if self.found is None else "best match first")
        w.reload()

    def filters_changed(self) -> None:
        """The filter bar changed: with "My taste" chosen, the taste ranking is fetched (once)."""
        self.w.filters.show_ranking(None if self.found is None else "best match first")
        hist = self.strip.histogram
        if hist.chosen is not None and hist.histogram is not None \
                and (self.w.query.min_score, self.w.query.max_score) != hist.histogram.edges(hist.chosen):
            hist.clear_choice()  # the score range was changed by hand: no bar is chosen now
        if self.w.filters.taste_sort() and self.by_taste is None:
            self.service.taste_ranking(on_done=self._taste_ranked, on_error=self._failed)

    def _ranked(self, token: int, ranking, what: str) -> None:
        if token != self._token or self.w.quitting:
            return  # the user searched again, or cleared it, meanwhile
        self.found = tuple(ranking.ids.tolist())
        self.what = what
        self.apply()
        self.w.statusBar().showMessage(f"{len(self.found):,} photos, {what}", 8000)

    def _failed(self, exc: BaseException) -> None:
        if self.w.quitting:
            return
        self.w.show_problem(str(exc) if isinstance(exc, AestheteError) else f"the search did not work: {exc}")

    # --- search by words, and by example ------------------------------------------------------------

    def focus_search(self) -> None:
        if self.w.current_view() != "library" or self.w.pages.currentWidget() is not self.w.grid_page:
            self.w.show_view("library")
        self.strip.box.setFocus()
        self.strip.box.selectAll()

    def search(self, text: str) -> None:
        self._token += 1
        token = self._token
        self.service.search(text, on_done=lambda r: self._ranked(token, r, f"best match for “{text}” first"),
                            on_error=lambda exc: self._search_failed(token, exc))

    def _search_failed(self, token: int, exc: BaseException) -> None:
        if token == self._token:
            self._failed(exc)

    def more_like_this(self) -> None:
        ids = self.w.selected_ids()
        if not ids:
            self.w.statusBar().showMessage("Select a photo to find more like it", 5000)
            return
        row = self.w.model.row_of(ids[0])
        photo = self.w.model.photo_at(row) if row is not None else None
        name = photo.name if photo is not None else "this photo"
        self._token += 1
        token = self._token
        self.strip.show_like(name)
        if self.w.pages.currentWidget() is self.w.viewer:
            self.w.navigation.close_viewer()
        self.service.similar(ids[0], on_done=lambda r: self._ranked(token, r, f"the nearest to {name} first"),
                             on_error=lambda exc: self._search_failed(token, exc))

    def clear(self) -> None:
        self._token += 1
        if self.found is not None:
            self.found = None
            self.what = ""
            self.apply()

    # --- the histogram ---------------------------------------------------------------------------

    def refresh_histogram(self) -> None:
        if self.w.quitting:
            return
        self._histogram_token += 1
        token = self._histogram_token
        self.service.histogram(self.w.query, on_done=lambda h: self._show_histogram(token, h), on_error=self._failed)

    def _show_histogram(self, token: int, histogram) -> None:
        if token == self._histogram_token and not self.w.quitting:
            self.strip.histogram.set_histogram(histogram)

    # --- the taste model --------------------------------------------------------------------------

    def learn(self) -> None:
        if not self.w.quitting:
            self.service.learn_taste(on_done=self._learned, on_error=self._not_learned)

    def _learned(self, model) -> None:
        if self.w.quitting:
            return
        self.strip.taste.setText(model.summary().capitalize())
        self.strip.taste.setToolTip("Learned from your stars, picks and rejects; the “My taste” sort uses it")
        self.by_taste = None
        if self.w.filters.taste_sort():
            self.service.taste_ranking(on_done=self._taste_ranked, on_error=self._failed)

    def _not_learned(self, exc: BaseException) -> None:
        if self.w.quitting:
            return
        from app.core.taste import NotEnoughMarks

        if isinstance(exc, NotEnoughMarks):
            self.strip.taste.setText(f"My taste: {exc}")
        else:
            self._failed(exc)

    def _taste_ranked(self, ranking) -> None:
        if self.w.quitting:
            return
        if ranking is None:
            self.w.statusBar().showMessage("No taste model yet: mark photos (stars, picks, rejects) to teach it", 8000)
            self.learn()
            return
        self.by_taste = tuple(ranking.ids.tolist())
        if self.w.filters.taste_sort():
            self.apply()

    def export_taste(self) -> None:
        from app import finding

        dest, _ = QFileDialog.getSaveFileName(self.w, "Export your taste model", os.path.expanduser("~/taste.npz"),
                                              "Taste model (*.npz)")
        if dest:
            self._file_step(finding.export_taste, dest, f"Your taste model was written to {dest}")

    def import_taste(self) -> None:
        from app import finding

        source, _ = QFileDialog.getOpenFileName(self.w, "Import a taste model", os.path.expanduser("~"),
                                                "Taste model (*.npz)")
        if source:
            self._file_step(finding.import_taste, source, "The imported taste model is in use", learned=True)

    def reset_taste(self) -> None:
        from app import finding

        if QMessageBox.question(self.w, "Forget your taste", "Forget the taste model learned from your marks? "
                                "It is learned again when you next mark photos.") \
                == QMessageBox.StandardButton.Yes:
            finding.reset_taste()
            self.by_taste = None
            self.strip.taste.setText("My taste: forgotten; it is learned again from your next marks")
            if self.w.filters.taste_sort():
                self.apply()

    def _file_step(self, fn, path: str, said: str, learned: bool = False) -> None:
        try:
            model = fn(path)
        except AestheteError as exc:
            QMessageBox.warning(self.w, "Taste model", str(exc))
            return
        self.w.statusBar().showMessage(said, 8000)
        if learned:
            self._learned(model)
