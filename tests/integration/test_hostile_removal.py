"""The second hostile round, removal side: relative and linked rejects folders, crashes between a
move and its record, pairs that must move whole, marks made during a scan, photos that vanish
during a scan and come back, long names, two culls at once, and what the user is told."""
import errno
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app import curation, errors, library
from app.config import settings as settings_mod
from app.core import decode, removal
from app.library import ModelHolder, analyse, scan_folders
from app.storage import db, journal, repo
from tests.conftest import python_path, scene


def sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture
def shoot(tmp_path):
    folder = tmp_path / "shoot"
    folder.mkdir()
    for i in range(4):
        scene(10 + i * 7, (320, 240)).save(folder / f"IMG_{i}.jpg", quality=90)
    return folder


@pytest.fixture
def engine(tmp_path, shoot, model_settings):
    engine = db.open_db(tmp_path / "lib.sqlite3")
    scan_folders(engine, model_settings, [shoot])
    return engine


def row(engine, name):
    return next(p for p in repo.list_photos(engine, include_missing=True) if p.path.endswith(os.sep + name))


class Killed(BaseException):
    """Stands for kill -9: nothing after it runs, no except clause catches it."""


def crash_after_first_move(monkeypatch):
    real = journal.mark_file

    def mark_file(engine, file_id, state, *a, **kw):
        if state == "moved":
            raise Killed()
        return real(engine, file_id, state, *a, **kw)

    monkeypatch.setattr(journal, "mark_file", mark_file)
    return real


# 1. A relative --move-to, a crash, then undo from another directory.

def test_a_relative_rejects_folder_is_journaled_absolute_and_undo_works_from_anywhere(
        engine, model_settings, shoot, tmp_path, monkeypatch):
    here, elsewhere = tmp_path / "here", tmp_path / "elsewhere"
    here.mkdir(), elsewhere.mkdir()
    photo = row(engine, "IMG_1.jpg")
    original = sha(photo.path)
    monkeypatch.chdir(here)
    real = crash_after_first_move(monkeypatch)
    with pytest.raises(Killed):
        curation.remove_photos(engine, model_settings, [photo.id], rejects_folder="rejects")
    monkeypatch.setattr(journal, "mark_file", real)
    assert not os.path.exists(photo.path) and (here / "rejects" / "IMG_1.jpg").is_file()
    op = journal.unfinished(engine)[0]
    assert op.target == str(here / "rejects")  # absolute, as the user meant it when typing it
    monkeypatch.chdir(elsewhere)
    assert curation.repair(engine).moved == 1
    scan_folders(engine, model_settings, [shoot])
    assert photo.id not in {p.id for p in repo.list_photos(engine)}  # removed, not present
    undo = curation.undo_last(engine)
    assert undo.restored == [photo.path] and not undo.failed
    assert sha(photo.path) == original


def test_a_repair_that_cannot_find_a_file_keeps_it_undoable_and_says_where_it_looked(
        engine, model_settings, shoot, tmp_path, monkeypatch):
    """A journal an older release wrote with a relative folder: the repair run from elsewhere
    cannot find the file; the removal stays undoable, and undo from the right place brings it back."""
    here, elsewhere = tmp_path / "here", tmp_path / "elsewhere"
    here.mkdir(), elsewhere.mkdir()
    photo = row(engine, "IMG_2.jpg")
    rid = journal.plan(engine, "rejects", [(photo.id, photo.path, sha(photo.path))])
    (here / "rejects").mkdir()
    os.rename(photo.path, here / "rejects" / "IMG_2.jpg")
    monkeypatch.chdir(elsewhere)
    repaired = curation.repair(engine)
    assert repaired.moved == 0 and repaired.lost == 1
    assert journal.last_undoable(engine).id == rid
    undo = curation.undo_last(engine)
    assert not undo.restored and str(elsewhere / "rejects") in undo.failed[0]  # where it looked
    monkeypatch.chdir(here)
    undo = curation.undo_last(engine)
    assert undo.restored == [photo.path] and os.path.isfile(photo.path)
    scan_folders(engine, model_settings, [shoot])
    assert row(engine, "IMG_2.jpg").state == "present"


def test_a_relative_rejects_folder_setting_means_the_folder_it_named(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "settings.toml"
    settings_mod.save(path, {"rejects_folder": "not-yet/rejects"})  # need not exist yet
    monkeypatch.chdir("/")
    assert settings_mod.load(path).rejects_folder == str(tmp_path / "not-yet" / "rejects")
    monkeypatch.chdir(tmp_path)
    loaded = settings_mod.load(path, environ={"AESTHETE_REJECTS_FOLDER": "r2"})
    assert loaded.rejects_folder == str(tmp_path / "r2")


# 2. A scan importing sidecar marks never overwrites a mark made while it runs.

def test_a_mark_made_during_a_scan_wins_over_the_older_sidecar(engine, model_settings, shoot):
    photo = row(engine, "IMG_0.jpg")
    entries = [e for e in library.scanner.scan(shoot).entries if e.path == photo.path]
    entry = entries[0].__class__(**{**entries[0].__dict__, "sidecar_mtime_ns": 123})

    def sidecar_read_while_the_user_marks(e):
        curation.set_marks(engine, model_settings, [photo.id], stars=5)  # another process, meanwhile
        return (2, False, False)  # what the sidecar says

    library.sync_entries(engine, repo.list_roots(engine)[0].id, [entry], None, (), sidecar_read_while_the_user_marks)
    assert row(engine, "IMG_0.jpg").rating == 5
    # Without a mark in between, the sidecar's word is taken.
    entry = entry.__class__(**{**entry.__dict__, "sidecar_mtime_ns": 456})
    library.sync_entries(engine, repo.list_roots(engine)[0].id, [entry], None, (), lambda e: (3, False, False))
    assert row(engine, "IMG_0.jpg").rating == 3


# 3. A rejects folder reached through a symbolic link is the rejects folder.

def test_a_rejects_folder_through_a_link_is_never_scanned_back_in(engine, model_settings, shoot, tmp_path):
    real = shoot / "_rejects"
    real.mkdir()
    link = tmp_path / "rejects-link"
    link.symlink_to(real, target_is_directory=True)
    settings = settings_mod.load(overrides={**{k: model_settings.values[k] for k in ("encoder", "head")},
                                            "rejects_folder": str(link)})
    ids = [row(engine, f"IMG_{i}.jpg").id for i in range(3)]
    report = curation.remove_photos(engine, settings, ids)
    assert len(report.moved) == 3 and len(list(real.rglob("*.jpg"))) == 3
    scan_folders(engine, settings, [shoot])
    assert not [p for p in repo.list_photos(engine, include_missing=True) if str(real) in p.path]
    assert curation.undo_last(engine).restored
    scan_folders(engine, settings, [shoot])
    rows = repo.list_photos(engine, include_missing=True)
    assert len(rows) == 4 and all(p.state == "present" for p in rows)


# 4. A RAW and its JPEG move together or not at all.

def test_a_pair_whose_raw_cannot_move_stays_together(engine, model_settings, shoot, tmp_path, monkeypatch):
    (shoot / "IMG_3.NEF").write_bytes(b"raw sensor data")
    scan_folders(engine, model_settings, [shoot])
    photo = row(engine, "IMG_3.jpg")
    assert photo.companion
    before = {p: sha(p) for p in shoot.iterdir() if p.is_file()}
    real_move = removal.move_to_folder

    def disk_fills_at_the_raw(path, *a, **kw):
        if str(path).endswith(".NEF"):
            raise removal.RemovalError(f"Couldn't move {path}: [Errno 28] No space left on device")
        return real_move(path, *a, **kw)

    monkeypatch.setattr(removal, "move_to_folder", disk_fills_at_the_raw)
    report = curation.remove_photos(engine, model_settings, [photo.id], rejects_folder=str(tmp_path / "rejects"))
    assert not report.moved and any("No space left" in f for f in report.failed)
    assert {p: sha(p) for p in shoot.iterdir() if p.is_file()} == before  # both still in place
    assert not list((tmp_path / "rejects").rglob("*.*"))
    assert row(engine, "IMG_3.jpg").state == "present"
    assert curation.undo_last(engine).restored == []


# 10. A photo that vanished during a scan and came back is not left "failed".

def test_a_photo_that_vanished_during_a_rescore_is_not_left_failed(engine, model_settings, shoot, tmp_path,
                                                                   monkeypatch):
    holder = ModelHolder(model_settings)
    analyse(engine, holder, library.pending(engine, holder))
    photo = row(engine, "IMG_1.jpg")
    aside = tmp_path / "aside.jpg"
    real_decode = decode.decode

    def moved_away_meanwhile(path, *a, **kw):  # a cull in another process takes it mid-scan
        if str(path) == photo.path and os.path.exists(photo.path):
            os.rename(photo.path, aside)
        return real_decode(path, *a, **kw)

    monkeypatch.setattr(decode, "decode", moved_away_meanwhile)
    result = analyse(engine, holder, library.pending(engine, holder, rescore=True))
    monkeypatch.setattr(decode, "decode", real_decode)
    assert result.failed == 1
    os.rename(aside, photo.path)  # undo brings it back, bytes and times unchanged
    scan_folders(engine, model_settings, [shoot])
    analyse(engine, holder, library.pending(engine, holder))
    back = next(p for p in repo.list_photos(engine) if p.id == photo.id)
    assert back.status == "scored" and back.score is not None and not back.error


# 7. Long names: the cross-device copy's temporary name stays short.

def test_a_long_name_moves_across_filesystems(tmp_path, monkeypatch):
    name = "x" * 245 + ".jpg"  # 249 bytes: fine for the file, too long for ".NAME.<hex>.part"
    photo = tmp_path / "lib" / name
    photo.parent.mkdir()
    photo.write_bytes(b"long-named bytes")

    def no_link(*a, **kw):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", no_link)
    monkeypatch.setattr(os, "rename", no_link)
    moved = removal.move_to_folder(photo, tmp_path / "rejects")
    assert moved.destination.name == name and moved.destination.read_bytes() == b"long-named bytes"
    assert not photo.exists()


# 12. A partial copy a kill left behind is swept; two culls at once; names with newlines.

def test_a_partial_copy_left_by_a_kill_is_swept_at_the_next_start(engine, model_settings, shoot, tmp_path,
                                                                  monkeypatch):
    photo = row(engine, "IMG_0.jpg")
    rejects = tmp_path / "rejects"

    def killed_mid_copy(source, target, digest):
        temp = removal._temp_name(target, ".part")
        temp.write_bytes(Path(source).read_bytes()[:100])
        raise Killed()

    monkeypatch.setattr(removal, "_move_without_overwrite", killed_mid_copy)
    monkeypatch.setattr(removal, "_own_pid", lambda: 2 ** 22 + 12345)  # a process that is gone now
    with pytest.raises(Killed):
        curation.remove_photos(engine, model_settings, [photo.id], rejects_folder=str(rejects))
    assert [p.name for p in rejects.rglob("*") if p.is_file() and p.name.endswith(".part")]
    monkeypatch.undo()
    repaired = curation.repair(engine)
    assert repaired.swept == 1 and repaired.moved == 0
    assert not [p for p in rejects.rglob("*") if p.is_file()]
    assert os.path.isfile(photo.path) and journal.last_undoable(engine) is None


def test_the_loser_of_two_culls_says_the_photo_moved_away(engine, model_settings, tmp_path):
    photo = row(engine, "IMG_2.jpg")
    os.rename(photo.path, tmp_path / "taken.jpg")  # the other cull was quicker
    report = curation.remove_photos(engine, model_settings, [photo.id], rejects_folder=str(tmp_path / "r"))
    assert len(report.failed) == 1 and "moved away" in report.failed[0]
    assert "regular file" not in report.failed[0]


def cli(args, home, cwd=None):
    env = dict(os.environ, AESTHETE_HOME=str(home), HF_HUB_OFFLINE="1", PYTHONPATH=python_path())
    return subprocess.run([sys.executable, "-m", "app", *map(str, args)], capture_output=True, env=env,
                          timeout=300, stdin=subprocess.DEVNULL, cwd=cwd)


def test_text_list_escapes_control_characters_in_names(tmp_path, aesthete_home, tiny_encoder, head_file):
    folder = tmp_path / "odd"
    folder.mkdir()
    scene(3, (64, 48)).save(folder / "two\nlines.jpg")
    res = cli(["scan", folder, "--encoder", tiny_encoder, "--head", head_file], aesthete_home)
    assert res.returncode == 0, res.stderr
    res = cli(["list", folder], aesthete_home)
    lines = [l for l in res.stdout.decode().splitlines() if l.strip()]
    assert len(lines) == 1 and "two\\nlines.jpg" in lines[0], res.stdout


# 11. What a full disk during a cull tells the user, and what the repair line counts.

def test_a_full_disk_mid_cull_says_what_moved_and_that_undo_puts_it_back(engine, model_settings, tmp_path,
                                                                        monkeypatch):
    from sqlalchemy.exc import OperationalError

    ids = [row(engine, f"IMG_{i}.jpg").id for i in range(3)]
    real = journal.mark_file

    def disk_full(engine_, file_id, state, *a, **kw):
        if state == "moved":
            raise OperationalError("UPDATE removal_files", {}, Exception("database or disk is full"))
        return real(engine_, file_id, state, *a, **kw)

    monkeypatch.setattr(journal, "mark_file", disk_full)
    with pytest.raises(errors.DatabaseError) as caught:
        curation.remove_photos(engine, model_settings, ids, rejects_folder=str(tmp_path / "r"))
    text = str(caught.value)
    assert "1 file" in text and "undo" in text and str(tmp_path / "r") in text
    monkeypatch.setattr(journal, "mark_file", real)
    assert len(list((tmp_path / "r").rglob("*.jpg"))) == 1  # it stopped at the first failed record
    repaired = curation.repair(engine)
    assert repaired.moved == 1 and repaired.skipped == 2
    assert len(curation.undo_last(engine).restored) == 1
