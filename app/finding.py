"""Find photos by words and by example (no Qt): the stored embeddings of the encoder in use, and
SigLIP's text tower loaded on the first search. Shared by the command line and the GUI's worker."""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import numpy as np
from sqlalchemy import Engine

from app.config.settings import Settings
from app.errors import AestheteError
from app.storage import vectors as stored_vectors

if TYPE_CHECKING:  # torch: only a search or a similar pays for it
    from app.core.textsearch import TextTower, Vectors

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Ranking:
    """Photo ids, best match first, and each one's match: SigLIP's logit for a search, the cosine
    of the embeddings for similar photos."""

    ids: np.ndarray
    matches: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    def match_of(self) -> dict[int, float]:
        return dict(zip(self.ids.tolist(), self.matches.tolist()))


def encoder_part(model_key: str) -> str:
    """The encoder's key within a model key ("<encoder>+head:<sha>")."""
    return model_key.rsplit("+head:", 1)[0]


class Finder:
    """Holds the library's embeddings of one encoder (read again when they change) and the text
    tower (loaded on the first search). Call from one thread at a time."""

    def __init__(self, engine: Engine, settings: Settings, allow_download: bool = False):
        self.engine = engine
        self.settings = settings
        self.allow_download = allow_download
        self._vectors: dict[str, tuple[tuple[int, int], Vectors]] = {}
        self._tower: TextTower | None = None
        self._tower_key: str | None = None
        self._lock = threading.Lock()

    def vectors(self, encoder_key: str) -> Vectors:
        from app.core.textsearch import Vectors

        stamp = stored_vectors.stamp(self.engine)
        cached = self._vectors.get(encoder_key)
        if cached is None or cached[0] != stamp:
            ids, matrix = stored_vectors.load(self.engine, encoder_key)
            self._vectors = {encoder_key: (stamp, Vectors(ids, matrix))}  # one encoder's at a time
        return self._vectors[encoder_key][1]

    def text_tower(self, on_status: Callable[[str], None] | None = None) -> TextTower:
        """SigLIP's text tower of the encoder setting (ModelMissingError when that model has none)."""
        with self._lock:
            if self._tower is None:
                from app.core import weights
                from app.core.textsearch import TextTower

                source = weights.resolve_text_tower(self.settings.encoder, self.allow_download)
                if on_status:
                    on_status("Loading the text model for search (once per session)")
                self._tower = TextTower(source.path)
                self._tower_key = source.key
            return self._tower

    def search(self, text: str, on_status: Callable[[str], None] | None = None) -> Ranking:
        """Every photo with an embedding of this encoder, best match for the text first."""
        from app.core.textsearch import cosines, ranked

        text = " ".join(text.split())
        if not text:
            raise AestheteError("nothing to search for: give some words")
        tower = self.text_tower(on_status)
        query = tower.encode([text])[0]
        vectors = self.vectors(self._tower_key)
        matches = tower.matches(cosines(vectors, query)).astype(np.float32)
        order = ranked(matches)
        return Ranking(vectors.ids[order], matches[order])

    def similar(self, photo_id: int) -> Ranking:
        """Every photo with an embedding of the same encoder, nearest first, the photo itself first."""
        from app.core.textsearch import cosines, ranked

        key = stored_vectors.model_key_of(self.engine, photo_id)
        if key is None:
            raise AestheteError("this photo has no embedding yet: it is found by example once it is scored")
        vectors = self.vectors(encoder_part(key))
        at = int(np.searchsorted(vectors.ids, photo_id))
        if at >= len(vectors) or vectors.ids[at] != photo_id:
            raise AestheteError("this photo is no longer in the library")
        cos = cosines(vectors, vectors.matrix[at].astype(np.float32))
        order = ranked(np.where(np.arange(len(cos)) == at, np.inf, cos))  # itself first, even beside a copy
        return Ranking(vectors.ids[order], cos[order])
