"""Open the library database: WAL mode, versioned migrations with a backup first, clear errors.

A database that is corrupt, or was written by a newer release, is reported and left untouched
(the check before opening creates no -wal or -shm file beside it). One on a read-only disk, or a
read-only file, is opened for reading: reading works, a write says it is read-only. A database
damaged where the quick look before opening does not reach is found by a check in the background;
from then on writes are refused (reads go on), so the damage does not spread. SQLite's errors a
user can act on (read-only, cannot open, disk full, I/O error, damaged) become DatabaseError in
plain words.
"""
from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
import weakref
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator
from urllib.parse import quote

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import DatabaseError as SADatabaseError
from sqlalchemy.exc import OperationalError

from app.errors import DatabaseError
from app.storage import migrations

log = logging.getLogger(__name__)


MIGRATIONS = migrations.MIGRATIONS
SCHEMA_VERSION = len(MIGRATIONS)


# SQLite's primary result codes (the low byte of sqlite_errorcode).
SQLITE_READONLY, SQLITE_IOERR, SQLITE_CORRUPT, SQLITE_FULL, SQLITE_CANTOPEN, SQLITE_NOTADB = 8, 10, 11, 13, 14, 26
SQLITE_READONLY_DBMOVED = 8 | (4 << 8)

# The first write after opening waits this long for the background check (a small library is
# checked in milliseconds, so it is never written to before its check; a large one is not held up).
WRITE_WAIT_S = 2.0


@dataclass
class _Library:
    """What open_db knows about one engine's file."""

    path: Path
    read_only: bool = False
    damaged: str | None = None  # what the check (or a statement) found, once found
    checked: threading.Event = field(default_factory=threading.Event)


_LIBRARIES: weakref.WeakKeyDictionary[Engine, _Library] = weakref.WeakKeyDictionary()


def _uri(path: Path, **params) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"file:{quote(str(path))}" + (f"?{query}" if query else "")


def _code(exc: BaseException) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


def _is_damage(exc: BaseException) -> bool:
    text_ = str(exc)
    return _code(exc) in (SQLITE_CORRUPT, SQLITE_NOTADB) or "malformed" in text_ or "not a database" in text_


def _backup_hint(path: Path) -> str:
    try:
        backups = sorted(path.parent.glob(f"{path.name}.v*.bak"), key=lambda p: p.stat().st_mtime)
    except OSError:
        backups = []
    if backups:
        return f"Restore the backup made before its last upgrade ({backups[-1]}) or one of your own"
    return "Restore a backup"


def _damaged_message(path: Path, detail: str) -> str:
    detail = " ".join(detail.split())
    return (f"the library database {path} is damaged ({detail}). Nothing more is written to it, so the "
            f"damage does not spread; reading still works. {_backup_hint(path)}, or pass --db with "
            "another file (a new library starts empty).")


def _why_read_only(path: Path) -> str:
    if not os.access(path.parent, os.W_OK):
        return f"its folder {path.parent} cannot be written (a read-only disk or share?)"
    if path.exists() and not os.access(path, os.W_OK):
        return "the file cannot be written (read-only, or made immutable)"
    return "SQLite was not allowed to write to it"


def plain_error(path: Path, exc: BaseException) -> DatabaseError | None:
    """SQLite's error in plain words: which database, what happened, what to do; None for the
    errors a user cannot act on (those stay internal errors with their details in the log)."""
    path = Path(path)
    orig = getattr(exc, "orig", None) or exc
    code, text_ = _code(orig), str(orig)
    full_code = getattr(orig, "sqlite_errorcode", None)
    if full_code == SQLITE_READONLY_DBMOVED:
        return DatabaseError(f"the library database {path} was moved or deleted while Aesthete had it open; "
                             "nothing more was stored. Put it back, or start again with --db.")
    if code == SQLITE_READONLY or "readonly database" in text_:
        return DatabaseError(
            f"the library database {path} is read-only: {_why_read_only(path)}. Reading it (aesthete list, "
            "best) still works, but nothing can be stored in it. Make it writable, or pass --db with a copy in a "
            "folder you can write to.")
    if code == SQLITE_FULL or "disk is full" in text_:
        return DatabaseError(f"the disk holding the library database {path} is full, so nothing more was "
                             "stored. Free some space and run again; what was stored before is kept.")
    if code == SQLITE_IOERR or "disk I/O error" in text_:
        return DatabaseError(
            f"reading or writing the library database {path} failed with a disk I/O error (a failing disk, a "
            "dropped network share or an unplugged drive). Check the disk and run again; if it keeps "
            "happening, copy the library elsewhere and pass --db with the copy.")
    if code == SQLITE_CANTOPEN or "unable to open database file" in text_:
        if not os.access(path.parent, os.W_OK):
            return DatabaseError(f"cannot open the library database {path}: the folder {path.parent} is not "
                                 "writable. Pass --db with a file in a folder you can write to.")
        return DatabaseError(f"cannot open the library database {path} (no permission to read it, or the "
                             "disk is gone). Check the file, or pass --db with another one.")
    if _is_damage(orig):
        return DatabaseError(_damaged_message(path, text_))
    return None


def _configure(dbapi_conn, _record, read_only: bool = False) -> None:
    # Let SQLAlchemy decide when transactions begin (so DDL in migrations is transactional too).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA busy_timeout = 15000")
    cur.execute("PRAGMA foreign_keys = ON")
    if read_only:
        cur.execute("PRAGMA query_only = ON")
    else:
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.execute("PRAGMA journal_mode = WAL")
    cur.close()


def _begin(conn, lib: _Library | None = None) -> None:
    # Writes take the write lock up front (IMMEDIATE), so two writers (CLI and GUI) wait on the
    # busy timeout instead of failing when a read transaction tries to upgrade. Reads (see
    # `reading`) begin deferred: a WAL snapshot that takes no lock and waits for no writer.
    write = conn.info.get("write", True)
    if write and lib is not None:
        if not lib.checked.is_set():
            lib.checked.wait(WRITE_WAIT_S)
        if lib.damaged is not None:
            raise DatabaseError(_damaged_message(lib.path, lib.damaged))
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def damage(engine: Engine, wait: float | None = None) -> str | None:
    """What the background check found wrong with the engine's database (None: nothing, or not
    checked yet); `wait` seconds for the check to finish first."""
    lib = _LIBRARIES.get(engine)
    if lib is None:
        return None
    if wait:
        lib.checked.wait(wait)
    return lib.damaged


def _start_check(lib: _Library, uri: str) -> None:
    """PRAGMA quick_check in a thread on its own read-only connection: the start is not slowed."""

    def work() -> None:
        try:
            con = sqlite3.connect(uri, uri=True, timeout=15, check_same_thread=False)
            try:
                con.execute("PRAGMA query_only = ON")
                rows = [r[0] for r in con.execute("PRAGMA quick_check(5)").fetchall()]
            finally:
                con.close()
            if rows != ["ok"]:
                lib.damaged = "; ".join(rows)[:300]
        except sqlite3.DatabaseError as exc:
            if _is_damage(exc):
                lib.damaged = str(exc)
            else:
                log.debug("the check of %s did not run: %s", lib.path, exc)
        except Exception:
            log.debug("the check of %s did not run", lib.path, exc_info=True)
        finally:
            lib.checked.set()
        if lib.damaged is not None:
            log.error("the library database %s is damaged (%s); writes to it are refused", lib.path, lib.damaged)

    threading.Thread(target=work, name="library-check", daemon=True).start()


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A read-only connection: a consistent snapshot that never queues behind the scorer."""
    with engine.connect() as conn:
        conn.info["write"] = False
        try:
            yield conn
        finally:
            conn.rollback()
            conn.info.pop("write", None)


def _check_uri(path: Path) -> str:
    """A connection that creates nothing beside the file: `mode=ro` still creates -wal and -shm
    files for a WAL database, so unless both are there already (another Aesthete has it open),
    the file is read as immutable."""
    if Path(f"{path}-wal").exists() and Path(f"{path}-shm").exists():
        return _uri(path, mode="ro")
    return _uri(path, mode="ro", immutable=1)


def _check_file(path: Path) -> int:
    """Read the schema version without writing anything; raise DatabaseError if unusable.

    The full integrity check reads the whole file, so it runs here only before a migration;
    otherwise it runs in the background after opening (see _start_check)."""
    try:
        con = sqlite3.connect(_check_uri(path), uri=True)
        try:
            version = con.execute("PRAGMA user_version").fetchone()[0]
            con.execute("SELECT count(*) FROM sqlite_master").fetchone()
            status = "ok"
            if version < SCHEMA_VERSION:
                status = con.execute("PRAGMA quick_check(1)").fetchone()[0]
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        if not _is_damage(exc) and (plain := plain_error(path, exc)) is not None:
            raise plain from None
        raise DatabaseError(f"the library database {path} is damaged or not a library ({exc}); it was left "
                            "untouched. Restore a backup, or pass --db with another file.") from None
    if status != "ok":
        raise DatabaseError(f"the library database {path} is damaged ({status}); it was left "
                            "untouched. Restore a backup, or pass --db with another file.")
    if version > SCHEMA_VERSION:
        raise _newer(path, version)
    return version


def _newer(path: Path, version: int) -> DatabaseError:
    return DatabaseError(
        f"the library database {path} was written by a newer Aesthete (schema {version}, this "
        f"release knows up to {SCHEMA_VERSION}); it was left untouched. Update Aesthete.")


def _writable(path: Path) -> bool:
    """Whether the file and its folder (where SQLite keeps the -wal and -shm files) can be
    written: not on a read-only disk, not read-only or immutable."""
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)


def _read_only_uri(path: Path) -> str:
    """Read through a -wal file that holds changes (when SQLite can, beside it); otherwise read the
    file as immutable, which needs no -shm file (a read-only disk cannot take one)."""
    wal = Path(f"{path}-wal")
    if wal.exists() and wal.stat().st_size > 0:
        uri = _uri(path, mode="ro")
        try:
            con = sqlite3.connect(uri, uri=True)
            try:
                con.execute("SELECT count(*) FROM sqlite_master").fetchone()
                return uri
            finally:
                con.close()
        except sqlite3.OperationalError:
            pass
    return _uri(path, mode="ro", immutable=1)


def backup(path: Path, version: int) -> Path:
    """Copy the database with SQLite's online backup API before a migration changes it."""
    dest = path.with_name(f"{path.name}.v{version}-{time.strftime('%Y%m%d-%H%M%S')}.bak")
    src = sqlite3.connect(str(path))
    try:
        out = sqlite3.connect(str(dest))
        try:
            src.backup(out)
        finally:
            out.close()
    finally:
        src.close()
    log.info("backed up %s to %s before migrating", path, dest)
    return dest


def open_db(path: Path) -> Engine:
    """An engine on the library at `path`, created or migrated to the current schema; read-only
    (reads work, writes raise DatabaseError) where the file or its folder cannot be written."""
    path = Path(path)
    existed = path.exists() and path.stat().st_size > 0
    version = _check_file(path) if existed else 0
    read_only = existed and not _writable(path)
    if read_only and version < SCHEMA_VERSION:
        raise DatabaseError(
            f"the library database {path} must be upgraded for this release, which writes to it, but it is "
            f"read-only: {_why_read_only(path)}. Make it writable, or pass --db with a copy in a folder you "
            "can write to.")
    if not existed:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatabaseError(f"cannot create the folder for the library database {path}: {exc}") from None
        if not os.access(path.parent, os.W_OK | os.X_OK):
            raise DatabaseError(f"cannot create the library database {path}: the folder {path.parent} is not "
                                "writable. Pass --db with a file in a folder you can write to.")
    lib = _Library(path, read_only)
    needs_check = existed and version == SCHEMA_VERSION
    if not needs_check:
        lib.checked.set()  # new, or checked in full before its migration
    if read_only:
        uri = _read_only_uri(path)
        engine = create_engine(f"sqlite:///{path}",
                               creator=lambda: sqlite3.connect(uri, uri=True, check_same_thread=False))
    else:
        engine = create_engine(f"sqlite:///{path}", connect_args={"check_same_thread": False})
    _LIBRARIES[engine] = lib

    def on_connect(dbapi_conn, record) -> None:
        _configure(dbapi_conn, record, read_only)

    def on_begin(conn) -> None:
        _begin(conn, lib)

    def on_error(context) -> None:
        err = plain_error(path, context.original_exception)
        if err is None:
            return
        if _is_damage(context.original_exception) and lib.damaged is None:
            lib.damaged = str(context.original_exception)  # no write after this one
        raise err from None

    event.listen(engine, "connect", on_connect)
    event.listen(engine, "begin", on_begin)
    event.listen(engine, "handle_error", on_error)
    try:
        if version < SCHEMA_VERSION:
            if existed and version > 0:
                backup(path, version)
            _migrate(engine, version)
    except DatabaseError:
        engine.dispose()
        raise
    except (OperationalError, SADatabaseError) as exc:
        engine.dispose()
        reason = str(exc.orig) if getattr(exc, "orig", None) else str(exc)
        if "locked" in reason:
            raise DatabaseError(f"the library database {path} is locked by another program; "
                                "try again in a moment") from None
        raise DatabaseError(f"cannot open the library database {path}: {reason}") from None
    if needs_check:
        _start_check(lib, uri if read_only else _uri(path, mode="rw"))  # rw: never creates a file
    return engine


def _migrate(engine: Engine, version: int) -> None:
    with engine.begin() as conn:
        # Re-read inside the write lock: another process may have migrated meanwhile.
        current = conn.exec_driver_sql("PRAGMA user_version").scalar_one()
        if current > SCHEMA_VERSION:  # further than this release knows: never lowered
            raise _newer(Path(engine.url.database), current)
        for target in range(current + 1, SCHEMA_VERSION + 1):
            log.info("migrating library database to schema %d", target)
            MIGRATIONS[target - 1](conn)
        conn.exec_driver_sql(f"PRAGMA user_version = {SCHEMA_VERSION}")


def schema_version(engine: Engine) -> int:
    with reading(engine) as conn:
        return conn.execute(text("PRAGMA user_version")).scalar_one()
