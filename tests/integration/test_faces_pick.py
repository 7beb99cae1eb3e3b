"""Faces end to end: a generated group-photo burst (real faces with open and closed eyes pasted into a
real scene) analysed through the real pass with the tiny random encoder; the open-eyed frame is the pick
whatever the scores, and the eyes rule culls the blinks of the burst but never a lone blinking photo."""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest
from PIL import Image
from sqlalchemy import text

from app import curation, library
from app.config import settings as settings_mod
from app.core.faces import FaceReport
from app.library import ModelHolder, analyse, scan_folders
from app.storage import db, repo
from tests import faces_burst
from tests.conftest import SHARED, python_path
from tests.unit import imagegen

FACES_MODEL = SHARED / "models" / "face_landmarker.task"
needs_faces = pytest.mark.skipif(
    not (faces_burst.available() and FACES_MODEL.is_file() and importlib.util.find_spec("mediapipe")),
    reason="needs ../shared (real faces, photos, face_landmarker.task) and mediapipe")


def taken_at(hour: int, seconds: int, subsec: str) -> bytes:
    exif = Image.Exif()
    ifd = exif.get_ifd(0x8769)
    ifd[0x9003] = f"2024:06:01 {hour:02d}:00:{seconds:02d}"
    ifd[0x9291] = subsec
    return exif.tobytes()


@pytest.fixture
def party(tmp_path):
    """A burst of three frames 0.2 s apart (GROUP_0 all eyes open, GROUP_1 and GROUP_2 one blink each)
    and, an hour later in another scene, a lone photo of the same people with a blink."""
    folder = tmp_path / "party"
    folder.mkdir()
    for i, frame in enumerate(faces_burst.group_burst(people=3, frames=3)):
        assert frame.closed == [False, i == 1, i == 2]
        frame.image.save(folder / f"GROUP_{i}.jpg", quality=92, exif=taken_at(10, 0, f"{i * 2}0"))
    lone = faces_burst.group_burst(people=3, frames=1, closed={0: 1}, background=SHARED / "photos" / "Dune.jpg")[0]
    lone.image.save(folder / "LONE.jpg", quality=92, exif=taken_at(11, 30, "00"))
    return folder


def _by_name(engine):
    return {os.path.basename(r.path): r for r in repo.curation_rows(engine)}


@needs_faces
def test_the_open_eyed_frame_is_the_pick_whatever_the_scores(party, tiny_encoder, head_file, tmp_path):
    engine = db.open_db(tmp_path / "lib.sqlite3")
    base = {"encoder": str(tiny_encoder), "head": str(head_file), "device": "cpu"}
    off = settings_mod.load(overrides=base)  # nothing downloaded: face checks are off
    scan_folders(engine, off, [party])
    holder = ModelHolder(off)
    first = analyse(engine, holder, library.pending(engine, holder))
    assert first.scored == 4 and first.faces_off.startswith("Face checks are off")
    assert all(r.faces is None for r in _by_name(engine).values())

    # Face checks on: the photos analysed without them get their faces, decoded again without the encoder.
    on = settings_mod.load(overrides={**base, "faces_model": str(FACES_MODEL)})
    holder = ModelHolder(on)
    items = library.pending(engine, holder)
    assert len(items) == 4 and not any(i.needs_score for i in items)
    second = analyse(engine, holder, items)
    assert (second.scored, second.updated, second.faces_off) == (0, 4, None)
    assert library.pending(engine, holder) == []
    rows = _by_name(engine)
    reports = {name: FaceReport.from_json(r.faces) for name, r in rows.items()}
    assert {name: (len(rep.prominent()), rep.eyes_closed) for name, rep in reports.items()} == {
        "GROUP_0.jpg": (3, False), "GROUP_1.jpg": (3, True), "GROUP_2.jpg": (3, True), "LONE.jpg": (3, True)}

    assert {p.name: p.closed_eyes for p in repo.list_photos(engine, eyes_closed=True)} == {
        "GROUP_1.jpg": 1, "GROUP_2.jpg": 1, "LONE.jpg": 1}  # the grid's "Eyes closed" filter

    # The open-eyed frame made the worst-scored by construction: it is still the pick.
    lowest = min(r.score for r in rows.values()) - 1.0
    with engine.begin() as conn:
        conn.execute(text("UPDATE photos SET score = :s WHERE name = 'GROUP_0.jpg'"), {"s": lowest})
    burst = next(g for g in curation.load_groups(engine, on) if len(g.members) == 3)
    assert sorted(m.row.name for m in burst.members) == ["GROUP_0.jpg", "GROUP_1.jpg", "GROUP_2.jpg"]
    assert burst.pick.row.name == "GROUP_0.jpg"
    assert burst.reason.startswith("eyes open on all 3 faces;") and "others: 2 with closed eyes" in burst.reason
    assert f"score {lowest:.1f}" in burst.reason
    # The face strip's lineup: the three people left to right, each blink in its frame and place.
    names = {m.row.id: m.row.name for m in burst.members}
    assert burst.lineup.people == 3
    assert {names[pid]: [f.closed for f in row] for pid, row in burst.lineup.frames.items()} == {
        "GROUP_0.jpg": [False, False, False], "GROUP_1.jpg": [False, True, False],
        "GROUP_2.jpg": [False, False, True]}

    cull = curation.cull_list(engine, on, str(party), rules="eyes")
    assert sorted((i.member.row.name, i.reasons) for i in cull.items) == [
        ("GROUP_1.jpg", ("eyes closed (1 of 3 faces)",)), ("GROUP_2.jpg", ("eyes closed (1 of 3 faces)",))]
    assert "LONE.jpg" not in {m.row.name for g in curation.load_groups(engine, on) for m in g.members}

    # Without the faces the scores decide, and a blinking frame would have been kept.
    with engine.begin() as conn:
        conn.execute(text("UPDATE photos SET faces = NULL"))
    burst = next(g for g in curation.load_groups(engine, on) if len(g.members) == 3)
    assert burst.pick.row.name != "GROUP_0.jpg" and "eyes" not in burst.reason


def test_the_command_line_says_once_that_face_checks_are_off(tmp_path, tiny_encoder, head_file, aesthete_home):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(3):
        imagegen.scene(i, (640, 480)).save(folder / f"p{i}.jpg", quality=90)
    env = dict(os.environ, AESTHETE_HOME=str(aesthete_home), HF_HUB_OFFLINE="1", PYTHONPATH=python_path())
    res = subprocess.run([sys.executable, "-m", "app", "scan", str(folder), "--encoder", str(tiny_encoder),
                          "--head", str(head_file), "--device", "cpu"], capture_output=True, env=env, timeout=300,
                         stdin=subprocess.DEVNULL)
    assert res.returncode == 0, res.stderr
    said = [line for line in res.stderr.decode().splitlines() if line.startswith("face checks are off: ")]
    assert len(said) == 1 and "aesthete download" in said[0] and "--faces-model FILE" in said[0], res.stderr
    assert b"3 scored" in res.stderr  # everything else works


@needs_faces
def test_the_command_line_lists_the_photos_with_closed_eyes(party, tiny_encoder, head_file, aesthete_home):
    env = dict(os.environ, AESTHETE_HOME=str(aesthete_home), HF_HUB_OFFLINE="1", PYTHONPATH=python_path())
    common = ["--encoder", str(tiny_encoder), "--head", str(head_file), "--faces-model", str(FACES_MODEL)]
    res = subprocess.run([sys.executable, "-m", "app", "scan", str(party), *common], capture_output=True, env=env,
                         timeout=300, stdin=subprocess.DEVNULL)
    assert res.returncode == 0, res.stderr
    res = subprocess.run([sys.executable, "-m", "app", "list", "--eyes-closed", "--json"], capture_output=True,
                         env=env, timeout=120)
    assert res.returncode == 0, res.stderr
    rows = [json.loads(line) for line in res.stdout.decode().splitlines()]
    assert sorted((os.path.basename(r["path"]), r["closed_eyes"]) for r in rows) == [
        ("GROUP_1.jpg", 1), ("GROUP_2.jpg", 1), ("LONE.jpg", 1)]
    res = subprocess.run([sys.executable, "-m", "app", "list", "--json"], capture_output=True, env=env, timeout=120)
    assert {os.path.basename(json.loads(line)["path"]): json.loads(line)["closed_eyes"]
            for line in res.stdout.decode().splitlines()}["GROUP_0.jpg"] == 0
