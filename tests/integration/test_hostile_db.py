"""Hostile places and files around the library and the model, through the command line: a head
with NaN or infinite weights, a library on a read-only disk or made immutable, a new library in a
folder that cannot be written, a full disk.

Read-only cases: the tests run as root, whom file modes do not bind, so a read-only disk is made
with `chattr +i` (an immutable file or folder binds root too); where chattr is not available those
tests are skipped, and the ones below them reach the same code by making SQLite itself refuse
(os.access answering "not writable", PRAGMA query_only, PRAGMA max_page_count)."""
import gc
import json
import math
import os
import sqlite3
import subprocess

import pytest
import torch

from app import cli
from app.core import model
from app.errors import DatabaseError
from app.storage import db
from tests.conftest import scene


def run(capsys, *args):
    code = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def count(path, table):
    con = sqlite3.connect(path)
    try:
        return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    finally:
        con.close()


def strict_json(line):
    def refuse(name):
        raise ValueError(f"{name} is not JSON")

    return json.loads(line, parse_constant=refuse)


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(2):
        scene(i).save(folder / f"p{i}.jpg")
    return folder


@pytest.fixture
def model_args(tiny_encoder):
    return ["--encoder", tiny_encoder, "--device", "cpu", "--precision", "fp32", "--runtime", "torch"]


# --- 9: a head with NaN or infinite weights -------------------------------------------------------

@pytest.mark.parametrize("command", ["score", "scan"])
@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_head_with_non_finite_weights_is_refused_and_nothing_is_scored(capsys, tmp_path, photos, model_args,
                                                                        command, bad):
    state = model.AestheticHead().state_dict()
    state["scoring_head.8.bias"][0] = bad
    head = tmp_path / "damaged_head.pth"
    torch.save(state, head)
    lib = tmp_path / "lib.sqlite3"
    code, out, err = run(capsys, "--db", lib, command, photos, "--head", head, *model_args)
    assert code == 2, err
    assert str(head) in err and "internal error" not in err
    assert "Infinity" not in out and "NaN" not in out
    assert count(lib, "scores") == 0


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_a_non_finite_score_is_never_printed_or_stored(capsys, monkeypatch, tmp_path, photos, model_args,
                                                       head_file, bad):
    """The head passes its check, yet scores come out non-finite (an overflow, say): each photo
    fails with its reason; nothing is stored as a score and stdout stays JSON."""
    load_head = model.load_head

    def overflowing(path, *args, **kwargs):
        head = load_head(path, *args, **kwargs)
        with torch.no_grad():
            head.scoring_head[-1].bias.fill_(bad)
        return head

    monkeypatch.setattr(model, "load_head", overflowing)
    lib = tmp_path / "lib.sqlite3"
    code, out, err = run(capsys, "--db", lib, "score", "--json", photos, "--head", head_file, *model_args)
    assert code == 1, err
    lines = [strict_json(line) for line in out.splitlines()]
    assert len(lines) == 2 and all("score" not in line and "no usable score" in line["error"] for line in lines)
    assert count(lib, "scores") == 0


# --- 11: read-only places ------------------------------------------------------------------------

@pytest.fixture
def immutable():
    """chattr +i on paths (undone afterwards); skips where the file system or user cannot."""
    done = []

    def make(*paths):
        for p in paths:
            res = subprocess.run(["chattr", "+i", str(p)], capture_output=True)
            if res.returncode != 0:
                pytest.skip(f"chattr +i is not available here: {res.stderr.decode().strip()}")
            done.append(p)

    yield make
    for p in reversed(done):
        subprocess.run(["chattr", "-i", str(p)], check=True)


def _library(capsys, tmp_path, photos, model_args, head_file):
    lib = tmp_path / "lib" / "lib.sqlite3"
    lib.parent.mkdir()
    code, _, err = run(capsys, "--db", lib, "scan", photos, "--head", head_file, *model_args)
    assert code == 0, err
    gc.collect()  # the in-process engine's connections close, as at the end of a real run
    return lib


def test_library_on_a_read_only_disk_lists_and_refuses_writes_plainly(capsys, tmp_path, photos, model_args,
                                                                      head_file, immutable):
    lib = _library(capsys, tmp_path, photos, model_args, head_file)
    beside = sorted(os.listdir(lib.parent))
    immutable(lib, lib.parent)
    code, out, err = run(capsys, "--db", lib, "list")
    assert code == 0, err
    assert "p0.jpg" in out and "p1.jpg" in out
    code, _, err = run(capsys, "--db", lib, "mark", photos / "p0.jpg", "--stars", "4")
    assert code == 2
    assert "read-only" in err and str(lib) in err and "internal error" not in err
    assert sorted(os.listdir(lib.parent)) == beside


def test_immutable_library_file_refuses_writes_plainly(capsys, tmp_path, photos, model_args, head_file,
                                                       immutable):
    lib = _library(capsys, tmp_path, photos, model_args, head_file)
    immutable(lib)
    code, out, err = run(capsys, "--db", lib, "list")
    assert code == 0 and "p0.jpg" in out, err
    code, _, err = run(capsys, "--db", lib, "roots", "add", tmp_path)
    assert code == 2
    assert "read-only" in err and str(lib) in err and "internal error" not in err


def test_new_library_in_a_read_only_folder_names_the_folder(capsys, tmp_path, immutable):
    folder = tmp_path / "ro"
    folder.mkdir()
    immutable(folder)
    code, _, err = run(capsys, "--db", folder / "lib.sqlite3", "list")
    assert code == 2
    assert f"{folder} is not writable" in err and "unable to open database file" not in err
    assert os.listdir(folder) == []


def _not_writable(monkeypatch, *paths):
    """os.access says "not writable" for these paths, as it does on a read-only mount, even to root."""
    access = os.access
    refused = {str(p) for p in paths}

    def fake(path, mode, *a, **k):
        if mode & os.W_OK and os.fspath(path) in refused:
            return False
        return access(path, mode, *a, **k)

    monkeypatch.setattr(os, "access", fake)


def test_read_only_library_is_opened_for_reading(monkeypatch, tmp_path):
    from sqlalchemy import text

    lib = tmp_path / "lib.sqlite3"
    engine = db.open_db(lib)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO roots (path, added_at) VALUES (x'2f70', 1.0)"))
    engine.dispose()
    _not_writable(monkeypatch, lib, tmp_path)
    engine = db.open_db(lib)
    with db.reading(engine) as conn:
        assert conn.execute(text("SELECT count(*) FROM roots")).scalar_one() == 1
    with pytest.raises(DatabaseError, match="read-only") as err:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO roots (path, added_at) VALUES (x'2f71', 1.0)"))
    assert str(lib) in str(err.value)
    engine.dispose()
    assert os.listdir(tmp_path) == [lib.name]


def test_new_library_where_the_folder_is_not_writable(monkeypatch, tmp_path):
    _not_writable(monkeypatch, tmp_path)
    with pytest.raises(DatabaseError, match=f"folder {tmp_path} is not writable"):
        db.open_db(tmp_path / "lib.sqlite3")
    assert os.listdir(tmp_path) == []


def test_sqlite_refusing_a_write_is_a_plain_error(tmp_path):
    from sqlalchemy import text

    lib = tmp_path / "lib.sqlite3"
    engine = db.open_db(lib)
    with pytest.raises(DatabaseError, match="read-only") as err:
        with engine.begin() as conn:
            conn.exec_driver_sql("PRAGMA query_only = ON")
            conn.execute(text("INSERT INTO roots (path, added_at) VALUES (x'2f70', 1.0)"))
    assert str(lib) in str(err.value)


def test_full_disk_is_a_plain_error(tmp_path):
    from sqlalchemy import text

    lib = tmp_path / "lib.sqlite3"
    engine = db.open_db(lib)
    with pytest.raises(DatabaseError, match="full") as err:
        with engine.begin() as conn:
            pages = conn.exec_driver_sql("PRAGMA page_count").scalar_one()
            conn.exec_driver_sql(f"PRAGMA max_page_count = {pages}")
            conn.execute(text("INSERT INTO roots (path, added_at) VALUES (randomblob(200000), 1.0)"))
    assert str(lib) in str(err.value) and "free some space" in str(err.value).lower()


@pytest.mark.parametrize("message, words", [
    ("disk I/O error", "disk"), ("database or disk is full", "full"), ("unable to open database file", "cannot open"),
    ("attempt to write a readonly database", "read-only")])
def test_sqlite_errors_are_put_in_plain_words(tmp_path, message, words):
    """SQLite errors that cannot be provoked here (a failing disk) get the same treatment."""
    err = db.plain_error(tmp_path / "lib.sqlite3", sqlite3.OperationalError(message))
    assert isinstance(err, DatabaseError)
    assert words in str(err) and str(tmp_path / "lib.sqlite3") in str(err)
