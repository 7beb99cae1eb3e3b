"""The user's marks on photos in the library: star ratings and the pick/reject flag (no Qt).

Each call is one short transaction over a batch of photo ids, so a batch action on thousands of
selected photos is a handful of statements.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Iterable

from sqlalchemy import Engine, select, update

from app.storage.db import reading
from app.storage.schema import photos

CHUNK = 500
FLAGS = ("", "pick", "reject")  # "" is no flag
RATINGS = range(0, 6)  # 0: unrated


@dataclass(frozen=True)
class Marks:
    id: int
    path: str
    rating: int
    flag: str


def _chunks(ids: Iterable[int]):
    wanted = list(dict.fromkeys(int(i) for i in ids))
    for start in range(0, len(wanted), CHUNK):
        yield wanted[start:start + CHUNK]


def set_rating(engine: Engine, ids: Iterable[int], stars: int) -> int:
    """Give these photos 0-5 stars; returns how many rows changed."""
    # bool is an int subclass: True as "1 star" would be a caller's bug, not a rating.
    if isinstance(stars, bool) or not isinstance(stars, int) or stars not in RATINGS:
        raise ValueError(f"rating must be 0-5, got {stars!r}")
    return _set(engine, ids, rating=stars)


def set_flag(engine: Engine, ids: Iterable[int], flag: str) -> int:
    """Pick, reject or clear ("") these photos; a photo is never both. Only the stored spelling
    is taken: the words of the edges are turned into it where they come in."""
    if not isinstance(flag, str) or flag not in FLAGS:
        raise ValueError(f"flag must be pick, reject or empty, got {flag!r}")
    return _set(engine, ids, flag=flag)


def _set(engine: Engine, ids: Iterable[int], **values) -> int:
    """One transaction setting these columns on these photos; returns how many rows changed."""
    changed = 0
    now = time.time()
    with engine.begin() as conn:
        for part in _chunks(ids):
            changed += conn.execute(update(photos).where(photos.c.id.in_(part))
                                    .values(**values, updated_at=now)).rowcount
    return changed


def marks_of(engine: Engine, ids: Iterable[int]) -> list[Marks]:
    """Current marks of these photos (for writing sidecars after a batch action)."""
    out: list[Marks] = []
    with reading(engine) as conn:
        for part in _chunks(ids):
            out += [Marks(*r) for r in conn.execute(
                select(photos.c.id, photos.c.path, photos.c.rating, photos.c.flag).where(photos.c.id.in_(part)))]
    return out
