"""Best shots and culling end to end: generated bursts, explained picks, removal and undo."""
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from app import curation, library
from app.library import ModelHolder, analyse, scan_folders
from app.storage import db, journal, repo
from tests.conftest import python_path
from tests.unit import imagegen



def exif_at(seconds: int, subsec: str) -> bytes:
    exif = Image.Exif()
    ifd = exif.get_ifd(0x8769)
    ifd[0x9003] = f"2024:06:01 10:00:{seconds:02d}"
    ifd[0x9291] = subsec
    return exif.tobytes()


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def shoot(tmp_path):
    """A burst of one scene (sharp, shifted, blurred, dark, blown) 0.2 s apart, a second scene
    an hour later, and the first scene again an hour later (similar, not burst)."""
    folder = tmp_path / "shoot"
    folder.mkdir()
    base = imagegen.scene(1, (1280, 960))
    frames = {
        "IMG_01.jpg": base,
        "IMG_02.jpg": imagegen.shifted(base, 8, 4),
        "IMG_03.jpg": imagegen.blurred(base, 4),
        "IMG_04.jpg": imagegen.exposed(base, -3),
        "IMG_05.jpg": imagegen.exposed(base, 2.5),
    }
    for i, (name, im) in enumerate(frames.items()):
        im.save(folder / name, quality=92, exif=exif_at(0, f"{i * 2}0"))
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = "2024:06:01 11:30:00"
    imagegen.scene(50, (1280, 960)).save(folder / "OTHER.jpg", quality=92, exif=exif.tobytes())
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = "2024:06:01 12:00:00"
    imagegen.shifted(base, -6, 0).save(folder / "LATER.jpg", quality=92, exif=exif.tobytes())
    return folder


@pytest.fixture
def analysed(shoot, model_settings, tmp_path):
    engine = db.open_db(tmp_path / "lib.sqlite3")
    scan_folders(engine, model_settings, [shoot])
    holder = ModelHolder(model_settings)
    result = analyse(engine, holder, library.pending(engine, holder))
    assert result.scored == 7
    return engine


def names(members):
    return sorted(os.path.basename(m.row.path) for m in members)


def test_exact_copies_say_why_one_copy_is_kept(analysed, model_settings, shoot):
    import shutil

    (shoot / "backup").mkdir()
    shutil.copy2(shoot / "OTHER.jpg", shoot / "backup" / "OTHER.jpg")
    scan_folders(analysed, model_settings, [shoot])
    holder = ModelHolder(model_settings)
    analyse(analysed, holder, library.pending(analysed, holder))
    exact = next(g for g in curation.load_groups(analysed, model_settings, str(shoot)) if g.kind == "exact")
    assert names(exact.members) == ["OTHER.jpg", "OTHER.jpg"]
    assert exact.pick.row.path == str(shoot / "OTHER.jpg")  # the first one seen
    assert exact.reason == "identical files: the one first seen in the library is kept"


def test_burst_is_grouped_and_a_sound_frame_is_picked(analysed, model_settings, shoot):
    groups = curation.load_groups(analysed, model_settings, str(shoot))
    kinds = {g.kind: g for g in groups}
    burst = kinds["burst"]
    assert names(burst.members) == ["IMG_01.jpg", "IMG_02.jpg", "IMG_03.jpg", "IMG_04.jpg", "IMG_05.jpg"]
    faulted = {os.path.basename(m.row.path): m.faults for m in burst.members}
    assert faulted["IMG_03.jpg"] == ["out of focus"]
    assert faulted["IMG_04.jpg"] == ["darker than the best-exposed frame by 3 stops"]
    assert len(faulted["IMG_05.jpg"]) == 1 and faulted["IMG_05.jpg"][0].startswith("highlights lost on")
    pick = burst.pick
    assert os.path.basename(pick.row.path) in ("IMG_01.jpg", "IMG_02.jpg")
    sound = [m for m in burst.members if not m.faults]
    assert pick.row.score == max(m.row.score for m in sound)  # among sound frames the score decides
    assert str(round(pick.row.score, 1)) in burst.reason
    # the far-apart copy of the scene is not part of the burst
    all_grouped = {os.path.basename(m.row.path) for g in groups for m in g.members}
    assert "OTHER.jpg" not in all_grouped


def test_user_pick_wins_and_survives_a_rescan(analysed, model_settings, shoot):
    burst = next(g for g in curation.load_groups(analysed, model_settings, str(shoot)) if g.kind == "burst")
    other = next(m for m in burst.members if m.row.id != burst.pick_id and not m.faults)
    curation.pick_in_group(analysed, model_settings, burst, other.row.id)
    scan_folders(analysed, model_settings, [shoot])
    again = next(g for g in curation.load_groups(analysed, model_settings, str(shoot)) if g.kind == "burst")
    assert again.pick_id == other.row.id and "your pick" in again.reason


TECHNICAL = "blur,exposure,extra,copy"


def test_cull_candidates_respect_stars_and_picks(analysed, model_settings, shoot):
    found = curation.cull_list(analysed, model_settings, str(shoot), rules=TECHNICAL)
    items = {os.path.basename(i.member.row.path): i for i in found.items}
    # The burst's frames other than its pick (a sound frame) go; the pick, the lone scene and the
    # similar shot's pick stay: no scene goes whole.
    assert {"IMG_03.jpg", "IMG_04.jpg", "IMG_05.jpg"} <= set(items)
    assert "OTHER.jpg" not in items and found.scenes_lost == 0
    assert items["IMG_03.jpg"].rules == ("blur", "extra") and items["IMG_03.jpg"].reasons[0] == "out of focus"
    assert items["IMG_04.jpg"].rules == ("exposure", "extra")
    assert found.by_rule["extra"] >= 3 and found.by_rule["blur"] == 1
    blurred = next(p for p in repo.list_photos(analysed) if p.path.endswith("IMG_03.jpg"))
    curation.set_marks(analysed, model_settings, [blurred.id], stars=3)
    items = curation.cull_list(analysed, model_settings, str(shoot), rules=TECHNICAL).items
    assert "IMG_03.jpg" not in {os.path.basename(i.member.row.path) for i in items}
    # --below alone is the score rule alone: a threshold above every score makes every unstarred
    # photo a candidate, and every scene would go whole (which the list says).
    everything = curation.cull_list(analysed, model_settings, str(shoot), below=10)
    scores = [it.member.row.score for it in everything.items]
    assert scores == sorted(scores)  # worst first
    assert len(everything.items) == 6 and all(i.rules == ("score",) for i in everything.items)
    assert everything.rules == {"score"} and everything.scenes_lost == 0  # the starred frame keeps the burst
    curation.set_marks(analysed, model_settings, [blurred.id], stars=0)
    assert curation.cull_list(analysed, model_settings, str(shoot), below=10).scenes_lost == 1
    # The setting's rules apply when neither is given; the threshold is the setting's too.
    default = curation.cull_list(analysed, model_settings, str(shoot))
    assert default.rules == set(model_settings.cull_rules) and default.below == model_settings.cull_threshold


def test_remove_to_rejects_folder_and_undo_restore_bytes(analysed, model_settings, shoot, tmp_path):
    raw = shoot / "IMG_03.NEF"
    raw.write_bytes(b"raw sensor data")
    scan_folders(analysed, model_settings, [shoot])  # the NEF becomes IMG_03.jpg's companion
    before = {p: sha(p) for p in shoot.iterdir()}
    target = next(p for p in repo.list_photos(analysed) if p.path.endswith("IMG_03.jpg"))
    assert target.companion == str(raw)
    rejects = tmp_path / "rejects"
    report = curation.remove_photos(analysed, model_settings, [target.id], rejects_folder=str(rejects))
    assert sorted(os.path.basename(m) for m in report.moved) == ["IMG_03.NEF", "IMG_03.jpg"]
    assert not (shoot / "IMG_03.jpg").exists() and not raw.exists()
    assert sorted(f.name for f in rejects.rglob("*") if f.is_file()) == ["IMG_03.NEF", "IMG_03.jpg"]
    assert target.id not in {p.id for p in repo.list_photos(analysed)}
    scan_folders(analysed, model_settings, [shoot])  # a rescan does not call it missing
    assert target.id not in {p.id for p in repo.list_photos(analysed, include_missing=True)
                             if p.state == "missing"}
    undo = curation.undo_last(analysed)
    assert len(undo.restored) == 2 and not undo.failed
    assert {p: sha(p) for p in shoot.iterdir()} == before
    assert target.id in {p.id for p in repo.list_photos(analysed)}
    assert curation.undo_last(analysed).removal_id is None  # nothing more to undo


def test_undo_never_overwrites_a_file_in_the_way(analysed, model_settings, shoot, tmp_path):
    target = next(p for p in repo.list_photos(analysed) if p.path.endswith("IMG_04.jpg"))
    original = sha(Path(target.path))
    curation.remove_photos(analysed, model_settings, [target.id], rejects_folder=str(tmp_path / "r"))
    Path(target.path).write_bytes(b"a new file took the name")
    undo = curation.undo_last(analysed)
    assert undo.failed and not undo.restored
    assert Path(target.path).read_bytes() == b"a new file took the name"
    moved = next((tmp_path / "r").rglob("IMG_04.jpg"))
    assert sha(moved) == original


def test_undo_removes_the_folders_the_cull_made_under_the_rejects_folder(shoot, model_settings, tmp_path):
    engine = db.open_db(tmp_path / "lib.sqlite3")
    deep = shoot / "day1" / "evening"
    deep.mkdir(parents=True)
    os.rename(shoot / "IMG_03.jpg", deep / "IMG_03.jpg")
    scan_folders(engine, model_settings, [shoot])
    target = next(p for p in repo.list_photos(engine) if p.path.endswith("IMG_03.jpg"))
    other = next(p for p in repo.list_photos(engine) if p.path.endswith("IMG_04.jpg"))
    rejects = tmp_path / "rejects"
    (rejects / "older").mkdir(parents=True)
    (rejects / "older" / "kept.jpg").write_bytes(b"an earlier reject")
    report = curation.remove_photos(engine, model_settings, [target.id], rejects_folder=str(rejects))
    assert report.moved and (rejects / "day1" / "evening" / "IMG_03.jpg").is_file()
    assert curation.undo_last(engine).restored == [target.path]
    assert (deep / "IMG_03.jpg").is_file()
    assert sorted(p.name for p in rejects.iterdir()) == ["older"]  # day1/evening went; the rest stays
    assert (rejects / "older" / "kept.jpg").read_bytes() == b"an earlier reject"
    # A removal straight into the rejects folder: undo leaves the (now empty) rejects folder itself.
    (rejects / "older" / "kept.jpg").unlink()
    (rejects / "older").rmdir()
    curation.remove_photos(engine, model_settings, [other.id], rejects_folder=str(rejects))
    assert curation.undo_last(engine).restored == [other.path]
    assert rejects.is_dir() and not any(rejects.iterdir())


def test_interrupted_removal_is_repaired(analysed, model_settings, shoot, tmp_path):
    """A kill between writing the journal and moving the files: the next start sorts it out."""
    a = next(p for p in repo.list_photos(analysed) if p.path.endswith("IMG_04.jpg"))
    b = next(p for p in repo.list_photos(analysed) if p.path.endswith("IMG_05.jpg"))
    rejects = tmp_path / "rejects"
    rid = journal.plan(analysed, str(rejects), [(a.id, a.path, sha(Path(a.path))),
                                                (b.id, b.path, sha(Path(b.path)))])
    rejects.mkdir()
    os.rename(b.path, rejects / "IMG_05.jpg")  # the move of b happened, a's did not
    repaired = curation.repair(analysed)
    assert (repaired.moved, repaired.skipped, repaired.lost) == (1, 1, 0)
    op = journal.get(analysed, rid)
    assert [f.state for f in op.files] == ["skipped", "moved"]
    undo = curation.undo_last(analysed)
    assert undo.restored == [b.path] and Path(b.path).exists() and Path(a.path).exists()


def test_export_copies_picks_without_touching_originals(analysed, model_settings, shoot, tmp_path):
    before = {p: sha(p) for p in shoot.iterdir()}
    dest = tmp_path / "keepers"
    copied = curation.export_picks(analysed, model_settings, dest, str(shoot), keepers=True).copied
    burst = next(g for g in curation.load_groups(analysed, model_settings, str(shoot)) if g.kind == "burst")
    assert os.path.basename(burst.pick.row.path) in {p.name for p in copied}
    assert {p: sha(p) for p in shoot.iterdir()} == before
    # Again: nothing is copied twice.
    again = curation.export_picks(analysed, model_settings, dest, str(shoot), keepers=True)
    assert again.copied == [] and sorted(again.already) == sorted(copied)


def test_an_export_inside_the_library_does_not_come_back_as_duplicates(analysed, model_settings, shoot):
    """Keepers exported into a library folder are not scanned back in: they would be exact copies
    of their originals, cull candidates, and would change which frame is each group's pick."""
    picks_before = {g.pick.row.path for g in curation.load_groups(analysed, model_settings, str(shoot))}
    report = curation.export_picks(analysed, model_settings, shoot / "Keepers", str(shoot), keepers=True)
    assert report.copied and all(str(p).startswith(str(shoot / "Keepers")) for p in report.copied)
    summary = scan_folders(analysed, model_settings, [shoot])
    assert summary.reports[str(shoot)].new == 0
    root = repo.list_roots(analysed)[0]
    synced, _ = library.sync_folder(analysed, model_settings, root.id, str(shoot / "Keepers"))  # the watcher
    assert synced.new == 0
    assert not [p for p in repo.list_photos(analysed, include_missing=True) if "Keepers" in p.path]
    assert {g.pick.row.path for g in curation.load_groups(analysed, model_settings, str(shoot))} == picks_before
    # A folder of the library itself is refused (scans would then skip its photos).
    with pytest.raises(curation.ExportError, match="holds 7 photos of the library"):
        curation.export_picks(analysed, model_settings, shoot, str(shoot))
    # Scanning the export folder on purpose makes it part of the library.
    assert scan_folders(analysed, model_settings, [shoot / "Keepers"]).reports[str(shoot)].new == len(report.copied)


def test_a_removed_folder_leaves_best_shots_cull_and_exports(analysed, model_settings, shoot):
    assert curation.cull_list(analysed, model_settings, None, below=10).items
    assert repo.remove_root(analysed, shoot) == 7
    assert curation.cull_list(analysed, model_settings, None, below=10).items == []
    assert curation.load_groups(analysed, model_settings) == []
    assert curation.picks(analysed, model_settings) == []


def test_quality_is_filled_for_photos_analysed_by_an_older_release(shoot, model_settings, tmp_path):
    engine = db.open_db(tmp_path / "lib.sqlite3")
    scan_folders(engine, model_settings, [shoot])
    holder = ModelHolder(model_settings)
    analyse(engine, holder, library.pending(engine, holder))
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE photos SET analysis_version = 2, focus = NULL, focus_tiles = NULL")
    fresh = ModelHolder(model_settings)
    items = library.pending(engine, fresh)
    assert len(items) == 7 and not any(i.needs_score for i in items)
    result = analyse(engine, fresh, items)
    assert result.updated == 7 and result.scored == 0
    assert fresh.loaded is None  # no model was needed
    assert all(r.quality for r in repo.curation_rows(engine))


def cli(args, home, xdg, **kw):
    env = dict(os.environ, AESTHETE_HOME=str(home), XDG_DATA_HOME=str(xdg), HF_HUB_OFFLINE="1",
               PYTHONPATH=python_path())
    return subprocess.run([sys.executable, "-m", "app", *map(str, args)], capture_output=True, env=env,
                          timeout=300, stdin=subprocess.DEVNULL, **kw)


def test_cli_best_cull_trash_and_undo(shoot, tiny_encoder, head_file, tmp_path, aesthete_home):
    xdg = tmp_path / "xdg"
    model = ["--encoder", tiny_encoder, "--head", head_file]
    res = cli(["best", "--json", shoot, *model], aesthete_home, xdg)
    assert res.returncode == 0, res.stderr
    groups = [json.loads(l) for l in res.stdout.decode().splitlines()]
    burst = next(g for g in groups if g["kind"] == "burst")
    assert len(burst["members"]) == 5 and burst["pick"] in [m["path"] for m in burst["members"]]
    assert burst["reason"] and all("faults" in m for m in burst["members"])
    before = {p: sha(p) for p in shoot.iterdir()}
    res = cli(["cull", "--json", "--rules", "blur,exposure,extra", shoot, *model], aesthete_home, xdg)
    assert res.returncode == 2 and b"no terminal to confirm" in res.stderr  # nothing moved without --yes
    assert {p: sha(p) for p in shoot.iterdir()} == before
    candidates = [json.loads(l) for l in res.stdout.decode().splitlines()]
    assert candidates and all(c["reasons"] and c["rules"] for c in candidates)
    assert set(candidates[0]) == {"path", "score", "rules", "reasons"}
    assert b"under rules blur, exposure, extra" in res.stderr and b"by rule: blur 1, exposure 2, extra" in res.stderr
    res = cli(["cull", "--json", "--rules", "blurry", shoot, *model], aesthete_home, xdg)
    assert res.returncode == 2 and b"unknown cull rule 'blurry'" in res.stderr
    res = cli(["cull", "--yes", "--trash", "--rules", "blur,exposure,extra", shoot, *model], aesthete_home, xdg)
    assert res.returncode == 0, res.stderr
    gone = [p for p in before if not p.exists()]
    assert len(gone) == len(candidates)
    trashed = list((xdg / "Trash" / "files").iterdir())
    assert len(trashed) == len(gone)
    res = cli(["undo"], aesthete_home, xdg)
    assert res.returncode == 0, res.stderr
    assert {p: sha(p) for p in shoot.iterdir()} == before
    assert not list((xdg / "Trash" / "files").iterdir())
    assert not list((xdg / "Trash" / "info").iterdir())


@pytest.fixture
def scenes_and_wallpapers(tmp_path, model_settings):
    """Three generated bursts (sharp, shifted, out of focus, under, over) and two lone small photos
    (1280x720 and 512x768), analysed: what the first real-photo trial culled 14 of 17 from."""
    folder = tmp_path / "mixed"
    folder.mkdir()
    for seed in (1, 2, 3):
        base = imagegen.scene(seed, (1600, 1067))
        frames = [base, imagegen.shifted(base, 10, 6), imagegen.blurred(base, 4), imagegen.exposed(base, -3),
                  imagegen.exposed(base, 2.5)]
        for i, im in enumerate(frames):
            im.save(folder / f"burst{seed}_{i}.jpg", quality=92, exif=exif_at(seed * 10, f"{i * 2}0"))
    imagegen.scene(7, (1280, 720)).save(folder / "wall_wide.jpg", quality=92)
    imagegen.scene(8, (512, 768)).save(folder / "wall_tall.jpg", quality=92)
    engine = db.open_db(tmp_path / "lib.sqlite3")
    scan_folders(engine, model_settings, [folder])
    holder = ModelHolder(model_settings)
    assert analyse(engine, holder, library.pending(engine, holder)).scored == 17
    return engine, folder


def test_a_cull_never_takes_a_whole_scene_on_technical_or_group_grounds(scenes_and_wallpapers, model_settings):
    engine, folder = scenes_and_wallpapers
    technical = curation.cull_list(engine, model_settings, str(folder), rules="blur,exposure,extra,copy")
    names = {os.path.basename(i.member.row.path): i for i in technical.items}
    # Each burst keeps its pick (a sound frame); the lone small photos are no candidates for their size.
    assert len(technical.items) == 12 and technical.scenes_lost == 0
    assert not {"wall_wide.jpg", "wall_tall.jpg"} & set(names)
    for seed in (1, 2, 3):
        kept = {f"burst{seed}_{i}.jpg" for i in range(5)} - set(names)
        assert len(kept) == 1 and kept <= {f"burst{seed}_0.jpg", f"burst{seed}_1.jpg"}
        assert names[f"burst{seed}_2.jpg"].rules == ("blur", "extra")
        assert names[f"burst{seed}_3.jpg"].rules == ("exposure", "extra")
        assert names[f"burst{seed}_4.jpg"].rules == ("exposure", "extra")
    assert technical.by_rule == {"blur": 3, "exposure": 6, "extra": 12}
    # Only the score rule can take a pick: then the summary counts the scenes that would go whole.
    everything = curation.cull_list(engine, model_settings, str(folder), below=10)
    assert len(everything.items) == 17 and everything.scenes_lost == 3
    # The GUI's switches: fewer rules without judging again, the same as asking for them.
    only_blur = technical.restrict({"blur"})
    assert [i.member.row.id for i in only_blur.items] == \
        [i.member.row.id for i in curation.cull_list(engine, model_settings, str(folder), rules="blur").items]
    assert only_blur.by_rule == {"blur": 3}


def test_cli_cull_rules_and_threshold(scenes_and_wallpapers, tiny_encoder, head_file, aesthete_home, tmp_path):
    engine, folder = scenes_and_wallpapers
    engine.dispose()
    xdg = tmp_path / "xdg"
    db_path = tmp_path / "lib.sqlite3"
    common = ["--db", db_path, "--encoder", tiny_encoder, "--head", head_file]
    res = cli(["cull", "--dry-run", "--json", "--below", "10", folder, *common], aesthete_home, xdg)
    assert res.returncode == 0, res.stderr
    rows = [json.loads(line) for line in res.stdout.decode().splitlines()]
    assert len(rows) == 17 and all(r["rules"] == ["score"] for r in rows)  # --below alone: the score rule only
    assert b"every frame of 3 scenes would go" in res.stderr and b"by rule: score 17" in res.stderr
    res = cli(["cull", "--dry-run", "--json", "--rules", "score,blur", "--below", "0.5", folder, *common],
              aesthete_home, xdg)
    rows = [json.loads(line) for line in res.stdout.decode().splitlines()]
    assert len(rows) == 3 and all(r["rules"] == ["blur"] for r in rows)
    assert b"under rules score (below 0.5), blur" in res.stderr
    res = cli(["cull", "--dry-run", folder, *common], aesthete_home, xdg)  # the setting: all five rules
    assert res.returncode == 0 and b"under rules score (below 4), blur, exposure, extra, copy" in res.stderr
    help_text = cli(["cull", "--help"], aesthete_home, xdg).stdout.decode()
    assert "--rules" in help_text and "extra" in help_text and "--below X alone means" in " ".join(help_text.split())
    res = cli(["settings", "--set", "cull_rules", "blur,sharpness"], aesthete_home, xdg)
    assert res.returncode == 2 and b"'sharpness' is not one of them" in res.stderr
