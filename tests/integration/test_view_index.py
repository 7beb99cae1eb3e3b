"""The library view's score-ordered index (schema V3): a version-2 library migrates to it with its
data, and the grid's default order and its filters are read from it without sorting."""
from __future__ import annotations

import sqlite3

from sqlalchemy import text

from app.storage import browse, db, migrations


def _version_2_library(path):
    con = sqlite3.connect(path)
    con.executescript(migrations.V1)
    con.executescript(migrations.V2)
    con.execute("INSERT INTO roots VALUES (1, x'2f706963', 1.0)")
    for i, score in enumerate((6.25, None, 3.5)):
        con.execute("INSERT INTO photos (id, root_id, path, folder, name, size, mtime_ns, state, analysis_version,"
                    " rating, flag, score, first_seen, updated_at) VALUES (?, 1, ?, x'2f706963', ?, 10, 1,"
                    " 'present', 1, ?, ?, ?, 1.0, 1.0)",
                    (i + 1, f"/pic/{i}.jpg".encode(), f"{i}.jpg", i, "pick" if i == 2 else "", score))
    con.execute("PRAGMA user_version = 2")
    con.commit()
    con.close()


def _indexes(engine) -> set[str]:
    with engine.connect() as conn:
        return {r[0] for r in conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'index'"))}


def test_version_2_library_gets_the_view_index_and_keeps_its_photos(tmp_path):
    path = tmp_path / "lib.sqlite3"
    _version_2_library(path)
    engine = db.open_db(path)
    assert db.schema_version(engine) == db.SCHEMA_VERSION >= 3
    names = _indexes(engine)
    assert "ix_photos_score_view" in names and "ix_photos_score" not in names
    assert browse.photo_ids(engine, browse.PhotoQuery()) == [1, 3, 2]  # best first, unscored last
    assert browse.photo_ids(engine, browse.PhotoQuery(descending=False)) == [3, 1, 2]  # worst first, unscored last
    assert browse.photo_ids(engine, browse.PhotoQuery(flag="pick", min_rating=2)) == [3]
    assert len(list(tmp_path.glob("lib.sqlite3.v2-*.bak"))) == 1
    engine.dispose()


def test_best_first_and_its_filters_read_the_index_in_order(tmp_path, monkeypatch):
    engine = db.open_db(tmp_path / "lib.sqlite3")
    plans: list[str] = []
    real = browse._first_column

    def explained(conn, stmt, cancelled=None):
        compiled = stmt.compile(dialect=conn.dialect)
        args = tuple(compiled.params[name] for name in (compiled.positiontup or ()))
        plans.append("; ".join(r[3] for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + str(compiled), args)))
        return real(conn, stmt, cancelled)

    monkeypatch.setattr(browse, "_first_column", explained)
    for query in (browse.PhotoQuery(), browse.PhotoQuery(min_score=4.0), browse.PhotoQuery(min_score=4, max_score=6),
                  browse.PhotoQuery(min_rating=3), browse.PhotoQuery(flag="pick"), browse.PhotoQuery(status="unscored")):
        browse.photo_ids(engine, query)
        assert "ix_photos_score_view" in plans[-1] and "TEMP B-TREE" not in plans[-1], (query, plans[-1])
    engine.dispose()
