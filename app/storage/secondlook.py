"""Each photo's score by every model, and where two models disagree: the photos whose V2.5 and
LAION V2 scores rank far apart in the library, the ones most worth a person's eye before a cull.

Ranks, not raw values, are compared: the two models' scales differ (V2.5 centres near 5.5 with a
narrow spread, LAION V2 lower and wider), so a raw gap says more about the scales than the photo.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np
from sqlalchemy import Engine, select

from app.config.models import DEFAULT_MODEL, LAION_V2, model_of_key
from app.storage.db import reading
from app.storage.query import IN_LIBRARY, under_folder
from app.storage.schema import photos, scores

# Photos whose two ranks lie at least this far apart (0.3: 30 in every 100 photos of the library
# between them) are the "second look" filter's; the CLI takes any gap with --min-gap.
SECOND_LOOK_GAP = 0.3
CHUNK = 500


def model_scores(engine: Engine, ids: Iterable[int]) -> dict[int, dict[str, float]]:
    """The latest score of each model (by name: "v2.5", "laion-v2") for each photo that has one."""
    ids = list(ids)
    out: dict[int, dict[str, float]] = {}
    with reading(engine) as conn:
        for i in range(0, len(ids), CHUNK):
            rows = conn.execute(select(scores.c.photo_id, scores.c.model_key, scores.c.score)
                                .where(scores.c.photo_id.in_(ids[i:i + CHUNK]))
                                .order_by(scores.c.scored_at))
            for pid, key, score in rows:  # oldest first: the latest of each model wins
                out.setdefault(pid, {})[model_of_key(key)] = score
    return out


def percentile_ranks(values: np.ndarray) -> np.ndarray:
    """Each value's rank among them as a share of the way from lowest (0) to highest (1); equal
    values share their average rank."""
    n = len(values)
    if n < 2:
        return np.zeros(n)
    ordered = np.sort(values)
    low = np.searchsorted(ordered, values, "left")
    high = np.searchsorted(ordered, values, "right") - 1
    return (low + high) / 2 / (n - 1)


@dataclass(frozen=True)
class Disagreement:
    photo_id: int
    path: str
    gap: float  # how far apart the two ranks lie, 0 (same place) to 1 (best by one, worst by the other)
    scores: dict  # model name -> score
    ranks: dict  # model name -> percentile rank in the photos compared


def rank_gaps(rows: list[tuple[int, str, float, float]], first: str = DEFAULT_MODEL,
              second: str = LAION_V2.name) -> list[Disagreement]:
    """(id, path, first model's score, second's) rows, most disagreement first (ties by path)."""
    if not rows:
        return []
    a = percentile_ranks(np.array([r[2] for r in rows], dtype=np.float64))
    b = percentile_ranks(np.array([r[3] for r in rows], dtype=np.float64))
    out = [Disagreement(r[0], r[1], float(abs(ra - rb)), {first: r[2], second: r[3]},
                        {first: float(ra), second: float(rb)}) for r, ra, rb in zip(rows, a, b)]
    out.sort(key=lambda d: (-d.gap, d.path))
    return out


def disagreement(engine: Engine, under: str | None = None, min_gap: float = 0.0) -> list[Disagreement]:
    """Present photos of the library (or under a folder) scored by both models, ranked within
    them, where the ranks lie at least min_gap apart; most disagreement first."""
    cond = [photos.c.state == "present"]
    cond.append(under_folder(photos.c.path, under) if under else IN_LIBRARY)
    with reading(engine) as conn:
        found = conn.execute(select(photos.c.id, photos.c.path).where(*cond)).all()
    paths = {pid: path for pid, path in found}
    both = [(pid, paths[pid], s[DEFAULT_MODEL], s[LAION_V2.name])
            for pid, s in model_scores(engine, paths).items() if DEFAULT_MODEL in s and LAION_V2.name in s]
    return [d for d in rank_gaps(both) if d.gap >= min_gap]
