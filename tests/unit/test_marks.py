"""The user's marks as the library keeps them: "no flag" has one spelling inside (the empty
string, as stored); the CLI's word "unmark" and a sidecar without pick or reject become it at the edge."""
import pytest

from app import cli, library
from app.core import ratings
from app.core.scanner import scan
from app.storage import db, marks, repo


def _library(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(2):
        (folder / f"p{i}.jpg").write_bytes(b"\xff\xd8" + bytes([i]) * 64)
    engine = db.open_db(tmp_path / "lib.sqlite3")
    library.sync_root(engine, repo.add_root(engine, folder), scan(str(folder)).entries)
    return engine, folder


def test_no_flag_is_the_empty_string_everywhere_inside(tmp_path):
    engine, _ = _library(tmp_path)
    ids = [p.id for p in repo.list_photos(engine)]
    marks.set_flag(engine, ids, ratings.Flag.REJECT.value)
    assert {ratings.Flag(m.flag) for m in marks.marks_of(engine, ids)} == {ratings.Flag.REJECT}
    marks.set_flag(engine, ids, ratings.Flag.NONE.value)
    assert {m.flag for m in marks.marks_of(engine, ids)} == {""}
    assert ratings.Flag("") is ratings.Flag.NONE  # what the database holds reads back as the flag
    for spelling in ("none", "unmark", ratings.Flag.NONE, None):  # words of the edges, not of storage
        with pytest.raises(ValueError):
            marks.set_flag(engine, ids, spelling)
    # A sidecar's (stars, rejected, picked) in the stored form; a reject wins over a pick.
    assert library.stored_marks((None, False, False)) == (0, "")
    assert library.stored_marks((3, False, True)) == (3, "pick")
    assert library.stored_marks((2, True, True)) == (2, "reject")


def test_the_command_line_word_unmark_clears_the_flag(tmp_path):
    engine, folder = _library(tmp_path)
    photo = str(folder / "p0.jpg")
    database = str(tmp_path / "lib.sqlite3")
    assert cli.main(["mark", "--db", database, "--flag", "reject", photo]) == 0
    assert [p.flag for p in repo.list_photos(engine, paths=[photo])] == ["reject"]
    assert cli.main(["mark", "--db", database, "--flag", "unmark", photo]) == 0
    assert [p.flag for p in repo.list_photos(engine, paths=[photo])] == [""]
