"""The library view's order indexes (schema V3): a version-2 library migrates to them with its data,
the grid's natural orders (and the default order's filters) are read from them without sorting,
and every order stays what it was when sorted."""
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
    assert {"ix_photos_score_view", "ix_photos_date_view", "ix_photos_name_view", "ix_photos_size_view"} <= names
    assert "ix_photos_score" not in names
    assert browse.photo_ids(engine, browse.PhotoQuery()) == [1, 3, 2]  # best first, unscored last
    assert browse.photo_ids(engine, browse.PhotoQuery(descending=False)) == [3, 1, 2]  # worst first, unscored last
    assert browse.photo_ids(engine, browse.PhotoQuery(flag="pick", min_rating=2)) == [3]
    assert len(list(tmp_path.glob("lib.sqlite3.v2-*.bak"))) == 1
    engine.dispose()


def _planned(monkeypatch) -> list[str]:
    """SQLite's plan of each id query the grid runs from now on."""
    plans: list[str] = []
    real = browse._first_column

    def explained(conn, stmt, cancelled=None):
        compiled = stmt.compile(dialect=conn.dialect)
        args = tuple(compiled.params[name] for name in (compiled.positiontup or ()))
        plans.append("; ".join(r[3] for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + str(compiled), args)))
        return real(conn, stmt, cancelled)

    monkeypatch.setattr(browse, "_first_column", explained)
    return plans


def test_natural_orders_and_the_default_filters_read_an_index_in_order(tmp_path, monkeypatch):
    engine = db.open_db(tmp_path / "lib.sqlite3")
    plans = _planned(monkeypatch)
    for query, index in ((browse.PhotoQuery(), "score"), (browse.PhotoQuery(min_score=4.0), "score"),
                         (browse.PhotoQuery(min_score=4, max_score=6), "score"),
                         (browse.PhotoQuery(min_rating=3), "score"), (browse.PhotoQuery(flag="pick"), "score"),
                         (browse.PhotoQuery(status="unscored"), "score"), (browse.PhotoQuery(sort="date"), "date"),
                         (browse.PhotoQuery(sort="name"), "name"), (browse.PhotoQuery(sort="size"), "size")):
        browse.photo_ids(engine, query)
        assert f"ix_photos_{index}_view" in plans[-1] and "TEMP B-TREE" not in plans[-1], (query, plans[-1])
    engine.dispose()


def test_every_order_is_the_sorted_one(tmp_path):
    """Ties (names, sizes, scores), missing capture times, filters: the same ids in the same order as
    sorting the table by the sort's key, then name, then id."""
    import itertools

    from sqlalchemy import literal_column, select

    from app.storage.query import SORT_KEYS, conditions
    from app.storage.schema import photos

    path = tmp_path / "lib.sqlite3"
    db.open_db(path).dispose()
    con = sqlite3.connect(path)
    con.execute("INSERT INTO roots VALUES (1, x'2f706963', 1.0)")
    for i in range(400):
        con.execute("INSERT INTO photos (id, root_id, path, folder, name, size, mtime_ns, captured_at, state,"
                    " analysis_version, rating, flag, score, first_seen, updated_at) VALUES (?, 1, ?, x'2f706963',"
                    " ?, ?, ?, ?, ?, 1, ?, ?, ?, 1.0, 1.0)",
                    (i + 1, f"/pic/{i % 4}/{i}.jpg".encode(), "same.jpg" if i % 7 == 0 else f"{i * 37 % 400}.jpg",
                     1000 if i % 11 == 0 else 5000 + i * 13 % 97, 10**18 + i * 10**9,
                     None if i % 5 == 0 else 1.6e9 + (i * 7919 % 400), "missing" if i % 17 == 0 else "present",
                     i % 6, ("", "pick", "reject")[i % 3], None if i % 9 == 0 else 5.0 if i % 13 == 0 else i % 83 / 9))
    con.commit()
    con.close()
    engine = db.open_db(path)

    def sorted_ids(q):
        key = literal_column(SORT_KEYS[q.sort][0])
        order = [key.desc(), photos.c.name, photos.c.id] if q.is_descending else \
            [key.is_(None), key.asc(), photos.c.name, photos.c.id]
        with browse.reading(engine) as conn:
            return list(conn.execute(select(photos.c.id).where(*conditions(q)).order_by(*order)).scalars())

    filters = [{}, {"min_score": 4.0}, {"min_rating": 3}, {"flag": "pick"}, {"under": "/pic/2"},
               {"status": "unscored"}, {"min_score": 2, "max_score": 6, "flag": "unrejected"}]
    for sort, descending, f in itertools.product(("score", "date", "name", "size"), (None, True, False), filters):
        query = browse.PhotoQuery(sort=sort, descending=descending, **f)
        assert browse.photo_ids(engine, query) == sorted_ids(query), query
    engine.dispose()
