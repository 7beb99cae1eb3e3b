"""Find photos by words and by example, and learn the user's taste (no Qt): the stored embeddings
of the encoder in use, SigLIP's text tower loaded on the first search, the taste model in one small
file in the user data folder. Shared by the command line and the GUI's worker."""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np
from sqlalchemy import Engine

from app.config.settings import Settings
from app.errors import AestheteError
from app.storage import vectors as stored_vectors

if TYPE_CHECKING:  # torch: only a search or a similar pays for it
    from app.core.taste import TasteModel
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
                self._tower = TextTower(source.path, int8=self._int8())
                self._tower_key = source.key
            return self._tower

    def _int8(self) -> bool:
        """The text tower runs on the CPU (one query at a time) in fp32, the exact mode, unless int8
        is asked for by name: PyTorch's dynamic int8 was slower than fp32 for one 64-token query on
        a two-core AVX2 CPU without VNNI (2.4 s against 0.68 s; tests/bench/bench_search.py)."""
        from app.core.scorer import int8_available

        return self.settings.precision == "int8" and int8_available()

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


# --- the user's taste ---------------------------------------------------------------------------

def taste_path() -> Path:
    from app.core.taste import saved_path

    return saved_path()


def load_taste(path: Path | None = None) -> TasteModel | None:
    from app.core.taste import load_saved

    return load_saved(path)


def save_taste(model: TasteModel, path: Path | None = None) -> Path:
    from app.core.taste import save

    return save(model, path)


def import_taste(source: Path) -> TasteModel:
    """Check a taste model file and make it the one in use."""
    from app.core.taste import TasteModel

    try:
        model = TasteModel.from_bytes(Path(source).read_bytes())
    except OSError as exc:
        raise AestheteError(f"cannot read {source}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise AestheteError(f"{source}: {exc}") from None
    save_taste(model)
    return model


def export_taste(dest: Path) -> TasteModel:
    model = load_taste()
    if model is None:
        raise AestheteError("no taste model has been learned yet (`aesthete taste` learns one from your marks)")
    try:
        save_taste(model, Path(dest))
    except OSError as exc:
        raise AestheteError(f"cannot write {dest}: {exc.strerror or exc}") from None
    return model


def reset_taste() -> bool:
    """Forget the learned taste; True when there was one."""
    try:
        taste_path().unlink()
        return True
    except FileNotFoundError:
        return False


def learn_taste(finder: Finder) -> TasteModel:
    """Learn the taste from the marks on the embeddings of the encoder most marked photos have,
    save it and return it; NotEnoughMarks (an AestheteError) says how many more marks it needs."""
    from app.core import taste

    rows = [r for r in stored_vectors.marks(finder.engine) if r[4] and taste.label(r[1], r[2]) is not None]
    by_encoder: dict[str, list] = {}
    for r in rows:
        by_encoder.setdefault(encoder_part(r[4]), []).append(r)
    if not by_encoder:
        raise taste.NotEnoughMarks(0, 0)
    encoder, marked = max(by_encoder.items(), key=lambda kv: len(kv[1]))
    vectors = finder.vectors(encoder)
    ids = np.asarray([r[0] for r in marked], np.int64)
    at = np.clip(np.searchsorted(vectors.ids, ids), 0, max(len(vectors) - 1, 0))
    have = (vectors.ids[at] == ids) if len(vectors) else np.zeros(len(ids), bool)
    x = vectors.matrix[at[have]].astype(np.float32)
    kept = [r for r, h in zip(marked, have) if h]
    y = np.asarray([taste.label(r[1], r[2]) for r in kept], np.float64)
    scores = np.asarray([np.nan if r[3] is None else r[3] for r in kept], np.float64)
    model = taste.learn(encoder, x, y, scores)
    save_taste(model)
    log.info("taste model learned: %s", model.summary())
    return model


def taste_of(finder: Finder, model: TasteModel) -> Ranking:
    """Every photo with an embedding of the model's encoder, the most to the user's taste first."""
    from app.core.textsearch import ranked

    vectors = finder.vectors(model.encoder_key)
    if not len(vectors):
        return Ranking(np.zeros(0, np.int64), np.zeros(0, np.float32))
    values = model.predict(vectors.matrix).astype(np.float32)
    order = ranked(values)
    return Ranking(vectors.ids[order], values[order])
