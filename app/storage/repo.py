"""Repository functions over the library database: short transactions that return plain data.

No session or connection outlives a call, so any thread (CLI, scorer, GUI) may call these.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Protocol, Sequence

import numpy as np
from sqlalchemy import Engine, and_, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.config.models import DEFAULT_MODEL, model_of_key
from app.errors import PhotoError
from app.pathutil import is_under
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
    closed_eyes: int | None = None  # prominent faces with their eyes closed; None: faces not looked for
    scores: dict | None = None  # each model's latest score by name, where the reader asked for them

    @property
    def status(self) -> str:
        """What a tile shows: missing/offline, failed, unsupported, scored, or unscored."""
        if self.state != "present":
            return self.state
        if self.error_kind:
            return "failed" if self.error_kind == "error" else "unsupported"
        return "scored" if self.score is not None else "unscored"




# --- roots ---------------------------------------------------------------------------------

def add_root(engine: Engine, path: Path | str) -> Root:
    path = os.path.abspath(os.fspath(path))
    with engine.begin() as conn:
        row = conn.execute(select(roots.c.id).where(roots.c.path == path)).first()
        if row:
            return Root(row.id, path)
        # A folder inside an existing root is already part of the library.
        for r in conn.execute(select(roots.c.id, roots.c.path)):
            if is_under(path, r.path, or_same=False):
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


@dataclass(frozen=True)
class StoredFile:
    """A photo's row as its file was last seen, what a scan compares a found file with."""

    id: int
    path: str
    size: int
    mtime_ns: int
    state: str
    content_hash: str | None
    companion: str | None
    sidecar_mtime_ns: int


_STORED = (photos.c.id, photos.c.path, photos.c.size, photos.c.mtime_ns, photos.c.state,
           photos.c.content_hash, photos.c.companion, photos.c.sidecar_mtime_ns)


def stored_files(engine: Engine, folder: str | None = None, paths: Iterable[str] = ()) -> dict[str, StoredFile]:
    """The photos under `folder`, or (without a folder) at these paths, by path."""
    with reading(engine) as conn:
        if folder is not None:
            return {r.path: StoredFile(*r) for r in conn.execute(select(*_STORED).where(_under(photos.c.path, folder)))}
        found: dict[str, StoredFile] = {}
        wanted = list(paths)
        for start in range(0, len(wanted), CHUNK):
            found.update((r.path, StoredFile(*r)) for r in conn.execute(
                select(*_STORED).where(photos.c.path.in_(wanted[start:start + CHUNK]))))
        return found


def files_by_size(engine: Engine) -> dict[int, list[StoredFile]]:
    """Missing and present photos by file size: where a new file may have come from."""
    by_size: dict[int, list[StoredFile]] = {}
    with reading(engine) as conn:
        for r in conn.execute(select(*_STORED).where(photos.c.state.in_(("missing", "present")))):
            by_size.setdefault(r.size, []).append(StoredFile(*r))
    return by_size


def missing_ids(engine: Engine) -> set[int]:
    with reading(engine) as conn:
        return {r[0] for r in conn.execute(select(photos.c.id).where(photos.c.state == "missing"))}


def mark_missing(engine: Engine, files: Sequence[StoredFile]) -> None:
    """These photos' files are gone; a row whose state changed meanwhile is left as it is."""
    now = time.time()
    with engine.begin() as conn:
        for f in files:
            conn.execute(update(photos).where(photos.c.id == f.id, photos.c.state == f.state)
                         .values(state="missing", updated_at=now))


@dataclass(frozen=True)
class FileUpdate:
    """A known photo's row after a scan found its file again."""

    photo_id: int
    size: int
    mtime_ns: int
    companion: str | None
    new_content: bool = False  # a different file: its analysis is dropped, content_hash replaces the old
    content_hash: str | None = None
    forget_marks: bool = False  # a different photo altogether: its stars, flag and first sighting go too
    error: str | None = None  # why the scan could not read the file


def update_files(engine: Engine, updates: Sequence[FileUpdate]) -> None:
    now = time.time()
    for start in range(0, len(updates), CHUNK):
        with engine.begin() as conn:
            for u in updates[start:start + CHUNK]:
                values = dict(size=u.size, mtime_ns=u.mtime_ns, state="present", companion=u.companion,
                              updated_at=now)
                if u.new_content:
                    _reset_analysis(conn, u.photo_id)
                    values.update(content_hash=u.content_hash, analysis_version=0, score=None,
                                  score_model=None, width=None, height=None, captured_at=None,
                                  faces=None, closed_eyes=None)  # another picture: its faces are looked for again
                if u.forget_marks:
                    values.update(rating=0, flag="", sidecar_mtime_ns=0, first_seen=now)
                conn.execute(update(photos).where(photos.c.id == u.photo_id).values(**values))
                if u.error:
                    _record_error(conn, u.photo_id, "error", u.error, now)


@dataclass(frozen=True)
class FileMove:
    """A known photo found at a new path: its row follows it, scores and marks kept."""

    photo_id: int
    root_id: int | None
    path: str
    mtime_ns: int
    companion: str | None


def move_files(engine: Engine, moves: Sequence[FileMove]) -> None:
    now = time.time()
    for start in range(0, len(moves), CHUNK):
        with engine.begin() as conn:
            for m in moves[start:start + CHUNK]:
                conn.execute(update(photos).where(photos.c.id == m.photo_id).values(
                    root_id=m.root_id, path=m.path, folder=os.path.dirname(m.path), name=_display_name(m.path),
                    mtime_ns=m.mtime_ns, state="present", companion=m.companion, updated_at=now))


@dataclass(frozen=True)
class NewFile:
    root_id: int | None  # None: not in a library root
    path: str
    size: int
    mtime_ns: int
    content_hash: str | None
    companion: str | None
    problem: tuple[str, str] | None = None  # (error kind, reason) when it cannot be analysed


def add_files(engine: Engine, files: Sequence[NewFile]) -> None:
    """New photos, unscored and unmarked; a path another process added meanwhile (the GUI's
    watcher, a second CLI) is left as that process wrote it."""
    now = time.time()
    for start in range(0, len(files), CHUNK):
        part = files[start:start + CHUNK]
        with engine.begin() as conn:
            conn.execute(sqlite_insert(photos).on_conflict_do_nothing(index_elements=["path"]), [dict(
                root_id=f.root_id, path=f.path, folder=os.path.dirname(f.path), name=_display_name(f.path),
                size=f.size, mtime_ns=f.mtime_ns, content_hash=f.content_hash, state="present",
                companion=f.companion, analysis_version=0, rating=0, flag="", first_seen=now,
                updated_at=now, sidecar_mtime_ns=0) for f in part])
            for f in part:
                if f.problem is not None:
                    pid = conn.execute(select(photos.c.id).where(photos.c.path == f.path)).scalar_one()
                    _record_error(conn, pid, f.problem[0], f.problem[1], now)


def _reset_analysis(conn, photo_id: int) -> None:
    conn.execute(delete(scores).where(scores.c.photo_id == photo_id))
    conn.execute(delete(embeddings).where(embeddings.c.photo_id == photo_id))
    conn.execute(delete(errors).where(errors.c.photo_id == photo_id))


def marks_at(engine: Engine, paths: Sequence[str]) -> dict[str, tuple[int, str]]:
    """(rating, flag) of the photos at these paths."""
    found: dict[str, tuple[int, str]] = {}
    with reading(engine) as conn:
        for start in range(0, len(paths), CHUNK):
            found.update((r.path, (r.rating, r.flag)) for r in conn.execute(
                select(photos.c.path, photos.c.rating, photos.c.flag).where(photos.c.path.in_(paths[start:start + CHUNK]))))
    return found


@dataclass(frozen=True)
class SidecarRead:
    """What a photo's sidecar said, and the photo's marks from before it was read."""

    path: str
    sidecar_mtime_ns: int
    seen: tuple[int, str]  # (rating, flag) before the sidecar was read
    marks: tuple[int, str] | None  # (rating, flag) in the sidecar; None: it holds none


def save_sidecar_reads(engine: Engine, reads: Sequence[SidecarRead]) -> None:
    """Note each sidecar as read, and take its marks where the photo's are still those `seen`:
    a mark made meanwhile (in the GUI, or `mark` in another process) is newer than the sidecar."""
    with engine.begin() as conn:
        for r in reads:
            conn.execute(update(photos).where(photos.c.path == r.path).values(sidecar_mtime_ns=r.sidecar_mtime_ns))
            if r.marks is not None:
                conn.execute(update(photos).where(photos.c.path == r.path, photos.c.rating == r.seen[0],
                                                  photos.c.flag == r.seen[1])
                             .values(rating=r.marks[0], flag=r.marks[1]))


def _display_name(path: str) -> str:
    return os.fsencode(os.path.basename(path)).decode("utf-8", "replace")


# --- analysis ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Pending:
    id: int
    path: str
    needs_score: bool = True  # False: scored already, only newer analysis (quality) is missing
    companion: str | None = None


def faces_without_count(engine: Engine) -> list[tuple[int, str]]:
    """(id, faces JSON) of photos whose faces were stored before their closed eyes were counted."""
    with reading(engine) as conn:
        return [(r[0], r[1]) for r in conn.execute(select(photos.c.id, photos.c.faces).where(
            photos.c.faces.is_not(None), photos.c.closed_eyes.is_(None)))]


def set_closed_eyes(engine: Engine, counts: Sequence[tuple[int, int | None]]) -> None:
    """Store each photo's count of closed-eyed faces; None forgets its faces, to be looked for again."""
    if not counts:
        return
    counted = [{"pid": pid, "n": n} for pid, n in counts if n is not None]
    unreadable = [{"pid": pid} for pid, n in counts if n is None]
    with engine.begin() as conn:
        if counted:
            conn.execute(photos.update().where(photos.c.id == bindparam("pid")).values(closed_eyes=bindparam("n")),
                         counted)
        if unreadable:
            conn.execute(photos.update().where(photos.c.id == bindparam("pid")).values(faces=None), unreadable)


def pending(engine: Engine, model_key: str, precision: str | None = None,
            under: Iterable[str] = (), rescore: bool = False, paths: Iterable[str] | None = None,
            analysis_version: int = 0, faces: bool = False) -> list[Pending]:
    """Present photos that need a score of this model (at this precision, when given), or whose
    analysis is older than analysis_version, or (when faces: face checks are on now) whose faces
    were never looked for (those are decoded again, not re-encoded).

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
        again = [~scored, photos.c.analysis_version < analysis_version]
        if faces:  # analysed while face checks were off: the faces alone are what is missing
            again.append(photos.c.faces.is_(None))
        cond.append(or_(*again))
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


class PhotoFacts(Protocol):
    """What the decoder read from a file that the photo's row keeps."""

    width: int
    height: int
    orientation: int
    captured_at: float | None
    content_hash: str


@dataclass
class Analysis:
    """What analysing one photo found, as save_scores stores it."""

    photo_id: int
    model_key: str | None  # None: analysed again without the model (score and embedding kept)
    precision: str | None
    score: float | None
    embedding: np.ndarray | None
    facts: PhotoFacts | None
    analysis_version: int = 1
    extras: dict | None = None  # quality, scene_hash, faces (JSON), marks (rating, flag) from sidecars or the file


def save_score(engine: Engine, photo_id: int, model_key: str | None, precision: str | None,
               score: float | None, embedding: np.ndarray | None, facts: PhotoFacts | None,
               analysis_version: int = 1, extras: dict | None = None) -> None:
    """A photo's analysis in one transaction (all or nothing): its score and embedding (when
    model_key is given), the facts read from the file, and extras (quality, scene hash, marks
    found in XMP sidecars or the file)."""
    save_scores(engine, [Analysis(photo_id, model_key, precision, score, embedding, facts, analysis_version,
                                  extras)])


def _photo_values(a: Analysis, now: float) -> dict:
    extras = a.extras or {}
    values: dict = dict(updated_at=now, analysis_version=a.analysis_version)
    if a.model_key is not None and a.score is not None and model_of_key(a.model_key) == DEFAULT_MODEL:
        # The photo's own score (the grid's indexed sort) is V2.5's: another model's score lives in
        # the scores table beside it, and a scan with that model leaves this one as it was.
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
    if extras.get("faces") is not None:  # a FaceReport's JSON; absent when face checks were off
        values["faces"] = extras["faces"]
        values["closed_eyes"] = extras.get("closed_eyes")  # None: counted from the faces later (library)
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
                         [dict(pid=pid, v_rating=rating, v_flag=flag) for pid, (rating, flag) in marked])


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


# --- queries for views ---------------------------------------------------------------------

def list_photos(engine: Engine, sort: str = "score", descending: bool | None = None,
                min_score: float | None = None, max_score: float | None = None,
                min_rating: int = 0, flag: str | None = None,
                under: str | None = None, model_key: str | None = None, precision: str | None = None,
                status: str | None = None, include_missing: bool = False, library_only: bool = False,
                paths: Iterable[str] | None = None, limit: int | None = None,
                query: PhotoQuery | None = None, model: str = DEFAULT_MODEL, eyes_closed: bool = False) -> list[Photo]:
    """Photos with their latest score (or the score of model_key), sorted and filtered in SQL by
    the same builder as the desktop views (storage.query); `query` stands for the keywords before it.

    status: None (all), "scored", "unscored", "failed"."""
    q = query or PhotoQuery(sort=sort, descending=descending, min_score=min_score, max_score=max_score,
                            min_rating=min_rating, flag=flag, under=under, status=status, model_key=model_key, precision=precision,
                            model=model, library_only=library_only, include_missing=include_missing,
                            eyes_closed=eyes_closed)
    score_col = score_column(q)
    stmt = (select(photos.c.id, photos.c.path, photos.c.name, photos.c.folder, photos.c.size,
                   photos.c.mtime_ns, photos.c.state, score_col.label("score"),
                   score_column(q, scores.c.model_key).label("score_model"),
                   photos.c.captured_at, photos.c.width, photos.c.height, photos.c.rating, photos.c.flag,
                   photos.c.companion, errors.c.reason, errors.c.kind, photos.c.content_hash,
                   photos.c.closed_eyes)
            .select_from(photos.outerjoin(errors, errors.c.photo_id == photos.c.id))
            .where(*conditions(q)).order_by(*order_terms(q)))
    wanted = None if paths is None else set(paths)
    if wanted is not None and len(wanted) <= CHUNK:
        stmt = stmt.where(photos.c.path.in_(list(wanted)))
    if limit and q.ranking is None:
        stmt = stmt.limit(limit)
    with reading(engine) as conn:
        found = [Photo(*row) for row in conn.execute(stmt) if wanted is None or row.path in wanted]
    if q.ranking is not None:  # a search's order: the ranking's, of the photos the filters keep
        position = {pid: i for i, pid in enumerate(q.ranking)}
        found = sorted((p for p in found if p.id in position), key=lambda p: position[p.id])[:limit or None]
    return found


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
    faces: str | None = None  # the FaceReport's JSON; None when faces were not looked for


def curation_rows(engine: Engine, under: str | None = None, with_embeddings: bool = True) -> list[CurationRow]:
    """Present photos (under a folder) with their score, quality, hashes and marks."""
    emb = embeddings.alias("e")
    cols = [photos.c.id, photos.c.path, photos.c.name, photos.c.size, photos.c.score,
            CAPTURED, photos.c.content_hash,
            photos.c.scene_hash, photos.c.width, photos.c.height, photos.c.rating, photos.c.flag,
            photos.c.companion, *[photos.c[f] for f in QUALITY_FIELDS], photos.c.faces]
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
                None if vector is None else np.frombuffer(vector, dtype=np.float16).astype(np.float32), r.faces))
    return out
