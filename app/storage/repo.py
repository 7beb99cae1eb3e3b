"""Repository functions over the library database: short transactions that return plain data.

No session or connection outlives a call, so any thread (CLI, scorer, GUI) may call these.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
from sqlalchemy import Engine, and_, bindparam, case, delete, func, insert, or_, select, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.core import decode
from app.core.errors import PhotoError
from app.core.scanner import ScanEntry
from app.storage.db import reading
from app.storage.query import CAPTURED, PhotoQuery, conditions, order_terms, score_column
from app.storage.query import under_folder as _under
from app.storage.schema import embeddings, errors, photos, removal_files, roots, scores

CHUNK = 500


@dataclass(frozen=True)
class Root:
    id: int
    path: str
    photo_count: int = 0
    online: bool = True


@dataclass(frozen=True)
class Photo:
    id: int
    path: str
    name: str
    folder: str
    size: int
    mtime_ns: int
    state: str
    score: float | None
    score_model: str | None
    captured_at: float | None
    width: int | None
    height: int | None
    rating: int
    flag: str
    companion: str | None
    error: str | None
    error_kind: str | None
    content_hash: str | None

    @property
    def status(self) -> str:
        """What a tile shows: missing/offline, failed, unsupported, scored, or unscored."""
        if self.state != "present":
            return self.state
        if self.error_kind:
            return "failed" if self.error_kind == "error" else "unsupported"
        return "scored" if self.score is not None else "unscored"


@dataclass
class SyncReport:
    new: int = 0
    changed: int = 0
    moved: int = 0
    missing: int = 0
    unchanged: int = 0
    returned: int = 0
    offline: bool = False


# --- roots ---------------------------------------------------------------------------------

def add_root(engine: Engine, path: Path | str) -> Root:
    path = os.path.abspath(os.fspath(path))
    with engine.begin() as conn:
        row = conn.execute(select(roots.c.id).where(roots.c.path == path)).first()
        if row:
            return Root(row.id, path)
        # A folder inside an existing root is already part of the library.
        for r in conn.execute(select(roots.c.id, roots.c.path)):
            if path.startswith(r.path.rstrip(os.sep) + os.sep):
                return Root(r.id, r.path)
        rid = conn.execute(insert(roots).values(path=path, added_at=time.time())).inserted_primary_key[0]
        # A root added above existing roots takes over their photos.
        inner = [r for r in conn.execute(select(roots.c.id, roots.c.path).where(_under(roots.c.path, path)))]
        for r in inner:
            conn.execute(update(photos).where(photos.c.root_id == r.id).values(root_id=rid))
            conn.execute(delete(roots).where(roots.c.id == r.id))
        # Photos scored before their folder joined the library become part of it.
        conn.execute(update(photos).where(photos.c.root_id.is_(None), _under(photos.c.path, path))
                     .values(root_id=rid))
    return Root(rid, path)


def list_roots(engine: Engine) -> list[Root]:
    with reading(engine) as conn:
        rows = conn.execute(
            select(roots.c.id, roots.c.path, func.count(photos.c.id))
            .select_from(roots.outerjoin(photos, and_(photos.c.root_id == roots.c.id,
                                                       photos.c.state.not_in(("missing", "removed")))))
            .group_by(roots.c.id).order_by(roots.c.path)
        ).all()
    return [Root(r[0], r[1], r[2], os.path.isdir(r[1])) for r in rows]


def find_root(engine: Engine, path: Path | str) -> Root | None:
    path = os.path.abspath(os.fspath(path))
    return next((r for r in list_roots(engine) if r.path == path), None)


def remove_root(engine: Engine, path: Path | str) -> int | None:
    """Take a root out of the library; returns how many photos it held, or None when `path` is
    not a root. The files are not touched, and neither are their scores and marks: the photos stay
    cached outside the library (as `score` leaves them), so adding the folder again, or a folder
    inside it (undoing a parent folder added by mistake), brings back scores, stars and picks."""
    path = os.path.abspath(os.fspath(path))
    with engine.begin() as conn:
        row = conn.execute(select(roots.c.id).where(roots.c.path == path)).first()
        if not row:
            return None
        count = conn.execute(select(func.count()).select_from(photos).where(
            photos.c.root_id == row.id, photos.c.state.not_in(("missing", "removed")))).scalar_one()
        conn.execute(update(photos).where(photos.c.root_id == row.id).values(root_id=None))
        conn.execute(delete(roots).where(roots.c.id == row.id))
    return count


def move_root(engine: Engine, old: Path | str, new: Path | str) -> int:
    """The folder was relocated: rewrite every path under it, keeping scores. Returns photo count."""
    old = os.path.abspath(os.fspath(old))
    new = os.path.abspath(os.fspath(new))
    with engine.begin() as conn:
        row = conn.execute(select(roots.c.id).where(roots.c.path == old)).first()
        if not row:
            raise KeyError(old)
        if conn.execute(select(roots.c.id).where(roots.c.path == new)).first():
            raise ValueError(f"{new} is already a library root")
        conn.execute(update(roots).where(roots.c.id == row.id).values(path=new))
        moved = 0

        def swap(value: str | None) -> str | None:
            return None if value is None else new + value[len(old):]

        for p in conn.execute(select(photos.c.id, photos.c.path, photos.c.folder, photos.c.companion, photos.c.state)
                              .where(photos.c.root_id == row.id)).all():
            values = dict(path=swap(p.path), folder=swap(p.folder), companion=swap(p.companion))
            if p.state in ("present", "offline"):  # missing and removed photos stay so
                values["state"] = "present" if os.path.isdir(new) else "offline"
            conn.execute(update(photos).where(photos.c.id == p.id).values(**values))
            moved += 1
        for f in conn.execute(select(removal_files.c.id, removal_files.c.source)
                              .where(_under(removal_files.c.source, old))).all():
            conn.execute(update(removal_files).where(removal_files.c.id == f.id).values(source=swap(f.source)))
    return moved


# --- inventory -----------------------------------------------------------------------------

def mark_offline(engine: Engine, root_id: int) -> None:
    with engine.begin() as conn:
        conn.execute(update(photos).where(photos.c.root_id == root_id, photos.c.state == "present")
                     .values(state="offline"))


def _reset_analysis(conn, photo_id: int) -> None:
    conn.execute(delete(scores).where(scores.c.photo_id == photo_id))
    conn.execute(delete(embeddings).where(embeddings.c.photo_id == photo_id))
    conn.execute(delete(errors).where(errors.c.photo_id == photo_id))


def _safe_hash(path: str) -> str | None:
    try:
        return decode.hash_file(Path(path))
    except OSError:
        return None


Marks = Callable[[ScanEntry], "tuple[int | None, bool, bool] | None"]  # (stars, rejected, picked)


def sync_root(engine: Engine, root: Root, entries: Sequence[ScanEntry], unreadable: Sequence[str] = (),
              read_marks: Marks | None = None) -> SyncReport:
    return sync_entries(engine, root.id, entries, root.path, unreadable, read_marks)


def sync_entries(engine: Engine, root_id: int | None, entries: Sequence[ScanEntry],
                 folder: str | None = None, unreadable: Sequence[str] = (),
                 read_marks: Marks | None = None) -> SyncReport:
    """Bring the database in line with what a scan of `folder` found (or, without a folder,
    with these files only: nothing else is marked missing). root_id None: not in a library root.

    Unchanged files (same size and mtime) cost nothing; a changed one is hashed only when its
    size is the same; a new file whose size matches a missing photo is hashed to find a move.
    Hashing happens before the write transactions, so another process never waits on it.
    Photos under `unreadable` folders are left as they were (their folder could not be listed).
    When an entry's XMP sidecar changed, read_marks gives the marks another tool left there.
    """
    report = SyncReport()
    now = time.time()
    entries = list({e.path: e for e in entries}.values())  # a file named twice is one photo
    with reading(engine) as conn:
        q = select(photos.c.id, photos.c.path, photos.c.size, photos.c.mtime_ns, photos.c.state,
                   photos.c.content_hash, photos.c.companion, photos.c.sidecar_mtime_ns)
        if folder is not None:
            known = {r.path: r for r in conn.execute(q.where(_under(photos.c.path, folder)))}
        else:
            known = {}
            wanted = [e.path for e in entries]
            for start in range(0, len(wanted), CHUNK):
                known.update((r.path, r) for r in conn.execute(q.where(photos.c.path.in_(wanted[start:start + CHUNK]))))
        new_entries = [e for e in entries if e.path not in known]
        missing_by_size: dict[int, list] = {}
        if new_entries:
            for r in conn.execute(select(photos.c.id, photos.c.size, photos.c.content_hash, photos.c.state)
                                  .where(photos.c.state.in_(("missing", "present")))):
                missing_by_size.setdefault(r.size, []).append(r)
    found = {e.path for e in entries}
    blind = [u.rstrip(os.sep) + os.sep for u in unreadable]
    # A removed photo (moved to the trash or rejects by Aesthete) stays removed until undone.
    gone = [r for p, r in known.items() if p not in found and r.state not in ("missing", "removed")
            and not any(p.startswith(b) for b in blind)]
    gone_ids = {r.id for r in gone}
    changed = [e for e in entries if e.path in known and
               (known[e.path].size != e.size or known[e.path].mtime_ns != e.mtime_ns
                or known[e.path].state != "present" or known[e.path].companion != e.companion)]
    # Hash outside any transaction: same-size changed files, and new files that may be moves.
    digests: dict[str, str | None] = {}
    for e in changed:
        old = known[e.path]
        if (old.size, old.mtime_ns) != (e.size, e.mtime_ns) and old.size == e.size and not e.error:
            digests[e.path] = _safe_hash(e.path)
    for e in new_entries:
        candidates = missing_by_size.get(e.size)
        if candidates and not e.error and any(c.id in gone_ids or c.state == "missing" for c in candidates):
            digests[e.path] = _safe_hash(e.path)
    with engine.begin() as conn:
        for r in gone:
            conn.execute(update(photos).where(photos.c.id == r.id, photos.c.state == r.state)
                         .values(state="missing", updated_at=now))
        report.missing = len(gone)
    # Only photos missing now can be the source of a move.
    missing_now = {r.id for r in gone}
    with reading(engine) as conn:
        missing_now |= {r[0] for r in conn.execute(select(photos.c.id).where(photos.c.state == "missing"))}
    report.unchanged = len(entries) - len(new_entries) - len(changed)
    fresh_marks: set[str] = set()  # changed files that took a gone photo's place: sidecars read anew
    for start in range(0, len(changed), CHUNK):
        with engine.begin() as conn:
            for e in changed[start:start + CHUNK]:
                old = known[e.path]
                values = dict(size=e.size, mtime_ns=e.mtime_ns, state="present", companion=e.companion,
                              updated_at=now)
                if old.size != e.size or old.mtime_ns != e.mtime_ns:
                    digest = digests.get(e.path)
                    if digest is None or digest != old.content_hash:
                        _reset_analysis(conn, old.id)
                        values.update(content_hash=digest, analysis_version=0, score=None,
                                      score_model=None, width=None, height=None, captured_at=None)
                        if old.state in ("missing", "removed"):
                            # Edited in place, a photo keeps its marks; but a different file where a
                            # gone or removed photo was (camera numbering restarted) is a new photo:
                            # it must not inherit a reject that the next removal would act on.
                            values.update(rating=0, flag="", sidecar_mtime_ns=0, first_seen=now)
                            fresh_marks.add(e.path)
                        report.changed += 1
                    else:
                        report.unchanged += 1
                else:
                    report.returned += 1
                conn.execute(update(photos).where(photos.c.id == old.id).values(**values))
                if e.error:
                    _record_error(conn, old.id, "error", e.error, now)
    for start in range(0, len(new_entries), CHUNK):
        with engine.begin() as conn:
            fresh: list[dict] = []
            problems: list[ScanEntry] = []
            for e in new_entries[start:start + CHUNK]:
                digest = digests.get(e.path)
                candidates = [c for c in missing_by_size.get(e.size, ()) if c.id in missing_now]
                match = next((c for c in candidates if digest and c.content_hash == digest), None)
                if match:
                    missing_by_size[e.size].remove(match)
                    if match.id in gone_ids:
                        report.missing -= 1  # gone from its old path in this scan: moved, not missing
                    conn.execute(update(photos).where(photos.c.id == match.id).values(
                        root_id=root_id, path=e.path, folder=os.path.dirname(e.path),
                        name=_display_name(e.path), mtime_ns=e.mtime_ns, state="present",
                        companion=e.companion, updated_at=now))
                    report.moved += 1
                    continue
                fresh.append(dict(
                    root_id=root_id, path=e.path, folder=os.path.dirname(e.path), name=_display_name(e.path),
                    size=e.size, mtime_ns=e.mtime_ns, content_hash=digest, state="present",
                    companion=e.companion, analysis_version=0, rating=0, flag="", first_seen=now,
                    updated_at=now, sidecar_mtime_ns=0))
                if e.error or e.unsupported:
                    problems.append(e)
            if fresh:
                # Another process (the GUI's watcher, a second CLI) may have added some meanwhile.
                conn.execute(sqlite_insert(photos).on_conflict_do_nothing(index_elements=["path"]), fresh)
            for e in problems:
                pid = conn.execute(select(photos.c.id).where(photos.c.path == e.path)).scalar_one()
                reason = e.error or _unsupported_reason(e.path)
                _record_error(conn, pid, "unsupported" if e.unsupported else "error", reason, now)
            report.new += len(fresh)
    if read_marks is not None:
        _import_marks(engine, [e for e in entries if e.sidecar_mtime_ns and
                               (e.path not in known or e.path in fresh_marks
                                or known[e.path].sidecar_mtime_ns != e.sidecar_mtime_ns)],
                      read_marks)
    return report


def _import_marks(engine: Engine, entries: Sequence[ScanEntry], read_marks: Marks) -> None:
    """Marks from sidecars that changed since we last read them: the newer word wins. The marks
    are noted before the sidecars are read, and a sidecar's marks are written only where they are
    still the same: a mark made meanwhile (in the GUI, or `mark` in another process) is newer."""
    before: dict[str, tuple[int, str]] = {}
    with reading(engine) as conn:
        paths = [e.path for e in entries]
        for start in range(0, len(paths), CHUNK):
            before.update((r.path, (r.rating, r.flag)) for r in conn.execute(
                select(photos.c.path, photos.c.rating, photos.c.flag).where(photos.c.path.in_(paths[start:start + CHUNK]))))
    found = [(e, read_marks(e)) for e in entries if e.path in before]
    with engine.begin() as conn:
        for e, marks in found:
            conn.execute(update(photos).where(photos.c.path == e.path).values(sidecar_mtime_ns=e.sidecar_mtime_ns))
            if marks is not None:
                stars, rejected, picked = marks
                rating, flag = before[e.path]
                conn.execute(update(photos).where(photos.c.path == e.path, photos.c.rating == rating,
                                                  photos.c.flag == flag)
                             .values(rating=stars or 0, flag="reject" if rejected else ("pick" if picked else "")))


def _display_name(path: str) -> str:
    return os.fsencode(os.path.basename(path)).decode("utf-8", "replace")


def _unsupported_reason(path: str) -> str:
    from app.core import formats

    return formats.UNSUPPORTED.get(os.path.splitext(path)[1].lower(), "unsupported format")


# --- analysis ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Pending:
    id: int
    path: str
    needs_score: bool = True  # False: scored already, only newer analysis (quality) is missing
    companion: str | None = None


def pending(engine: Engine, model_key: str, precision: str | None = None,
            under: Iterable[str] = (), rescore: bool = False, paths: Iterable[str] | None = None,
            analysis_version: int = 0) -> list[Pending]:
    """Present photos that need a score of this model (at this precision, when given), or whose
    analysis is older than analysis_version (those are decoded again, not re-encoded).

    Unsupported files are never retried; files that failed before are (a fixed permission or a
    finished copy should not need a rescore)."""
    cond = [photos.c.state == "present"]
    folders = list(under)
    if folders:
        cond.append(or_(*[_under(photos.c.path, f) for f in folders]))
    wanted = None if paths is None else set(paths)
    if wanted is not None and len(wanted) <= CHUNK:
        cond.append(photos.c.path.in_(list(wanted)))
    unsupported = select(errors.c.photo_id).where(errors.c.kind == "unsupported")
    cond.append(photos.c.id.not_in(unsupported))
    has = select(scores.c.photo_id).where(scores.c.model_key == model_key)
    if precision:
        has = has.where(scores.c.precision == precision)
    scored = photos.c.id.in_(has)
    if not rescore:
        cond.append(or_(~scored, photos.c.analysis_version < analysis_version))
    with reading(engine) as conn:
        rows = conn.execute(select(photos.c.id, photos.c.path, scored.label("scored"), photos.c.companion)
                            .where(*cond).order_by(photos.c.path)).all()
    return [Pending(r.id, r.path, rescore or not r.scored, r.companion) for r in rows
            if wanted is None or r.path in wanted]  # long path lists are filtered here, not in SQL


# The first is set by every analysis since version 3 (a row without it was measured the old way).
QUALITY_FIELDS = ("focus", "blur_px", "motion_px", "motion_angle", "motion_ratio", "clipped_highlights",
                  "crushed_shadows", "brightness", "exposedness", "noise", "focus_tiles")


def _signed64(value: int | None) -> int | None:
    return None if value is None else (value - (1 << 64) if value >= 1 << 63 else value)


def _unsigned64(value: int | None) -> int | None:
    return None if value is None else value & ((1 << 64) - 1)


@dataclass
class Analysis:
    """What analysing one photo found, as save_scores stores it."""

    photo_id: int
    model_key: str | None  # None: analysed again without the model (score and embedding kept)
    precision: str | None
    score: float | None
    embedding: np.ndarray | None
    facts: decode.DecodedPhoto | None
    analysis_version: int = 1
    extras: dict | None = None  # quality, scene_hash, marks (stars, rejected, picked)


def save_score(engine: Engine, photo_id: int, model_key: str | None, precision: str | None,
               score: float | None, embedding: np.ndarray | None, facts: decode.DecodedPhoto | None,
               analysis_version: int = 1, extras: dict | None = None) -> None:
    """A photo's analysis in one transaction (all or nothing): its score and embedding (when
    model_key is given), the facts read from the file, and extras (quality, scene hash, marks
    found in XMP sidecars or the file)."""
    save_scores(engine, [Analysis(photo_id, model_key, precision, score, embedding, facts, analysis_version,
                                  extras)])


def _photo_values(a: Analysis, now: float) -> dict:
    extras = a.extras or {}
    values: dict = dict(updated_at=now, analysis_version=a.analysis_version)
    if a.model_key is not None and a.score is not None:
        values.update(score=float(a.score), score_model=a.model_key)
    if a.facts is not None:
        f = a.facts
        values.update(width=f.width, height=f.height, orientation=f.orientation, captured_at=f.captured_at,
                      content_hash=f.content_hash)
    quality = extras.get("quality")
    if quality is not None:
        values.update({name: getattr(quality, name) for name in QUALITY_FIELDS})
    if "scene_hash" in extras:
        values["scene_hash"] = _signed64(extras["scene_hash"])
    return values


def save_scores(engine: Engine, analyses: Sequence[Analysis]) -> None:
    """Several photos' analyses in one transaction, each as save_score stores it; the statements
    run once per kind over the whole batch (a GPU scores hundreds of photos a second)."""
    if not analyses:
        return
    analyses = list({a.photo_id: a for a in analyses}.values())  # a photo given twice: the last wins
    now = time.time()
    with engine.begin() as conn:
        wanted = [a.photo_id for a in analyses]
        present: set[int] = set()
        for i in range(0, len(wanted), 500):
            present.update(r[0] for r in conn.execute(select(photos.c.id).where(photos.c.id.in_(wanted[i:i + 500]))))
        todo = [a for a in analyses if a.photo_id in present]  # others were forgotten meanwhile
        if not todo:
            return
        scored = [a for a in todo if a.model_key is not None and a.score is not None]
        if scored:
            conn.execute(delete(scores).where(scores.c.photo_id == bindparam("pid"),
                                              scores.c.model_key == bindparam("mkey"),
                                              scores.c.precision == bindparam("prec")),
                         [dict(pid=a.photo_id, mkey=a.model_key, prec=a.precision) for a in scored])
            conn.execute(insert(scores), [dict(photo_id=a.photo_id, model_key=a.model_key, precision=a.precision,
                                               score=float(a.score), scored_at=now) for a in scored])
        embedded = [a for a in todo if a.model_key is not None and a.embedding is not None]
        if embedded:
            conn.execute(delete(embeddings).where(embeddings.c.photo_id == bindparam("pid"),
                                                  embeddings.c.model_key == bindparam("mkey")),
                         [dict(pid=a.photo_id, mkey=a.model_key) for a in embedded])
            conn.execute(insert(embeddings), [dict(photo_id=a.photo_id, model_key=a.model_key,
                                                   vector=np.asarray(a.embedding, np.float16).tobytes())
                                              for a in embedded])
        conn.execute(delete(errors).where(errors.c.photo_id == bindparam("pid")), [dict(pid=a.photo_id) for a in todo])
        by_columns: dict[tuple[str, ...], list[dict]] = {}
        for a in todo:
            values = _photo_values(a, now)
            by_columns.setdefault(tuple(sorted(values)), []).append(
                {"pid": a.photo_id, **{f"v_{k}": v for k, v in values.items()}})
        for columns, rows in by_columns.items():
            conn.execute(update(photos).where(photos.c.id == bindparam("pid"))
                         .values({c: bindparam(f"v_{c}") for c in columns}), rows)
        # The user's marks in Aesthete win; marks from other tools only fill blanks.
        marked = [(a.photo_id, a.extras["marks"]) for a in todo if (a.extras or {}).get("marks") is not None]
        if marked:
            conn.execute(update(photos).where(photos.c.id == bindparam("pid"), photos.c.rating == 0,
                                              photos.c.flag == "")
                         .values(rating=bindparam("v_rating"), flag=bindparam("v_flag")),
                         [dict(pid=pid, v_rating=stars or 0,
                               v_flag="reject" if rejected else ("pick" if picked else ""))
                          for pid, (stars, rejected, picked) in marked])


def _record_error(conn, photo_id: int, kind: str, reason: str, now: float) -> None:
    conn.execute(delete(errors).where(errors.c.photo_id == photo_id))
    conn.execute(insert(errors).values(photo_id=photo_id, kind=kind, reason=reason, at=now))


def save_error(engine: Engine, photo_id: int, error: PhotoError) -> None:
    """Record why a photo could not be analysed. A file that vanished while it was read (a cull
    or another program moved it) is not a failure of the photo: it is missing, and analysed again
    when it is back, however it comes back (undo keeps its size and time)."""
    with engine.begin() as conn:
        row = conn.execute(select(photos.c.path, photos.c.state).where(photos.c.id == photo_id)).first()
        if row is None:
            return
        if error.kind == "vanished":
            if row.state == "present" and not os.path.lexists(row.path):
                conn.execute(update(photos).where(photos.c.id == photo_id).values(state="missing",
                                                                                  updated_at=time.time()))
            return
        _record_error(conn, photo_id, error.kind, error.reason, time.time())


def embedding_of(engine: Engine, photo_id: int, model_key: str | None = None) -> np.ndarray | None:
    with reading(engine) as conn:
        q = select(embeddings.c.vector).where(embeddings.c.photo_id == photo_id)
        if model_key:
            q = q.where(embeddings.c.model_key == model_key)
        row = conn.execute(q).first()
    return None if row is None else np.frombuffer(row[0], dtype=np.float16)


def score_of(engine: Engine, photo_id: int, model_key: str, precision: str | None = None) -> float | None:
    with reading(engine) as conn:
        q = select(scores.c.score).where(scores.c.photo_id == photo_id, scores.c.model_key == model_key)
        if precision:
            q = q.where(scores.c.precision == precision)
        row = conn.execute(q.order_by(scores.c.scored_at.desc())).first()
    return None if row is None else row[0]


# --- queries for views ---------------------------------------------------------------------

def list_photos(engine: Engine, sort: str = "score", descending: bool | None = None,
                min_score: float | None = None, max_score: float | None = None,
                min_rating: int = 0, flag: str | None = None,
                under: str | None = None, model_key: str | None = None, precision: str | None = None,
                status: str | None = None, include_missing: bool = False, library_only: bool = False,
                paths: Iterable[str] | None = None, limit: int | None = None,
                query: PhotoQuery | None = None) -> list[Photo]:
    """Photos with their latest score (or the score of model_key), sorted and filtered in SQL by
    the same builder as the desktop views (storage.query); `query` stands for the keywords before it.

    status: None (all), "scored", "unscored", "failed"."""
    q = query or PhotoQuery(sort=sort, descending=descending, min_score=min_score, max_score=max_score,
                            min_rating=min_rating, flag=flag, under=under, status=status, model_key=model_key, precision=precision,
                            library_only=library_only, include_missing=include_missing)
    score_col = score_column(q)
    stmt = (select(photos.c.id, photos.c.path, photos.c.name, photos.c.folder, photos.c.size,
                   photos.c.mtime_ns, photos.c.state, score_col.label("score"),
                   (photos.c.score_model if not q.model_key else
                    case((score_col.is_not(None), q.model_key), else_=None)).label("score_model"),
                   photos.c.captured_at, photos.c.width, photos.c.height, photos.c.rating, photos.c.flag,
                   photos.c.companion, errors.c.reason, errors.c.kind, photos.c.content_hash)
            .select_from(photos.outerjoin(errors, errors.c.photo_id == photos.c.id))
            .where(*conditions(q)).order_by(*order_terms(q)))
    wanted = None if paths is None else set(paths)
    if wanted is not None and len(wanted) <= CHUNK:
        stmt = stmt.where(photos.c.path.in_(list(wanted)))
    if limit:
        stmt = stmt.limit(limit)
    with reading(engine) as conn:
        return [Photo(*row) for row in conn.execute(stmt) if wanted is None or row.path in wanted]


@dataclass(frozen=True)
class CurationRow:
    """What grouping, best-pick and culling need to know about one photo."""

    id: int
    path: str
    name: str
    size: int
    score: float | None
    captured_at: float | None  # EXIF capture time, else the file's mtime
    content_hash: str | None
    scene_hash: int | None
    width: int | None
    height: int | None
    rating: int
    flag: str
    companion: str | None
    quality: dict | None  # QUALITY_FIELDS plus width/height, or None before analysis v3
    embedding: np.ndarray | None


def curation_rows(engine: Engine, under: str | None = None, with_embeddings: bool = True) -> list[CurationRow]:
    """Present photos (under a folder) with their score, quality, hashes and marks."""
    emb = embeddings.alias("e")
    cols = [photos.c.id, photos.c.path, photos.c.name, photos.c.size, photos.c.score,
            CAPTURED, photos.c.content_hash,
            photos.c.scene_hash, photos.c.width, photos.c.height, photos.c.rating, photos.c.flag,
            photos.c.companion, *[photos.c[f] for f in QUALITY_FIELDS]]
    q = select(*cols, emb.c.vector if with_embeddings else func.coalesce(None, None)).select_from(
        photos.outerjoin(emb, and_(emb.c.photo_id == photos.c.id, emb.c.model_key == photos.c.score_model)))
    q = q.where(photos.c.state == "present")
    if under:
        q = q.where(_under(photos.c.path, under))
    else:  # the whole library: not photos cached outside it (scored alone, or of a removed folder)
        q = q.where(photos.c.root_id.is_not(None))
    out = []
    with reading(engine) as conn:
        for r in conn.execute(q.order_by(photos.c.id)):
            metrics = r[13:13 + len(QUALITY_FIELDS)]
            quality = None
            if metrics[0] is not None and r.width:
                quality = dict(zip(QUALITY_FIELDS, metrics), width=r.width, height=r.height)
            vector = r[-1]
            out.append(CurationRow(
                r.id, r.path, r.name, r.size, r.score, r[5], r.content_hash, _unsigned64(r.scene_hash),
                r.width, r.height, r.rating, r.flag, r.companion, quality,
                None if vector is None else np.frombuffer(vector, dtype=np.float16).astype(np.float32)))
    return out
