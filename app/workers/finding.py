"""Search by words and by example, the score histogram and the taste model, off the GUI thread:
one thread in a pool of its own, so the text tower (loaded on the first search) is used by one
thread at a time and a search never waits behind the grid's queries."""
from __future__ import annotations

import logging
from typing import Any, Callable

from PySide6.QtCore import QObject, Signal

from app.config.settings import Settings
from app.workers.tasks import make_pool, run_task

log = logging.getLogger(__name__)


class FindingService(QObject):
    status = Signal(str)  # a long one-time step (loading the text model), "" when it is over

    def __init__(self, engine, settings: Settings, parent: QObject | None = None):
        super().__init__(parent)
        from app.finding import Finder

        self.engine = engine
        self.pool = make_pool("finding", 1, self)
        self.finder = Finder(engine, settings)

    def set_settings(self, settings: Settings) -> None:
        """Another encoder or precision: its own text tower and embeddings, loaded when next asked."""
        from app.finding import Finder

        if (settings.encoder, settings.precision, settings.device) != (
                self.finder.settings.encoder, self.finder.settings.precision, self.finder.settings.device):
            self.finder = Finder(self.engine, settings)
        else:
            self.finder.settings = settings

    def _run(self, fn: Callable[..., Any], *args, on_done, on_error) -> None:
        run_task(self.pool, fn, *args, on_done=on_done, on_error=on_error)

    def search(self, text: str, on_done, on_error) -> None:
        finder = self.finder

        def work():
            said: list[str] = []

            def status(words: str) -> None:
                said.append(words)
                self.status.emit(words)

            try:
                return finder.search(text, on_status=status)
            finally:
                if said:  # only a load said something: the busy line may be another worker's otherwise
                    self.status.emit("")

        self._run(work, on_done=on_done, on_error=on_error)

    def similar(self, photo_id: int, on_done, on_error) -> None:
        self._run(self.finder.similar, photo_id, on_done=on_done, on_error=on_error)

    def histogram(self, query, on_done, on_error) -> None:
        from app.storage import browse

        self._run(browse.score_histogram, self.engine, query, on_done=on_done, on_error=on_error)

    def learn_taste(self, on_done, on_error) -> None:
        """Learn the taste model from the marks (and save it): its TasteModel, or NotEnoughMarks."""
        from app import finding

        self._run(finding.learn_taste, self.finder, on_done=on_done, on_error=on_error)

    def taste_ranking(self, on_done, on_error) -> None:
        """The photos by the saved taste model, most to the user's taste first (None: no model yet)."""
        from app import finding

        finder = self.finder

        def work():
            model = finding.load_taste()
            return None if model is None else finding.taste_of(finder, model)

        self._run(work, on_done=on_done, on_error=on_error)

    def load_taste(self, on_done, on_error) -> None:
        from app import finding

        self._run(finding.load_taste, on_done=on_done, on_error=on_error)
