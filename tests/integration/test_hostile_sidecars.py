"""Hostile XMP sidecars and names: each is that photo's problem, never the end of a scan or of `mark`.

A broken build would hang on a FIFO or eat all memory on /dev/zero, so those runs happen in a
child process that is stopped after a while and held to a memory limit.
"""
import hashlib
import json
import os
import re
import subprocess
import sys

import pytest

from app import cli, curation
from app.config import paths
from app.library import scan_folders
from app.storage import db, repo
from tests.conftest import python_path, scene

RATED = ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
         '<rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:Rating="{rating}">{inside}'
         "</rdf:Description></rdf:RDF></x:xmpmeta>")
TOO_LONG = "the file name is too long for a sidecar beside it"


def rated(rating, inside=""):
    return RATED.format(rating=rating, inside=inside)


def sha(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def run(args, home, timeout=240):
    env = dict(os.environ, AESTHETE_HOME=str(home), HF_HUB_OFFLINE="1", PYTHONPATH=python_path())
    try:
        return subprocess.run([sys.executable, "-m", "app", *map(str, args)], capture_output=True,
                              timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        pytest.fail(f"`aesthete {args[0]}` did not end within {timeout} s")


@pytest.fixture
def model_args(tiny_encoder, head_file):
    return ["--encoder", tiny_encoder, "--head", head_file]


def by_name(engine):
    return {os.path.basename(p.path): p for p in repo.list_photos(engine, include_missing=True)}


def test_odd_sidecars_are_each_photos_problem_and_the_scan_goes_on(tmp_path, model_args, aesthete_home):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i, name in enumerate(["fine.jpg", "fifo.jpg", "huge.jpg", "deep.jpg"]):
        scene(i).save(folder / name)
    photos_before = {n: sha(folder / n) for n in os.listdir(folder)}
    (folder / "fine.jpg.xmp").write_text(rated(4))
    os.mkfifo(folder / "fifo.jpg.xmp")  # would block a plain read for ever
    (folder / "huge.jpg.xmp").write_text(rated(5, " " * (5 << 20)))  # 5 MiB: no real sidecar is that big
    (folder / "deep.jpg.xmp").write_text(rated(2, "<a>" * 200_000 + "</a>" * 200_000))

    res = run(["scan", folder, *model_args], aesthete_home)
    assert res.returncode == 0, res.stderr.decode()[-3000:]
    assert re.search(r"\b4 scored\b.*, 0 failed", res.stderr.decode())
    rows = {os.path.basename(r["path"]): r for r in
            map(json.loads, run(["list", "--json"], aesthete_home).stdout.decode().splitlines())}
    assert sorted(rows) == ["deep.jpg", "fifo.jpg", "fine.jpg", "huge.jpg"]
    assert all(isinstance(r["score"], float) for r in rows.values())
    assert rows["fine.jpg"].get("rating") == 4
    assert not any(rows[n].get("rating") for n in ("fifo.jpg", "huge.jpg", "deep.jpg"))
    log = paths.log_path().read_text(encoding="utf-8", errors="replace")  # the same AESTHETE_HOME as the run
    told = [line for line in res.stderr.decode().splitlines() if line.startswith("sidecar ignored: ")]
    for name, why in (("fifo.jpg.xmp", "not a regular file"), ("huge.jpg.xmp", "too large"),
                      ("deep.jpg.xmp", "nested too deeply")):
        assert any(name in line and why in line for line in log.splitlines()), (name, log[-3000:])
        assert any(name in line and why in line for line in told), (name, told)  # where the user sees it
    assert {n: sha(folder / n) for n in photos_before} == photos_before


_SCAN_IN_A_CHILD = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
from app.config import settings
from app.library import scan_folders
from app.storage import db
scan_folders(db.open_db(sys.argv[1]), settings.load(), [sys.argv[2]])
print("done")
"""


def test_a_sidecar_linked_to_dev_zero_or_a_fifo_does_not_end_the_scan(tmp_path, aesthete_home):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i, name in enumerate(["a.jpg", "b.jpg", "c.jpg"]):
        scene(i).save(folder / name)
    os.symlink("/dev/zero", folder / "a.jpg.xmp")
    (folder / "b.jpg.xmp").write_text(rated(3))
    os.mkfifo(folder / "c.jpg.xmp")
    env = dict(os.environ, AESTHETE_HOME=str(aesthete_home), PYTHONPATH=python_path())
    try:
        res = subprocess.run([sys.executable, "-c", _SCAN_IN_A_CHILD, str(tmp_path / "lib.sqlite3"), str(folder)],
                             capture_output=True, timeout=60, env=env)
    except subprocess.TimeoutExpired:
        pytest.fail("the scan did not end")
    assert res.returncode == 0 and res.stdout == b"done\n", res.stderr.decode()[-3000:]
    photos = by_name(db.open_db(tmp_path / "lib.sqlite3"))
    assert sorted(photos) == ["a.jpg", "b.jpg", "c.jpg"]
    assert (photos["a.jpg"].rating, photos["b.jpg"].rating, photos["c.jpg"].rating) == (0, 3, 0)
    assert os.readlink(folder / "a.jpg.xmp") == "/dev/zero"


def test_long_names_are_scanned_marked_and_exported(tmp_path, model_args, monkeypatch, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    longest = "l" * 251 + ".jpg"  # 255 bytes: the most a name may have here; NAME.xmp cannot exist
    fits = "f" * 246 + ".jpg"  # 250 bytes: NAME.xmp (254) fits, the old temporary name did not
    short_of = "s" * 249 + ".jpg"  # 253 bytes: NAME.xmp would be 257
    names = [longest, fits, short_of, "normal.jpg"]
    for i, name in enumerate(names):
        scene(i).save(folder / name)
    before = {n: sha(folder / n) for n in names}
    base = ["--db", tmp_path / "lib.sqlite3"]
    args = lambda *a: [str(x) for x in [*base, *a]]  # noqa: E731

    assert cli.main(args("scan", folder, *model_args)) == 0, capsys.readouterr().err
    assert re.search(r"\b4 scored\b.*, 0 failed", capsys.readouterr().err)
    engine = db.open_db(tmp_path / "lib.sqlite3")
    photos = by_name(engine)
    assert sorted(photos) == sorted(names) and all(p.score is not None for p in photos.values())
    assert cli.main(args("best", "--json", folder, *model_args)) == 0, capsys.readouterr().err
    assert cli.main(args("cull", "--dry-run", "--json", "--below", "100", folder, *model_args)) == 0, \
        capsys.readouterr().err
    culled = [os.path.basename(json.loads(line)["path"]) for line in capsys.readouterr().out.splitlines()
              if line.startswith("{\"path\"")]
    assert sorted(culled) == sorted(names)  # below 100 and unmarked: every photo

    monkeypatch.setenv("AESTHETE_WRITE_XMP", "1")
    code = cli.main(args("mark", "--stars", "4", *[folder / n for n in names]))
    err = capsys.readouterr().err
    assert code == 1, err
    assert err.count(TOO_LONG) == 2 and "marked 4 photos" in err
    for name in (longest, short_of):
        assert any(name in line and TOO_LONG in line for line in err.splitlines()), err
    assert (folder / (fits + ".xmp")).is_file() and (folder / "normal.jpg.xmp").is_file()
    assert 'xmp:Rating="4"' in (folder / (fits + ".xmp")).read_text()
    assert sorted(os.listdir(folder)) == sorted(names + [fits + ".xmp", "normal.jpg.xmp"])  # no temporary files
    assert all(p.rating == 4 for p in by_name(engine).values())  # the marks in the library landed

    monkeypatch.delenv("AESTHETE_WRITE_XMP")
    assert cli.main(args("mark", "--flag", "pick", folder / longest)) == 0
    dest = tmp_path / "picks"
    assert cli.main(args("export", "--picks", dest, folder, *model_args)) == 0, capsys.readouterr().err
    assert os.listdir(dest) == [longest]
    assert curation._files_of(str(folder / longest), None) == [str(folder / longest)]
    assert {n: sha(folder / n) for n in names} == before


def test_a_deeply_nested_sidecar_does_not_stop_marking_the_others(tmp_path, model_settings, monkeypatch, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    names = ["a.jpg", "b.jpg", "c.jpg", "d.jpg"]
    for i, name in enumerate(names):
        scene(i).save(folder / name)
    deep = folder / "b.jpg.xmp"
    deep.write_text(rated(2, "<a>" * 200_000 + "</a>" * 200_000))
    deep_before = sha(deep)
    engine = db.open_db(tmp_path / "lib.sqlite3")
    scan_folders(engine, model_settings, [folder])

    monkeypatch.setenv("AESTHETE_WRITE_XMP", "1")
    code = cli.main(["--db", str(tmp_path / "lib.sqlite3"), "mark", "--stars", "3", *[str(folder / n) for n in names]])
    err = capsys.readouterr().err
    assert code == 1, err
    problems = [line for line in err.splitlines() if "sidecar not written" in line]
    assert len(problems) == 1 and "b.jpg" in problems[0] and "nested too deeply" in problems[0], err
    assert "internal error" not in err and "marked 4 photos" in err
    for name in ("a.jpg", "c.jpg", "d.jpg"):
        assert 'xmp:Rating="3"' in (folder / (name + ".xmp")).read_text(), name
    assert sha(deep) == deep_before
    assert all(p.rating == 3 for p in by_name(engine).values())
