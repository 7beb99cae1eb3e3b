"""Schema versioning, the backup before a migration, and databases we must not touch."""
import hashlib
import sqlite3

import pytest
from sqlalchemy import text

from app.core.errors import DatabaseError
from app.storage import db


def sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_new_database_is_wal_and_current(tmp_path):
    engine = db.open_db(tmp_path / "lib.sqlite3")
    assert db.schema_version(engine) == db.SCHEMA_VERSION
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"


def test_migration_backs_up_first_and_keeps_data(tmp_path, monkeypatch):
    path = tmp_path / "lib.sqlite3"
    engine = db.open_db(path)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO roots (path, added_at) VALUES (x'2f70', 1.0)"))
    engine.dispose()
    old_hash = sha(path)

    def add_column(conn):
        conn.execute(text("ALTER TABLE photos ADD COLUMN later_metric REAL"))

    old_version = db.SCHEMA_VERSION
    monkeypatch.setattr(db, "MIGRATIONS", db.MIGRATIONS + [add_column])
    monkeypatch.setattr(db, "SCHEMA_VERSION", db.SCHEMA_VERSION + 1)
    engine = db.open_db(path)
    assert db.schema_version(engine) == old_version + 1
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM roots")).scalar_one() == 1
        conn.execute(text("SELECT later_metric FROM photos"))
    backups = list(tmp_path.glob(f"lib.sqlite3.v{old_version}-*.bak"))
    assert len(backups) == 1
    con = sqlite3.connect(backups[0])
    assert con.execute("PRAGMA user_version").fetchone()[0] == old_version
    assert con.execute("SELECT count(*) FROM roots").fetchone()[0] == 1
    assert "later_metric" not in [r[1] for r in con.execute("PRAGMA table_info(photos)")]
    con.close()
    assert old_hash  # the original was read, then migrated in place


def test_failed_migration_rolls_back(tmp_path, monkeypatch):
    path = tmp_path / "lib.sqlite3"
    db.open_db(path).dispose()

    def broken(conn):
        conn.execute(text("ALTER TABLE photos ADD COLUMN half_done REAL"))
        raise RuntimeError("migration bug")

    monkeypatch.setattr(db, "MIGRATIONS", db.MIGRATIONS + [broken])
    monkeypatch.setattr(db, "SCHEMA_VERSION", db.SCHEMA_VERSION + 1)
    old_version = db.SCHEMA_VERSION - 1
    with pytest.raises(RuntimeError):
        db.open_db(path)
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA user_version").fetchone()[0] == old_version
    assert "half_done" not in [r[1] for r in con.execute("PRAGMA table_info(photos)")]


def test_newer_database_is_refused_untouched(tmp_path):
    path = tmp_path / "lib.sqlite3"
    db.open_db(path).dispose()
    con = sqlite3.connect(path)
    con.execute(f"PRAGMA user_version = {db.SCHEMA_VERSION + 5}")
    con.commit()
    con.close()
    before = sha(path)
    with pytest.raises(DatabaseError, match="newer Aesthete"):
        db.open_db(path)
    assert sha(path) == before


def test_corrupt_database_is_refused_untouched(tmp_path):
    path = tmp_path / "lib.sqlite3"
    path.write_bytes(b"this is not sqlite" * 100)
    before = sha(path)
    with pytest.raises(DatabaseError, match="left untouched"):
        db.open_db(path)
    assert sha(path) == before
    assert list(tmp_path.iterdir()) == [path]


def test_version_1_library_migrates_with_its_scores(tmp_path):
    """A database written by the first release keeps its photos and scores through every migration."""
    from app.storage import migrations

    path = tmp_path / "lib.sqlite3"
    con = sqlite3.connect(path)
    con.executescript(migrations.V1)
    con.execute("INSERT INTO roots VALUES (1, x'2f706963', 1.0)")
    con.execute("INSERT INTO photos (id, root_id, path, folder, name, size, mtime_ns, state, analysis_version,"
                " rating, flag, score, first_seen, updated_at) VALUES (1, 1, x'2f7069632f612e6a7067', x'2f706963',"
                " 'a.jpg', 10, 1, 'present', 1, 0, '', 6.25, 1.0, 1.0)")
    con.execute("INSERT INTO scores VALUES (1, 'm', 'fp32', 6.25, 1.0)")
    con.execute("PRAGMA user_version = 1")
    con.commit()
    con.close()
    engine = db.open_db(path)
    assert db.schema_version(engine) == db.SCHEMA_VERSION
    with engine.connect() as conn:
        assert conn.execute(text("SELECT score, analysis_version, sharpness FROM photos")).one() == (6.25, 1, None)
        assert conn.execute(text("SELECT count(*) FROM removals")).scalar_one() == 0
    assert len(list(tmp_path.glob("lib.sqlite3.v1-*.bak"))) == 1
