"""The `aesthete` command line, run as a user runs it: in a subprocess."""
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from tests.conftest import python_path, scene


def run(args, env_home, timeout=180, **kw):
    env = dict(os.environ, AESTHETE_HOME=str(env_home), HF_HUB_OFFLINE="1", PYTHONPATH=python_path())
    return subprocess.run([sys.executable, "-m", "app", *map(str, args)], capture_output=True,
                          timeout=timeout, env=env, **kw)


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(5):
        scene(i).save(folder / f"p{i}.jpg")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    (folder / "movie.mp4").write_bytes(b"\x00" * 10)
    return folder


@pytest.fixture
def model_args(tiny_encoder, head_file):
    return ["--encoder", tiny_encoder, "--head", head_file]


def test_score_json_with_options_after_the_subcommand(photos, model_args, aesthete_home):
    res = run(["score", "--json", photos, *model_args], aesthete_home)
    assert res.returncode == 1, res.stderr  # one broken file
    lines = [json.loads(l) for l in res.stdout.decode().splitlines()]
    assert len(lines) == 6
    scored = [l for l in lines if "score" in l]
    assert len(scored) == 5 and all(isinstance(l["score"], float) for l in scored)
    broken = next(l for l in lines if l["path"].endswith("broken.jpg"))
    assert "not a readable JPG" in broken["error"]
    err = res.stderr.decode()
    assert "5 scored, 1 failed" in err and "Traceback" not in err
    # same call, options before the subcommand: everything comes from the cache, same numbers
    again = run([*model_args, "score", "--json", photos], aesthete_home)
    by_path = lambda rows: sorted(rows, key=lambda r: r["path"])  # noqa: E731 (streamed as they finish)
    assert by_path(json.loads(l) for l in again.stdout.decode().splitlines()) == by_path(lines)
    # `score` caches without adding the folder to the library: a bare `list` says where they are.
    listed = run(["list"], aesthete_home)
    assert listed.returncode == 0 and listed.stdout == b""
    assert "0 photos\n6 photos are cached outside the library folders" in listed.stderr.decode()


def test_list_reads_the_cache_without_model_files(photos, model_args, aesthete_home):
    assert run(["scan", photos, *model_args], aesthete_home).returncode == 1
    res = run(["list", "--json"], aesthete_home)  # no model options, and none loaded
    assert res.returncode == 0, res.stderr
    rows = [json.loads(l) for l in res.stdout.decode().splitlines()]
    scores = [r["score"] for r in rows if r["score"] is not None]
    assert len(scores) == 5 and scores == sorted(scores, reverse=True)
    assert {r["state"] for r in rows} == {"scored", "failed"}
    assert all(r["model"] for r in rows if r["score"] is not None)
    # Halfway between two printed scores: the printed ones are rounded to four decimals, so the
    # median itself could sit either side of its own rounded value.
    low = sorted(scores)
    cut = (low[1] + low[2]) / 2
    res = run(["list", "--json", "--min", cut], aesthete_home)
    above = [json.loads(l)["score"] for l in res.stdout.decode().splitlines()]
    assert above == [s for s in scores if s >= cut] and 0 < len(above) < len(scores)
    res = run(["list", "--sort", "name", "--json"], aesthete_home)
    names = [os.path.basename(json.loads(l)["path"]) for l in res.stdout.decode().splitlines()]
    assert names == ["broken.jpg", "p0.jpg", "p1.jpg", "p2.jpg", "p3.jpg", "p4.jpg"]


def test_missing_model_is_exit_2_with_a_clear_message(photos, aesthete_home, tmp_path):
    res = run(["scan", photos, "--head", tmp_path / "nope.pth", "--encoder", tmp_path / "noenc"], aesthete_home)
    assert res.returncode == 2
    err = res.stderr.decode()
    assert "does not exist" in err and "Traceback" not in err
    res = run(["score", photos, "--head", tmp_path / "nope.pth"], aesthete_home)
    assert res.returncode == 2
    assert "--encoder DIR" in res.stderr.decode() or "--head FILE" in res.stderr.decode()


def test_usage_errors_are_exit_2(aesthete_home):
    assert run(["score"], aesthete_home).returncode == 2
    assert run(["frobnicate"], aesthete_home).returncode == 2
    assert run(["list", "--precision", "int4"], aesthete_home).returncode == 2


def test_mistakes_get_plain_words_and_exit_2(photos, model_args, aesthete_home, tmp_path):
    res = run(["score", photos / "p0.jpg", photos / "movie.mp4", *model_args], aesthete_home)
    assert res.returncode == 0 and f"not a photo, passed over: {photos / 'movie.mp4'}" in res.stderr.decode()
    res = run(["scan", photos, *model_args], aesthete_home)
    assert res.returncode == 1 and f"failed: {photos / 'broken.jpg'}: not a readable JPG" in res.stderr.decode()
    for args, words in ((["mark", photos / "p0.jpg"], "say what to mark"),
                        (["mark", "--stars", "3", tmp_path / "nope.jpg"], "no such file"),
                        (["list", tmp_path / "nope"], "no such folder"),
                        (["list", photos / "p0.jpg"], "is a file"),
                        (["--db", tmp_path, "list"], "is a folder")):
        res = run(args, aesthete_home)
        assert res.returncode == 2 and words in res.stderr.decode(), (args, res.stderr)
    assert run(["mark", "--stars", "1", photos / "p0.jpg"], aesthete_home).stderr.decode().endswith("marked 1 photo\n")


def test_a_folder_alone_opens_the_app_on_it(tmp_path):
    from app.cli import _folder_means_gui

    assert _folder_means_gui([str(tmp_path)]) == ["gui", str(tmp_path)]
    assert _folder_means_gui(["--db", str(tmp_path / "x"), str(tmp_path)]) == ["--db", str(tmp_path / "x"), "gui", str(tmp_path)]
    assert _folder_means_gui(["scan", str(tmp_path)]) == ["scan", str(tmp_path)]
    assert _folder_means_gui([str(tmp_path / "missing")]) == [str(tmp_path / "missing")]


def test_broken_database_is_exit_2_untouched(photos, aesthete_home, tmp_path):
    bad = tmp_path / "bad.sqlite3"
    bad.write_bytes(b"garbage" * 1000)
    res = run(["--db", bad, "list"], aesthete_home)
    assert res.returncode == 2 and "left untouched" in res.stderr.decode()
    assert bad.read_bytes() == b"garbage" * 1000


def test_roots_commands(photos, aesthete_home, tmp_path):
    assert run(["roots", "add", photos], aesthete_home).returncode == 0
    out = run(["roots", "list"], aesthete_home).stdout.decode()
    assert str(photos) in out
    moved = tmp_path / "moved"
    photos.rename(moved)
    assert run(["roots", "move", photos, moved], aesthete_home).returncode == 0
    assert str(moved) in run(["roots", "list"], aesthete_home).stdout.decode()
    assert run(["roots", "remove", moved], aesthete_home).returncode == 0
    assert str(moved) not in run(["roots", "list"], aesthete_home).stdout.decode()
    assert run(["roots", "remove", moved], aesthete_home).returncode == 2


def test_a_parent_folder_added_by_mistake_can_be_undone_without_losing_marks(tmp_path, model_args, aesthete_home):
    """`best PARENT` adds the parent to the library, taking in its library folders: it says so, and
    removing the parent again keeps scores and marks, which come back with the inner folder."""
    a, b = tmp_path / "trips" / "a", tmp_path / "trips" / "b"
    for i, folder in enumerate((a, b)):
        folder.mkdir(parents=True)
        scene(i).save(folder / f"p{i}.jpg")
    assert run(["scan", a, b, *model_args], aesthete_home).returncode == 0
    assert run(["mark", "--stars", "5", "--flag", "pick", a / "p0.jpg"], aesthete_home).returncode == 0
    before = {r["path"]: r for r in map(json.loads, run(["list", "--json"], aesthete_home).stdout.decode().splitlines())}

    res = run(["best", "--json", tmp_path / "trips", *model_args], aesthete_home)
    err = res.stderr.decode()
    assert res.returncode == 0, err
    assert f"added {tmp_path / 'trips'} to the library" in err
    assert f"takes in the library folders {a}, {b}" in err
    assert run(["roots", "list"], aesthete_home).stdout.decode().split() == ["2", str(tmp_path / "trips")]

    res = run(["roots", "remove", tmp_path / "trips"], aesthete_home)
    assert res.returncode == 0 and "2 photos" in res.stderr.decode() and "stay cached" in res.stderr.decode()
    assert run(["roots", "list"], aesthete_home).stdout == b""
    assert run(["roots", "add", a], aesthete_home).returncode == 0
    after = [json.loads(l) for l in run(["list", "--json"], aesthete_home).stdout.decode().splitlines()]
    assert [r["path"] for r in after] == [str(a / "p0.jpg")]
    assert (after[0]["score"], after[0]["rating"], after[0]["flag"]) == (before[str(a / "p0.jpg")]["score"], 5, "pick")


def test_non_utf8_names_survive_json(tmp_path, model_args, aesthete_home):
    folder = tmp_path / "odd"
    folder.mkdir()
    name = os.fsdecode(b"\xff\xfe-odd.jpg")
    scene(1).save(folder / name)
    res = run(["score", "--json", folder, *model_args], aesthete_home)
    assert res.returncode == 0, res.stderr
    (line,) = res.stdout.decode("ascii").splitlines()
    obj = json.loads(line)
    assert os.fsencode(obj["path"]).endswith(b"\xff\xfe-odd.jpg")
    assert os.path.exists(obj["path"])


def start_scan(tmp_path, count, model_args, home, stderr=subprocess.DEVNULL, command=("scan",),
               stdout=subprocess.DEVNULL):
    """A folder of `count` small photos and a background `aesthete scan` of it, one photo a batch."""
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(count):
        scene(i, size=(320, 240)).save(folder / f"{i:03d}.jpg")
    env = dict(os.environ, AESTHETE_HOME=str(home), HF_HUB_OFFLINE="1", PYTHONPATH=python_path())
    db_path = tmp_path / "lib.sqlite3"
    proc = subprocess.Popen([sys.executable, "-m", "app", "--db", str(db_path), *command, str(folder),
                             "--batch-size", "1", *map(str, model_args)], env=env,
                            stdout=stdout, stderr=stderr)
    return proc, db_path


def scores_in(db_path) -> int:
    """Score rows in the database right now (0 while it does not exist yet)."""
    try:
        con = sqlite3.connect(db_path, timeout=10)
        try:
            return con.execute("SELECT count(*) FROM scores").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def wait_for_scores(proc, db_path, n: int) -> None:
    deadline = time.time() + 120
    while scores_in(db_path) < n and time.time() < deadline and proc.poll() is None:
        time.sleep(0.1)


def test_kill_9_during_scan_then_resume_scores_each_photo_once(tmp_path, model_args, aesthete_home):
    proc, db_path = start_scan(tmp_path, 40, model_args, aesthete_home)
    wait_for_scores(proc, db_path, 3)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = scores_in(db_path)
    assert 3 <= partial < 40
    con = sqlite3.connect(db_path)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # every score row is whole: photo facts written with it
    assert con.execute("SELECT count(*) FROM photos p JOIN scores s ON s.photo_id = p.id "
                       "WHERE p.score IS NULL OR p.width IS NULL").fetchone()[0] == 0
    con.close()
    res = run(["--db", db_path, "scan", *model_args], aesthete_home)
    assert res.returncode == 0, res.stderr
    con = sqlite3.connect(db_path)
    assert con.execute("SELECT count(*) FROM scores").fetchone()[0] == 40
    assert con.execute("SELECT count(*), count(DISTINCT photo_id) FROM scores").fetchone() == (40, 40)
    con.close()
    assert f"{40 - partial} scored" in res.stderr.decode()


def test_ctrl_c_stops_cleanly_and_resumes(tmp_path, model_args, aesthete_home):
    proc, db_path = start_scan(tmp_path, 30, model_args, aesthete_home, stderr=subprocess.PIPE)
    wait_for_scores(proc, db_path, 2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert b"interrupted" in err and b"Traceback" not in err
    res = run(["--db", db_path, "scan", *model_args], aesthete_home)
    assert res.returncode == 0
    con = sqlite3.connect(db_path)
    assert con.execute("SELECT count(*), count(DISTINCT photo_id) FROM scores").fetchone() == (30, 30)


def test_score_json_streams_each_photo_as_it_is_scored(tmp_path, model_args, aesthete_home):
    """Interrupted, `score --json` has already printed a line for every photo it saved."""
    proc, db_path = start_scan(tmp_path, 30, model_args, aesthete_home, command=("score", "--json"),
                               stdout=subprocess.PIPE)
    wait_for_scores(proc, db_path, 3)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 130
    lines = [json.loads(l) for l in out.decode().splitlines()]
    assert 3 <= len(lines) < 30 and all(isinstance(l["score"], float) for l in lines)
    assert len(lines) in (scores_in(db_path), scores_in(db_path) - 1)  # the last may be saved, not yet printed


LIST_PROBE = """
import runpy, sys
sys.argv = ["aesthete", *sys.argv[1:]]
try:
    runpy.run_module("app", run_name="__main__")
except SystemExit as exc:
    code = exc.code
print("heavy imports:", sorted(m for m in ("torch", "transformers") if m in sys.modules), file=sys.stderr)
sys.exit(code)
"""


def test_list_for_a_model_names_it_without_importing_torch(photos, model_args, aesthete_home):
    assert run(["scan", photos, *model_args], aesthete_home).returncode == 1
    env = dict(os.environ, AESTHETE_HOME=str(aesthete_home), HF_HUB_OFFLINE="1", PYTHONPATH=python_path())
    res = subprocess.run([sys.executable, "-c", LIST_PROBE, "list", "--json", *map(str, model_args)],
                         capture_output=True, timeout=180, env=env)
    assert res.returncode == 0, res.stderr
    assert "heavy imports: []" in res.stderr.decode()
    rows = [json.loads(l) for l in res.stdout.decode().splitlines()]
    assert len(rows) == 6 and sorted(r["state"] for r in rows) == ["failed"] + ["scored"] * 5
    assert rows == [json.loads(l) for l in run(["list", "--json"], aesthete_home).stdout.decode().splitlines()]
