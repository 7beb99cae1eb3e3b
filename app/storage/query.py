"""The one query builder over the photos table: a PhotoQuery's filters and sort as SQL terms, for
the desktop views (storage.browse) and the command line (repo.list_photos) alike.

Sort keys are spelled as the view indexes of schema V3 spell them (migrations.V3), so that SQLite
can read the grid's natural orders from an index instead of sorting.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace

from sqlalchemy import and_, literal_column, select

from app.config.models import DEFAULT_MODEL, MODELS
from app.pathutil import folder_prefix
from app.storage.schema import errors, photos, scores

# Unary plus keeps SQLite from walking an index row by row where a table scan is faster.
IN_LIBRARY = literal_column("+photos.root_id").is_not(None)

# Each sort's key as its view index spells it, and whether that index is descending: the natural
# orders (best, newest, largest first; names A-Z) are the indexes' own. A photo without an EXIF
# capture time sorts by its file's modification time.
SORT_KEYS: dict[str, tuple[str, bool]] = {
    "score": ("photos.score", True),
    "date": ("coalesce(photos.captured_at, photos.mtime_ns / 1e9)", True),
    "name": ("photos.name", False),
    "size": ("photos.size", True),
}
CAPTURED = literal_column(SORT_KEYS["date"][0])  # capture time, else the file's mtime (epoch seconds)


@dataclass(frozen=True)
class PhotoQuery:
    """A sort and filters over the library's photos, all applied in SQL."""

    sort: str = "score"  # score | date | name | size
    descending: bool | None = None  # None: the natural order (best, newest, largest first; names A-Z)
    min_score: float | None = None
    max_score: float | None = None
    min_rating: int = 0
    under: str | None = None  # a folder: photos anywhere below it
    status: str | None = None  # None | scored | unscored | failed
    flag: str | None = None  # None | pick | reject | unrejected
    eyes_closed: bool = False  # only photos where a prominent face has its eyes closed
    model: str = DEFAULT_MODEL  # whose score: V2.5's is the photo's own, another's the latest it made
    model_key: str | None = None  # the latest score of exactly this model key (weights) instead
    precision: str | None = None  # with model_key: scores made at this precision only
    second_look: bool = False  # only photos the two models rank far apart, most disagreement first
    library_only: bool = True  # False: photos scored outside the library folders too
    include_missing: bool = False
    # Photo ids in the order to show them (a search's matches, best first): the query keeps only
    # these, in this order, and its sort is not used. None: no ranking.
    ranking: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if self.sort not in SORT_KEYS:
            raise ValueError(f"unknown sort {self.sort!r} (score, date, name, size)")

    def with_(self, **changes) -> "PhotoQuery":
        return replace(self, **changes)

    @property
    def is_descending(self) -> bool:
        return self.descending if self.descending is not None else self.sort in ("score", "size", "date")


def under_folder(column, folder: str):
    """Rows whose path lies below folder (an index range over the path bytes; see app.pathutil)."""
    prefix = os.fsencode(folder_prefix(folder))
    upper = prefix[:-1] + bytes([prefix[-1] + 1])
    return and_(column >= prefix, column < upper)


def score_column(q: PhotoQuery, what=scores.c.score):
    """The score the query filters and sorts by: the photo's own (V2.5's latest), the latest of
    another model (q.model), or the latest of q.model_key."""
    if not q.model_key and q.model == DEFAULT_MODEL:
        return photos.c.score if what is scores.c.score else photos.c.score_model
    sub = select(what).where(scores.c.photo_id == photos.c.id)
    if q.model_key:
        sub = sub.where(scores.c.model_key == q.model_key)
    else:  # the keys of a model other than V2.5 start with its name (app.config.models)
        sub = sub.where(scores.c.model_key.op("GLOB")(MODELS[q.model].key_prefix + "*"))
    if q.precision:
        sub = sub.where(scores.c.precision == q.precision)
    return sub.order_by(scores.c.scored_at.desc()).limit(1).scalar_subquery()


def conditions(q: PhotoQuery) -> list:
    """WHERE terms for the query's filters."""
    score = score_column(q)
    cond = [] if q.include_missing else [photos.c.state != "missing", photos.c.state != "removed"]
    if q.library_only:
        cond.append(IN_LIBRARY)
    if q.under:
        cond.append(under_folder(photos.c.path, q.under))
    if q.min_score is not None:
        cond.append(score >= q.min_score)
    if q.max_score is not None:
        cond.append(score <= q.max_score)
    if q.min_rating:
        cond.append(photos.c.rating >= q.min_rating)
    if q.flag == "pick":
        cond.append(photos.c.flag == "pick")
    elif q.flag == "reject":
        cond.append(photos.c.flag == "reject")
    elif q.flag == "unrejected":
        cond.append(photos.c.flag != "reject")
    if q.eyes_closed:
        cond.append(photos.c.closed_eyes > 0)
    if q.status == "scored":
        cond.append(score.is_not(None))
    elif q.status == "unscored":
        cond.append(score.is_(None))
        cond.append(~select(errors.c.photo_id).where(errors.c.photo_id == photos.c.id).exists())
    elif q.status == "failed":
        cond.append(select(errors.c.photo_id).where(errors.c.photo_id == photos.c.id).exists())
    return cond


def order_terms(q: PhotoQuery) -> list:
    """ORDER BY terms: the key, then name and id; unscored photos last either way."""
    spelled, index_descending = SORT_KEYS[q.sort]
    if q.sort == "score" and (q.model_key or q.model != DEFAULT_MODEL):
        key = score_column(q)
    else:
        # The score index holds what the filters test; the others only the order, and walking one
        # row by row to test a filter in the table is slower than sorting what the filter keeps.
        indexed = q.is_descending == index_descending and (
            q.sort == "score" or q == PhotoQuery(sort=q.sort, descending=q.descending))
        # "+" makes SQLite sort instead of walking an index (for worst first, the score index would
        # give the order only in part, and sorting each run of equal scores is slower still).
        key = literal_column(spelled if indexed else "+" + spelled)
    terms = [key.desc() if q.is_descending else key.asc()]
    if q.sort == "score" and not q.is_descending:
        terms.insert(0, key.is_(None))  # NULL sorts lowest: unscored photos last
    if q.sort != "name":
        terms.append(photos.c.name)
    return terms + [photos.c.id]
