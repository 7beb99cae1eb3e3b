"""The command line's `aesthete list` and the desktop grid (storage.browse) ask through one query
builder: for the same sort and filters they give the same photos in the same order, including
photos without an EXIF date, unscored photos, ties, marks and score ranges."""
from __future__ import annotations

import itertools
import json
import sqlite3

import pytest

from app import cli
from app.storage import browse, db


@pytest.fixture
def library(tmp_path):
    path = tmp_path / "lib.sqlite3"
    db.open_db(path).dispose()
    con = sqlite3.connect(path)
    con.execute("INSERT INTO roots VALUES (1, x'2f706963', 1.0)")
    for i in range(120):
        in_library = i % 29 != 0  # a few scored alone, outside any library folder
        folder = f"/pic/{i % 3}" if in_library else "/elsewhere"
        con.execute(
            "INSERT INTO photos (id, root_id, path, folder, name, size, mtime_ns, captured_at, state,"
            " analysis_version, rating, flag, score, first_seen, updated_at) VALUES (?, ?, ?, ?,"
            " ?, ?, ?, ?, ?, 1, ?, ?, ?, 1.0, 1.0)",
            (i + 1, 1 if in_library else None, f"{folder}/{i}.jpg".encode(), folder.encode(),
             "same.jpg" if i % 7 == 0 else f"{i * 37 % 120}.jpg",
             1000 if i % 11 == 0 else 5000 + i * 13 % 97,
             (1_600_000_000 + i * 311 % 500) * 10**9,  # mtime: the date of a photo without EXIF
             None if i % 4 == 0 else 1.6e9 + (i * 7919 % 400),
             "missing" if i % 17 == 0 else "present",
             i % 6, ("", "pick", "reject")[i % 3],
             None if i % 5 == 0 else 5.0 if i % 13 == 0 else i % 83 / 9))
    con.execute("INSERT INTO errors (photo_id, kind, reason, at) VALUES (10, 'error', 'broken', 1.0)")
    con.commit()
    con.close()
    return path


def _cli_paths(capsys, library, args) -> list[str]:
    assert cli.main(["list", "--db", str(library), "--json", *args]) == 0
    return [json.loads(line)["path"] for line in capsys.readouterr().out.splitlines()]


def _grid_paths(engine, query) -> list[str]:
    ids = browse.photo_ids(engine, query)
    rows = browse.photos_by_id(engine, ids)
    return [rows[i].path for i in ids]


FILTERS = [
    ([], {}),
    (["--min", "4"], {"min_score": 4.0}),
    (["--min", "2", "--max", "6"], {"min_score": 2.0, "max_score": 6.0}),
    (["--min-stars", "3"], {"min_rating": 3}),
    (["--flag", "pick"], {"flag": "pick"}),
    (["--flag", "unrejected", "--min-stars", "1", "--max", "7"], {"flag": "unrejected", "min_rating": 1, "max_score": 7.0}),
    (["/pic/2"], {"under": "/pic/2"}),
    (["/pic/1", "--flag", "pick", "--min", "3"], {"under": "/pic/1", "flag": "pick", "min_score": 3.0}),
]


def test_cli_list_and_grid_give_the_same_photos_in_the_same_order(library, capsys):
    engine = db.open_db(library)
    everyone = browse.photos_by_id(engine, browse.photo_ids(engine, browse.PhotoQuery())).values()
    assert any(p.score is None for p in everyone) and any(p.captured_at is None for p in everyone)
    for sort, reverse, (args, filters) in itertools.product(("score", "date", "name", "size"), (False, True), FILTERS):
        natural_descending = sort != "name"
        query = browse.PhotoQuery(sort=sort, descending=(not natural_descending) if reverse else None, **filters)
        expected = _grid_paths(engine, query)
        shown = _cli_paths(capsys, library, ["--sort", sort, *(["--reverse"] if reverse else []), *args])
        assert shown == expected, (sort, reverse, args)
    engine.dispose()

