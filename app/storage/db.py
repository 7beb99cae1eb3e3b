"""Open the library database: WAL mode, versioned migrations with a backup first, clear errors.

A database that is corrupt, or was written by a newer release, is reported and left untouched.
"""
from __future__ import annotations

import logging
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import DatabaseError as SADatabaseError
from sqlalchemy.exc import OperationalError

from app.core.errors import DatabaseError
from app.storage import migrations

log = logging.getLogger(__name__)


MIGRATIONS = migrations.MIGRATIONS
SCHEMA_VERSION = len(MIGRATIONS)


def _configure(dbapi_conn, _record) -> None:
    # Let SQLAlchemy decide when transactions begin (so DDL in migrations is transactional too).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA busy_timeout = 15000")
    cur.execute("PRAGMA foreign_keys = ON")
    cur.execute("PRAGMA synchronous = NORMAL")
    cur.execute("PRAGMA journal_mode = WAL")
    cur.close()


def _begin(conn) -> None:
    # Writes take the write lock up front (IMMEDIATE), so two writers (CLI and GUI) wait on the
    # busy timeout instead of failing when a read transaction tries to upgrade. Reads (see
    # `reading`) begin deferred: a WAL snapshot that takes no lock and waits for no writer.
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.info.get("write", True) else "BEGIN")


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


def _check_file(path: Path) -> int:
    """Read the schema version without writing anything; raise DatabaseError if unusable.

    The full integrity check reads the whole file, so it runs only before a migration; otherwise
    damage shows up as an error on use."""
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            version = con.execute("PRAGMA user_version").fetchone()[0]
            con.execute("SELECT count(*) FROM sqlite_master").fetchone()
            status = "ok"
            if version < SCHEMA_VERSION:
                status = con.execute("PRAGMA quick_check(1)").fetchone()[0]
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        raise DatabaseError(f"the library database {path} is not readable ({exc}); it was left "
                            "untouched. Restore a backup, or pass --db with another file.") from None
    if status != "ok":
        raise DatabaseError(f"the library database {path} is damaged ({status}); it was left "
                            "untouched. Restore a backup, or pass --db with another file.")
    if version > SCHEMA_VERSION:
        raise DatabaseError(
            f"the library database {path} was written by a newer Aesthete (schema {version}, this "
            f"release knows up to {SCHEMA_VERSION}); it was left untouched. Update Aesthete.")
    return version


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
    """An engine on the library at `path`, created or migrated to the current schema."""
    path = Path(path)
    existed = path.exists() and path.stat().st_size > 0
    version = _check_file(path) if existed else 0
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatabaseError(f"cannot create the folder for the library database {path}: {exc}") from None
    engine = create_engine(f"sqlite:///{path}", connect_args={"check_same_thread": False})
    event.listen(engine, "connect", _configure)
    event.listen(engine, "begin", _begin)
    try:
        if version < SCHEMA_VERSION:
            if existed and version > 0:
                backup(path, version)
            _migrate(engine, version)
    except (OperationalError, SADatabaseError) as exc:
        engine.dispose()
        reason = str(exc.orig) if getattr(exc, "orig", None) else str(exc)
        if "locked" in reason:
            raise DatabaseError(f"the library database {path} is locked by another program; "
                                "try again in a moment") from None
        raise DatabaseError(f"cannot open the library database {path}: {reason}") from None
    return engine


def _migrate(engine: Engine, version: int) -> None:
    with engine.begin() as conn:
        # Re-read inside the write lock: another process may have migrated meanwhile.
        current = conn.exec_driver_sql("PRAGMA user_version").scalar_one()
        for target in range(current + 1, SCHEMA_VERSION + 1):
            log.info("migrating library database to schema %d", target)
            MIGRATIONS[target - 1](conn)
        conn.exec_driver_sql(f"PRAGMA user_version = {SCHEMA_VERSION}")


def schema_version(engine: Engine) -> int:
    with reading(engine) as conn:
        return conn.execute(text("PRAGMA user_version")).scalar_one()
