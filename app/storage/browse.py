"""Read-only queries behind the desktop views: photo ids in view order, rows by id, the folder
tree with counts and counts per status. Each is one indexed query, fast at 100,000 photos.

Reads run in a deferred transaction (a WAL snapshot), so a view never waits for the scorer's or
the watcher's write lock.
"""
from __future__ import annotations

import os
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Callable, Iterable, Iterator

from sqlalchemy import Engine, case, func, literal_column, select

from app.config.models import DEFAULT_MODEL
from app.pathutil import is_under
from app.storage import db, secondlook
from app.storage.query import IN_LIBRARY, PhotoQuery, conditions, order_terms, score_column, under_folder
from app.storage.repo import Photo
from app.storage.schema import errors, photos, roots, scores

CHUNK = 500
PROGRESS_STEPS = 100_000  # SQLite steps between two "is this query still wanted?" checks (a few ms)

STATUSES = ("scored", "unscored", "failed")
FLAGS = ("pick", "reject", "unrejected")


@dataclass(frozen=True)
class FolderCount:
    root_id: int
    folder: str
    count: int


@dataclass(frozen=True)
class StatusCounts:
    total: int = 0
    scored: int = 0
    unscored: int = 0
    failed: int = 0
    unsupported: int = 0
    offline: int = 0
    picks: int = 0
    rejects: int = 0


@dataclass(frozen=True)
class FailedPhoto:
    """A photo whose last analysis failed, and why (a row of the errors table)."""

    id: int
    path: str
    kind: str
    reason: str


@contextmanager
def reading(engine: Engine) -> Iterator:
    """db.reading, with memory-mapped pages: the views scan whole tables."""
    with db.reading(engine) as conn:
        if not conn.info.get("mmap"):
            conn.exec_driver_sql("PRAGMA mmap_size = 268435456")  # big scans read pages in place
            conn.info["mmap"] = True
        yield conn


_COLUMNS = (photos.c.id, photos.c.path, photos.c.name, photos.c.folder, photos.c.size,
            photos.c.mtime_ns, photos.c.state, photos.c.score, photos.c.score_model,
            photos.c.captured_at, photos.c.width, photos.c.height, photos.c.rating, photos.c.flag,
            photos.c.companion, errors.c.reason, errors.c.kind, photos.c.content_hash, photos.c.closed_eyes)


def photo_ids(engine: Engine, q: PhotoQuery, cancelled: Callable[[], bool] | None = None) -> list[int] | None:
    """Ids of the photos the query selects, in its order (unscored last when sorting by score).

    With `cancelled`, SQLite asks it every few milliseconds and stops when it says True: then the
    answer is None (a view that asked again no longer wants this one)."""
    if q.second_look:
        return _second_look(engine, q, cancelled)
    with reading(engine) as conn:
        if q.ranking is not None:
            allowed = _first_column(conn, select(photos.c.id).where(*conditions(q)), cancelled)
            return None if allowed is None else in_ranking(q.ranking, allowed)
        if q.sort == "score" and not q.is_descending and not q.under and not q.model_key and q.model == DEFAULT_MODEL:
            return _worst_first(conn, q, cancelled)
        return _first_column(conn, select(photos.c.id).where(*conditions(q)).order_by(*order_terms(q)), cancelled)


def _second_look(engine: Engine, q: PhotoQuery, cancelled: Callable[[], bool] | None) -> list[int] | None:
    """The photos the two models rank far apart (secondlook.SECOND_LOOK_GAP) that the query's
    other filters keep, most disagreement first (the order of the filter, whatever the sort)."""
    with reading(engine) as conn:
        kept = _first_column(conn, select(photos.c.id).where(*conditions(q)), cancelled)
    if kept is None or (cancelled is not None and cancelled()):
        return None
    kept_ids = set(kept)
    found = secondlook.disagreement(engine, q.under, secondlook.SECOND_LOOK_GAP)
    ids = [d.photo_id for d in found if d.photo_id in kept_ids]
    return ids[::-1] if q.descending is False else ids


def in_ranking(ranking, allowed) -> list[int]:
    """The ids of the ranking that are allowed, in the ranking's order."""
    allowed = set(allowed)
    return [i for i in ranking if i in allowed]


def _worst_first(conn, q: PhotoQuery, cancelled: Callable[[], bool] | None) -> list[int] | None:
    """Worst first, ties by name, unscored last: the best-first index read backwards, which gives
    equal scores Z-A, so each run of them is turned around; then the unscored ones, A-Z (their
    part of the index is in that order). Sorting the whole table instead takes about twice as long."""
    cond = conditions(q)
    scored = _rows(conn, select(photos.c.id, photos.c.score).where(*cond, photos.c.score.is_not(None))
                   .order_by(photos.c.score.asc(), photos.c.name.desc(), photos.c.id.desc()), cancelled)
    if scored is None:
        return None
    ids = [row[0] for row in scored]
    scores = [row[1] for row in scored]
    ties = [i for i, (a, b) in enumerate(zip(scores, scores[1:])) if a == b]  # rare: scores are floats
    t = 0
    while t < len(ties):  # a run of equal scores spans ties[t]..end-1 and one more
        start = end = ties[t]
        while t < len(ties) and ties[t] == end:
            end += 1
            t += 1
        ids[start:end + 1] = ids[start:end + 1][::-1]
    unscored = _first_column(conn, select(photos.c.id).where(*cond, photos.c.score.is_(None))
                             .order_by(photos.c.name, photos.c.id), cancelled)
    return None if unscored is None else ids + unscored


def _first_column(conn, stmt, cancelled: Callable[[], bool] | None = None) -> list | None:
    """stmt's first column (see _rows); None when `cancelled` stopped it."""
    rows = _rows(conn, stmt, cancelled)
    return None if rows is None else [row[0] for row in rows]


def _rows(conn, stmt, cancelled: Callable[[], bool] | None = None) -> list[tuple] | None:
    """Run stmt on the DBAPI cursor and return its rows as tuples: 100,000 ids without building a
    Row object each (which costs more than the query). Parameters here are numbers, strings and
    path bytes, which sqlite3 takes as they are. None when `cancelled` stopped it."""
    compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})  # IN lists
    params = compiled.params
    args = [params[name] for name in (compiled.positiontup or ())]
    raw = conn.connection.driver_connection
    cursor = raw.cursor()
    if cancelled is not None:
        # Called in this thread between SQLite steps; a true answer makes the query fail with
        # "interrupted". The connection is ours until the `reading` block ends.
        raw.set_progress_handler(lambda: 1 if cancelled() else 0, PROGRESS_STEPS)
    try:
        cursor.execute(str(compiled), args)
        return cursor.fetchall()
    except sqlite3.OperationalError:
        if cancelled is not None and cancelled():
            return None
        raise
    finally:
        cursor.close()
        if cancelled is not None:
            raw.set_progress_handler(None, PROGRESS_STEPS)


def photos_by_id(engine: Engine, ids: Iterable[int], model: str = DEFAULT_MODEL) -> dict[int, Photo]:
    """The rows for these ids (missing ones included: a view may still hold them), their score
    that of `model` (V2.5's is the photo's own), with every model's score beside it (Photo.scores).

    Read through the DBAPI cursor, as the grid reads a page of them while it paints."""
    wanted = list(ids)
    out: dict[int, Photo] = {}
    columns = list(_COLUMNS)
    if model != DEFAULT_MODEL:
        q = PhotoQuery(model=model)
        columns[7], columns[8] = score_column(q).label("score"), score_column(q, scores.c.model_key).label("m")
    base = select(*columns).select_from(photos.outerjoin(errors, errors.c.photo_id == photos.c.id))
    fsdecode = os.fsdecode
    with reading(engine) as conn:
        for start in range(0, len(wanted), CHUNK):
            for row in _rows(conn, base.where(photos.c.id.in_(wanted[start:start + CHUNK]))) or ():
                # The path columns are bytes in the table (schema.PathBytes).
                pid, path, name, folder, *rest = row
                companion = rest[10]
                rest[10] = None if companion is None else fsdecode(companion)
                out[pid] = Photo(pid, fsdecode(path), name, fsdecode(folder), *rest)
    by_model = secondlook.model_scores(engine, out) if out else {}
    return {pid: replace(photo, scores=by_model.get(pid, {})) for pid, photo in out.items()}


def folder_counts(engine: Engine) -> list[FolderCount]:
    """Photos per folder (direct children only) for every library folder that holds any."""
    stmt = (select(photos.c.root_id, photos.c.folder, func.count())
            .where(photos.c.state != "missing", photos.c.state != "removed", IN_LIBRARY)
            .group_by(literal_column("+photos.folder")))
    with reading(engine) as conn:
        return [FolderCount(r[0], r[1], r[2]) for r in conn.execute(stmt)]


def root_paths(engine: Engine) -> list[tuple[int, str]]:
    with reading(engine) as conn:
        return [(r[0], r[1]) for r in conn.execute(select(roots.c.id, roots.c.path).order_by(roots.c.path))]


def status_counts(engine: Engine, under: str | None = None) -> StatusCounts:
    """How many library photos are scored, waiting, failed, offline, picked and rejected."""
    cond = [photos.c.state != "missing", photos.c.state != "removed", IN_LIBRARY]
    if under:
        cond.append(under_folder(photos.c.path, under))
    totals = select(
        func.count(),
        func.sum(case((photos.c.score.is_not(None), 1), else_=0)),
        func.sum(case((photos.c.state == "offline", 1), else_=0)),
        func.sum(case((photos.c.flag == "pick", 1), else_=0)),
        func.sum(case((photos.c.flag == "reject", 1), else_=0)),
    ).where(*cond)
    # errors is small: count it from its side rather than joining every photo.
    problems = (select(errors.c.kind, func.count(), func.sum(case((photos.c.score.is_(None), 1), else_=0)))
                .select_from(errors.join(photos, photos.c.id == errors.c.photo_id))
                .where(*cond).group_by(errors.c.kind))
    with reading(engine) as conn:
        total, scored, offline, picks, rejects = (int(v or 0) for v in conn.execute(totals).one())
        by_kind = {kind: (int(n), int(unscored or 0)) for kind, n, unscored in conn.execute(problems)}
    failed, failed_unscored = by_kind.get("error", (0, 0))
    unsupported, unsupported_unscored = by_kind.get("unsupported", (0, 0))
    unscored = total - scored - failed_unscored - unsupported_unscored
    return StatusCounts(total, scored, unscored, failed, unsupported, offline, picks, rejects)


def photo_errors(engine: Engine, limit: int = 10_000) -> list[FailedPhoto]:
    """Photos in the library that could not be scored, with the one-line reason, newest first."""
    stmt = (select(photos.c.id, photos.c.path, errors.c.kind, errors.c.reason)
            .select_from(errors.join(photos, photos.c.id == errors.c.photo_id))
            .where(photos.c.state == "present", IN_LIBRARY)
            .order_by(errors.c.at.desc(), photos.c.path).limit(limit))
    with reading(engine) as conn:
        return [FailedPhoto(*r) for r in conn.execute(stmt)]


def failed_ids(engine: Engine) -> set[int]:
    """Photos whose last analysis failed (not the unsupported ones)."""
    with reading(engine) as conn:
        return set(conn.execute(select(errors.c.photo_id).where(errors.c.kind == "error")).scalars())


def root_of(engine: Engine, path: str) -> tuple[int, str] | None:
    """The library root (id, path) that holds path, or None."""
    # Roots never nest (repo.add_root folds an inner one into the outer), so the first is the one.
    return next(((rid, rpath) for rid, rpath in root_paths(engine) if is_under(path, rpath)), None)


@dataclass(frozen=True)
class Histogram:
    """Scores in equal buckets: bucket i holds lo + i*width <= score < lo + (i+1)*width (the last
    one its top edge too). Widths are multiples of 0.05, so every edge has two decimals."""

    lo: float
    width: float
    counts: tuple[int, ...]

    def edges(self, i: int) -> tuple[float, float]:
        return round(self.lo + i * self.width, 2), round(self.lo + (i + 1) * self.width, 2)


def score_histogram(engine: Engine, q: PhotoQuery, buckets: int = 40) -> Histogram:
    """The scores of the photos the query's folder holds (its other filters do not apply), in
    `buckets` buckets from the lowest score's whole number up, as the LAION predictor's visualiser
    showed them."""
    import math

    import numpy as np

    base = PhotoQuery(under=q.under, library_only=q.library_only, model_key=q.model_key, precision=q.precision,
                      status="scored")
    with reading(engine) as conn:
        scores = np.asarray(_first_column(conn, select(photos.c.score).where(*conditions(base))) or [], np.float64)
    if not len(scores):
        return Histogram(0.0, 0.25, (0,) * buckets)
    lo = float(math.floor(scores.min()))
    width = max(0.05, math.ceil((float(scores.max()) - lo) / buckets / 0.05 - 1e-9) * 0.05)
    if lo + buckets * width <= scores.max():
        width += 0.05
    index = np.clip(((scores - lo) / width).astype(np.int64), 0, buckets - 1)
    return Histogram(lo, round(width, 2), tuple(int(c) for c in np.bincount(index, minlength=buckets)))
