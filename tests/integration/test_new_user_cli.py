"""What a new user's trial of the command line found: help that tells the truth, failures named,
counts in good English, and exports of exactly what was asked for, folders kept."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import python_path, scene


def cli(args, home, **kw):
    env = dict(os.environ, AESTHETE_HOME=str(home), HF_HUB_OFFLINE="1", PYTHONPATH=python_path())
    env.pop("AESTHETE_REJECTS_FOLDER", None)
    return subprocess.run([sys.executable, "-m", "app", *map(str, args)], capture_output=True, env=env,
                          timeout=300, stdin=subprocess.DEVNULL, **kw)


def flat(text: bytes) -> str:
    return " ".join(text.decode().split())


@pytest.fixture
def model(tiny_encoder, head_file):
    return ["--encoder", tiny_encoder, "--head", head_file]


def test_cull_help_names_the_default_that_applies(aesthete_home, tmp_path):
    plain = flat(cli(["cull", "--help"], aesthete_home).stdout)
    assert "move to the system trash (the default" in plain
    rejects = tmp_path / "Rejects"
    assert cli(["settings", "--set", "rejects_folder", rejects], aesthete_home).returncode == 0
    configured = cli(["cull", "--help"], aesthete_home).stdout.decode()
    squeezed = "".join(configured.split())  # help wraps long paths at their hyphens
    assert "".join(f"default: the rejects folder {rejects}".split()) in squeezed
    assert "(default)" not in configured and "the default, as" not in flat(configured.encode())
    # A settings file named with --config counts too.
    other = tmp_path / "other.toml"
    other.write_text(f'rejects_folder = "{tmp_path / "Elsewhere"}"\n')
    named = "".join(cli(["cull", "--config", other, "--help"], aesthete_home).stdout.decode().split())
    assert "".join(f"default: the rejects folder {tmp_path / 'Elsewhere'}".split()) in named


def test_score_json_names_each_failed_photo_on_stderr(tmp_path, model, aesthete_home):
    folder = tmp_path / "photos"
    folder.mkdir()
    scene(0).save(folder / "good.jpg")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    for attempt in ("first", "cached"):  # scored now, then answered from the cache: named both times
        res = cli(["score", "--json", folder, *model], aesthete_home)
        assert res.returncode == 1, res.stderr
        rows = [json.loads(line) for line in res.stdout.decode().splitlines()]  # stdout: JSON only
        assert len(rows) == 2, attempt
        err = res.stderr.decode()
        assert f"failed: {folder / 'broken.jpg'}: " in err, (attempt, err)
        assert "not a readable JPG" in err.split(f"failed: {folder / 'broken.jpg'}: ")[1].splitlines()[0]
        assert "good.jpg" not in err


def test_counts_are_said_in_good_english(tmp_path, model, aesthete_home):
    folder = tmp_path / "trip"
    folder.mkdir()
    scene(0).save(folder / "a.jpg")
    shutil.copy2(folder / "a.jpg", folder / "a copy.jpg")  # one group: exact copies
    scene(5).save(folder / "b.jpg")
    (folder / "notes.txt").write_text("not a photo")
    res = cli(["scan", folder, *model], aesthete_home)
    assert res.returncode == 0, res.stderr
    assert b"1 other file passed over" in res.stderr
    res = cli(["best", folder, *model], aesthete_home)
    assert res.returncode == 0, res.stderr
    assert b"1 group, 2 photos in groups" in res.stderr
    rejects = tmp_path / "rejects"
    res = cli(["cull", "--yes", "--rules", "copy", "--move-to", rejects, folder, *model], aesthete_home)
    assert res.returncode == 0, res.stderr
    assert b"moved 1 file to" in res.stderr
    res = cli(["undo"], aesthete_home)
    assert res.returncode == 0 and b"restored 1 file\n" in res.stderr, res.stderr
    moved = tmp_path / "moved trip"
    os.rename(folder, moved)
    res = cli(["roots", "move", folder, moved], aesthete_home)
    assert res.returncode == 0, res.stderr
    said = flat(res.stderr)
    assert f"the library's records of 3 photos now point to {moved} (no files were moved)" in said
    assert "moved 3 photos" not in said


def test_export_picks_or_keepers_keeping_folders(tmp_path, model, aesthete_home):
    folder = tmp_path / "trip"
    (folder / "day1").mkdir(parents=True)
    (folder / "day2").mkdir()
    scene(0).save(folder / "day1" / "a.jpg")
    (folder / "day1" / "a.NEF").write_bytes(b"raw sensor data")
    scene(5).save(folder / "day2" / "b.jpg")
    shutil.copy2(folder / "day2" / "b.jpg", folder / "day2" / "b copy.jpg")  # a group with an automatic keeper
    scene(9).save(folder / "day2" / "c.jpg")
    db_path = tmp_path / "lib.sqlite3"
    common = ["--db", db_path, *model]
    assert cli(["scan", folder, *common], aesthete_home).returncode == 0
    res = cli(["mark", "--flag", "pick", folder / "day1" / "a.jpg", "--db", db_path], aesthete_home)
    assert res.returncode == 0, res.stderr

    picks = tmp_path / "Picks"
    res = cli(["export", "--picks", picks, folder, *common], aesthete_home)
    assert res.returncode == 0, res.stderr
    said = res.stderr.decode()
    assert f"exporting 1 pick (2 files with RAW companions) to {picks}" in said
    assert said.index("exporting") < said.index("copied 2 files")
    assert sorted(str(p.relative_to(picks)) for p in picks.rglob("*") if p.is_file()) == \
        [os.path.join("day1", "a.NEF"), os.path.join("day1", "a.jpg")]  # the pick alone, folders kept

    keepers = tmp_path / "Keepers"
    res = cli(["export", "--keepers", keepers, folder, *common], aesthete_home)
    assert res.returncode == 0, res.stderr
    assert f"exporting 2 keepers (your picks and each group's keeper) (3 files with RAW companions) to {keepers}" \
        in res.stderr.decode()
    copied = sorted(str(p.relative_to(keepers)) for p in keepers.rglob("*") if p.is_file())
    assert copied[:2] == [os.path.join("day1", "a.NEF"), os.path.join("day1", "a.jpg")]
    assert len(copied) == 3 and copied[2] in (os.path.join("day2", "b.jpg"), os.path.join("day2", "b copy.jpg"))

    # The GUI's "All photos" (no folder): below the library root, the root's own name first.
    from app import curation
    from app.config import settings as settings_mod
    from app.storage import db

    engine = db.open_db(db_path)
    try:
        settings = settings_mod.load(overrides={"encoder": str(model[1]), "head": str(model[3])})
        assert [Path(r.path).name for r in curation.export_list(engine, settings, None)] == ["a.jpg"]
        assert len(curation.export_list(engine, settings, None, keepers=True)) == 2
        everything = tmp_path / "Everything"
        report = curation.export_picks(engine, settings, everything)
        assert sorted(p.relative_to(everything) for p in report.copied) == \
            [Path("trip", "day1", "a.NEF"), Path("trip", "day1", "a.jpg")]
    finally:
        engine.dispose()


def test_export_with_no_picks_says_so(tmp_path, model, aesthete_home):
    folder = tmp_path / "trip"
    folder.mkdir()
    scene(0).save(folder / "a.jpg")
    res = cli(["export", "--picks", tmp_path / "Picks", folder, *model], aesthete_home)
    assert res.returncode == 0, res.stderr
    assert b"nothing to export: no photo under" in res.stderr and b"--keepers" in res.stderr
    assert not (tmp_path / "Picks").exists()
