"""Schema versioning, the backup before a migration, and databases we must not touch."""
import hashlib
import sqlite3

import pytest
from sqlalchemy import text

from app.errors import DatabaseError
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


def test_a_batch_of_analyses_is_stored_as_one_by_one(tmp_path):
    """save_scores (one transaction for a model batch) keeps save_score's rules: the score and
    embedding replace the model's earlier ones, errors clear, marks from other tools only fill
    blanks, a photo forgotten meanwhile is skipped, and a photo given twice keeps the last."""
    import numpy as np

    from app.errors import PhotoError
    from app.core.scanner import scan
    from app import library
    from app.storage import marks, repo

    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(4):
        (folder / f"p{i}.jpg").write_bytes(b"\xff\xd8" + bytes([i]) * 64)
    engine = db.open_db(tmp_path / "lib.sqlite3")
    root = repo.add_root(engine, str(folder))
    library.sync_root(engine, root, scan(str(folder)).entries)
    ids = {p.path.rsplit("/", 1)[1]: p.id for p in repo.pending(engine, "m", rescore=True)}
    repo.save_score(engine, ids["p0.jpg"], "m", "bf16", 3.0, np.ones(1152, np.float16), None)
    repo.save_error(engine, ids["p1.jpg"], PhotoError("unreadable"))
    marks.set_rating(engine, [ids["p2.jpg"]], 5)

    def analysis(name, score, found=None):
        return repo.Analysis(ids[name], "m", "bf16", score, np.full(1152, score / 100, np.float16), None, 2,
                             {"marks": found} if found else {})

    repo.save_scores(engine, [analysis("p0.jpg", 6.0), analysis("p1.jpg", 4.0, (2, "")),
                              analysis("p2.jpg", 5.0, (1, "reject")), analysis("p3.jpg", 7.0),
                              analysis("p3.jpg", 7.5), repo.Analysis(10_000, "m", "bf16", 1.0, None, None)])
    rows = {p.path.rsplit("/", 1)[1]: p for p in repo.list_photos(engine, sort="name")}
    assert {n: r.score for n, r in rows.items()} == {"p0.jpg": 6.0, "p1.jpg": 4.0, "p2.jpg": 5.0, "p3.jpg": 7.5}
    assert rows["p1.jpg"].error is None and rows["p1.jpg"].rating == 2
    assert rows["p2.jpg"].rating == 5 and rows["p2.jpg"].flag == ""  # the user's own mark wins
    assert float(repo.embedding_of(engine, ids["p0.jpg"], "m")[0]) == pytest.approx(0.06, abs=1e-3)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM scores")).scalar() == 4
        assert conn.execute(text("SELECT count(*) FROM embeddings")).scalar() == 4


def test_migrations_build_the_tables_schema_py_describes(tmp_path):
    """The code reads and writes through schema.py's tables; the migrations are what builds them."""
    from sqlalchemy.dialects import sqlite as sqlite_dialect

    from app.storage import schema

    path = tmp_path / "lib.sqlite3"
    db.open_db(path)
    con = sqlite3.connect(path)
    built = {name for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert built == set(schema.metadata.tables)
    for table in schema.metadata.sorted_tables:
        columns = [(r[1], r[2], bool(r[3]), r[5] > 0) for r in con.execute(f"PRAGMA table_info({table.name})")]
        described = [(c.name, c.type.compile(dialect=sqlite_dialect.dialect()), not c.nullable, c.primary_key)
                     for c in table.columns]
        assert columns == described, table.name


def _filled(path, version=None):
    """A library with an extra table of ~100 pages at the end of the file; returns the page size."""
    db.open_db(path).dispose()
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE filler (b BLOB)")
    con.executemany("INSERT INTO filler VALUES (randomblob(3000))", [()] * 100)
    if version is not None:
        con.execute(f"PRAGMA user_version = {version}")
    con.commit()
    page = con.execute("PRAGMA page_size").fetchone()[0]
    con.close()
    assert [p.name for p in path.parent.iterdir()] == [path.name]
    return page


def _damage_middle(path, page):
    """Overwrite one page of filler, far from page 1: the file still opens."""
    pages = path.stat().st_size // page
    with open(path, "r+b") as f:
        f.seek((pages - 20) * page)
        f.write(b"\xa5" * page)


def test_refused_databases_get_no_files_beside_them(tmp_path):
    """The check before opening creates no -wal or -shm file beside a database it refuses."""
    newer = tmp_path / "newer" / "lib.sqlite3"
    newer.parent.mkdir()
    _filled(newer, version=db.SCHEMA_VERSION + 1)
    with pytest.raises(DatabaseError, match="newer Aesthete"):
        db.open_db(newer)
    assert [p.name for p in newer.parent.iterdir()] == [newer.name]

    damaged = tmp_path / "damaged" / "lib.sqlite3"
    damaged.parent.mkdir()
    page = _filled(damaged, version=1)  # an older schema: the full check runs before migrating
    _damage_middle(damaged, page)
    before = sha(damaged)
    with pytest.raises(DatabaseError, match="damaged"):
        db.open_db(damaged)
    assert [p.name for p in damaged.parent.iterdir()] == [damaged.name]
    assert sha(damaged) == before


def test_damage_found_after_opening_stops_writes_but_not_reads(tmp_path):
    """At the current schema the file is opened at once; the check runs in the background and,
    once it finds damage, every later write is refused with what to do; reads go on."""
    import time

    path = tmp_path / "lib.sqlite3"
    _damage_middle(path, _filled(path))
    engine = db.open_db(path)
    deadline = time.monotonic() + 10
    with pytest.raises(DatabaseError) as err:
        while time.monotonic() < deadline:
            with engine.begin() as conn:
                conn.execute(text("INSERT INTO roots (path, added_at) VALUES (randomblob(8), 1.0)"))
            time.sleep(0.05)
    message = str(err.value)
    assert "damaged" in message and str(path) in message
    assert "backup" in message and "--db" in message
    with db.reading(engine) as conn:
        assert conn.execute(text("SELECT count(*) FROM roots")).scalar_one() >= 0
    engine.dispose()


def test_sound_database_is_checked_and_stays_writable(tmp_path):
    path = tmp_path / "lib.sqlite3"
    _filled(path)
    engine = db.open_db(path)
    assert db.damage(engine, wait=10) is None
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO roots (path, added_at) VALUES (x'2f70', 1.0)"))
    engine.dispose()


def test_migration_never_lowers_a_newer_version(tmp_path, monkeypatch):
    """Another process may have migrated further meanwhile: the migration re-reads and refuses."""
    path = tmp_path / "lib.sqlite3"
    db.open_db(path).dispose()
    con = sqlite3.connect(path)
    con.execute(f"PRAGMA user_version = {db.SCHEMA_VERSION + 1}")
    con.commit()
    con.close()
    monkeypatch.setattr(db, "_check_file", lambda p: db.SCHEMA_VERSION - 1)
    monkeypatch.setattr(db, "backup", lambda *a: None)
    with pytest.raises(DatabaseError, match="newer Aesthete"):
        db.open_db(path)
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA user_version").fetchone()[0] == db.SCHEMA_VERSION + 1
    con.close()
