"""The removal journal: every "remove" is written down before a file moves, so undo and crash
repair always know where each file went (no Qt)."""
from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.storage.db import reading
from app.storage.schema import exports, photos, removal_files, removals


@dataclass(frozen=True)
class JournalFile:
    id: int
    removal_id: int
    photo_id: int | None
    source: str
    destination: str | None
    sha256: str
    state: str
    error: str | None


@dataclass(frozen=True)
class JournalEntry:
    """One removal as the journal holds it: where its files went and how far it got."""

    id: int
    created_at: float
    target: str | None  # rejects folder, or None for the system trash
    state: str
    files: tuple[JournalFile, ...]


def plan(engine: Engine, target: str | None, files: list[tuple[int | None, str, str]]) -> int:
    """Write an operation and its files (photo id, source, sha256) before anything moves."""
    with engine.begin() as conn:
        rid = conn.execute(insert(removals).values(created_at=time.time(), target=target, state="planned")
                           ).inserted_primary_key[0]
        for photo_id, source, sha in files:
            conn.execute(insert(removal_files).values(removal_id=rid, photo_id=photo_id, source=source,
                                                      sha256=sha, state="planned"))
    return rid


def mark_file(engine: Engine, file_id: int, state: str, destination: str | None = None,
              error: str | None = None, photo_state: str | None = None) -> None:
    """One file's new state, and its photo's, in one transaction."""
    with engine.begin() as conn:
        values: dict = {"state": state, "error": error}
        if destination is not None:
            values["destination"] = destination
        conn.execute(update(removal_files).where(removal_files.c.id == file_id).values(**values))
        if photo_state is not None:
            pid = conn.execute(select(removal_files.c.photo_id).where(removal_files.c.id == file_id)).scalar()
            if pid is not None:
                conn.execute(update(photos).where(photos.c.id == pid).values(state=photo_state,
                                                                              updated_at=time.time()))


def set_state(engine: Engine, removal_id: int, state: str) -> None:
    with engine.begin() as conn:
        conn.execute(update(removals).where(removals.c.id == removal_id).values(state=state))


def _load(conn, row) -> JournalEntry:
    files = tuple(JournalFile(*f) for f in conn.execute(
        select(removal_files.c.id, removal_files.c.removal_id, removal_files.c.photo_id, removal_files.c.source,
               removal_files.c.destination, removal_files.c.sha256, removal_files.c.state, removal_files.c.error)
        .where(removal_files.c.removal_id == row.id).order_by(removal_files.c.id)))
    return JournalEntry(row.id, row.created_at, row.target, row.state, files)


def get(engine: Engine, removal_id: int) -> JournalEntry:
    with reading(engine) as conn:
        return _load(conn, conn.execute(select(removals).where(removals.c.id == removal_id)).one())


def last_undoable(engine: Engine) -> JournalEntry | None:
    with reading(engine) as conn:
        row = conn.execute(select(removals).where(removals.c.state.in_(("done", "partial")))
                           .order_by(removals.c.id.desc()).limit(1)).first()
        return _load(conn, row) if row else None


def unfinished(engine: Engine) -> list[JournalEntry]:
    """Operations a crash interrupted between the journal and the moves."""
    with reading(engine) as conn:
        rows = conn.execute(select(removals).where(removals.c.state == "planned").order_by(removals.c.id)).all()
        return [_load(conn, r) for r in rows]


def targets(engine: Engine) -> list[str]:
    """Every rejects folder removals went to (scans must not pick those photos up again)."""
    with reading(engine) as conn:
        return [r[0] for r in conn.execute(select(removals.c.target).where(removals.c.target.is_not(None))
                                           .distinct())]


def record_export(engine: Engine, folder: str) -> None:
    """Remember a folder picks were copied to, so scans leave the copies out of the library."""
    with engine.begin() as conn:
        conn.execute(sqlite_insert(exports).values(path=folder, at=time.time())
                     .on_conflict_do_update(index_elements=["path"], set_={"at": time.time()}))


def forget_export(engine: Engine, folder: str) -> bool:
    """The user made this export folder (or one inside it) part of the library: scans stop skipping it."""
    with engine.begin() as conn:
        gone = conn.execute(delete(exports).where(exports.c.path == folder)).rowcount
    return bool(gone)


def export_folders(engine: Engine) -> list[str]:
    with reading(engine) as conn:
        return [r[0] for r in conn.execute(select(exports.c.path))]
