"""Rescans score only what changed; moves keep scores; deletions and offline roots are kept."""
import os
import shutil

import pytest

from app import library as lib
from app.library import ModelHolder, analyse, scan_folders
from app.storage import db, repo
from tests.conftest import scene


def scan_and_score(engine, settings, folders=None):
    summary = scan_folders(engine, settings, folders)
    holder = ModelHolder(settings)
    online = [r.path for r in summary.roots if not summary.reports[r.path].offline]
    result = analyse(engine, holder, lib.pending(engine, holder, under=online))
    return summary, result


@pytest.fixture
def library(tmp_path, model_settings):
    folder = tmp_path / "Pictures"
    (folder / "2024").mkdir(parents=True)
    for i in range(4):
        scene(i).save(folder / "2024" / f"IMG_{i}.jpg")
    engine = db.open_db(tmp_path / "lib.sqlite3")
    summary, result = scan_and_score(engine, model_settings, [folder])
    assert result.scored == 4
    return engine, folder


def by_name(engine, **kw):
    return {os.path.basename(p.path): p for p in repo.list_photos(engine, include_missing=True, **kw)}


def test_unchanged_rescan_scores_nothing(library, model_settings):
    engine, folder = library
    summary, result = scan_and_score(engine, model_settings)
    report = summary.reports[str(folder)]
    assert (report.new, report.changed, report.unchanged) == (0, 0, 4)
    assert result.scored == 0


def test_new_changed_moved_deleted(library, model_settings):
    engine, folder = library
    before = by_name(engine)
    scene(10).save(folder / "2024" / "IMG_new.jpg")
    scene(11).save(folder / "2024" / "IMG_1.jpg")  # rewritten with other content
    os.utime(folder / "2024" / "IMG_1.jpg", ns=(1, 1_000_000_000))
    (folder / "renamed").mkdir()
    shutil.move(folder / "2024" / "IMG_2.jpg", folder / "renamed" / "holiday.jpg")
    os.remove(folder / "2024" / "IMG_3.jpg")
    summary, result = scan_and_score(engine, model_settings)
    report = summary.reports[str(folder)]
    assert (report.new, report.changed, report.moved, report.missing) == (1, 1, 1, 1)  # a move is not missing
    assert result.scored == 2  # the new one and the changed one; the moved one kept its score
    after = by_name(engine)
    assert after["holiday.jpg"].id == before["IMG_2.jpg"].id
    assert after["holiday.jpg"].score == before["IMG_2.jpg"].score
    assert after["IMG_3.jpg"].state == "missing"
    assert after["IMG_1.jpg"].id == before["IMG_1.jpg"].id
    assert after["IMG_1.jpg"].score != before["IMG_1.jpg"].score
    assert "IMG_2.jpg" not in after  # the old path is gone, not duplicated


def test_a_different_file_where_a_gone_photo_was_starts_without_its_marks(library, model_settings, tmp_path):
    """Camera numbering restarts: a new IMG_1.jpg must not inherit the reject of the removed one,
    or the next "remove rejected" would move a photo nobody looked at. An edit in place keeps marks."""
    from app import curation
    from app.storage import marks

    engine, folder = library
    ids = {name: p.id for name, p in by_name(engine).items()}
    marks.set_flag(engine, [ids["IMG_0.jpg"], ids["IMG_1.jpg"], ids["IMG_2.jpg"]], "reject")
    marks.set_rating(engine, [ids["IMG_0.jpg"], ids["IMG_1.jpg"], ids["IMG_2.jpg"]], 2)
    report = curation.remove_photos(engine, model_settings, [ids["IMG_1.jpg"]], rejects_folder=str(tmp_path / "Rejects"))
    assert len(report.moved) == 1
    os.remove(folder / "2024" / "IMG_2.jpg")
    scan_and_score(engine, model_settings)
    assert by_name(engine)["IMG_2.jpg"].state == "missing"
    for name, seed in (("IMG_0.jpg", 20), ("IMG_1.jpg", 21), ("IMG_2.jpg", 22)):
        scene(seed).save(folder / "2024" / name)  # IMG_0 edited in place; the others are new shots
    summary, result = scan_and_score(engine, model_settings)
    after = by_name(engine)
    assert result.scored == 3
    assert (after["IMG_0.jpg"].flag, after["IMG_0.jpg"].rating) == ("reject", 2)
    for name in ("IMG_1.jpg", "IMG_2.jpg"):
        assert after[name].state == "present"
        assert (after[name].flag, after[name].rating) == ("", 0), name
    assert list((tmp_path / "Rejects").rglob("IMG_1.jpg"))  # the removed photo itself is still there


def test_touched_but_identical_file_is_not_rescored(library, model_settings):
    engine, folder = library
    os.utime(folder / "2024" / "IMG_0.jpg", ns=(5, 5_000_000_000))
    summary, result = scan_and_score(engine, model_settings)
    assert result.scored == 0


def test_unreachable_root_goes_offline_not_missing(library, model_settings, tmp_path):
    from app.storage import marks

    engine, folder = library
    marks.set_rating(engine, [by_name(engine)["IMG_0.jpg"].id], 5)
    parked = tmp_path / "unplugged"
    folder.rename(parked)
    summary, result = scan_and_score(engine, model_settings)
    assert summary.reports[str(folder)].offline
    assert {p.state for p in by_name(engine).values()} == {"offline"}
    scene(30).save(parked / "2024" / "IMG_0.jpg")  # edited elsewhere while the drive was away
    parked.rename(folder)
    scan_and_score(engine, model_settings)
    photos = by_name(engine)
    assert {p.state for p in photos.values()} == {"present"}
    assert all(p.score is not None for p in photos.values())
    assert photos["IMG_0.jpg"].rating == 5  # an edit, not a new photo: its marks stay


def test_roots_move_keeps_scores(library, model_settings, tmp_path):
    engine, folder = library
    before = by_name(engine)
    new_place = tmp_path / "NewDisk" / "Pictures"
    new_place.parent.mkdir()
    folder.rename(new_place)
    assert repo.move_root(engine, folder, new_place) == 4
    summary, result = scan_and_score(engine, model_settings)
    assert result.scored == 0
    after = by_name(engine)
    assert {n: p.score for n, p in after.items()} == {n: p.score for n, p in before.items()}
    assert all(p.path.startswith(str(new_place)) for p in after.values())


def test_exclusions_and_raw_companions(tmp_path, model_settings):
    from app.config import settings as settings_mod

    folder = tmp_path / "lib"
    for sub in (".hidden", ".Trash-1000", "rejects", "Private", "keep"):
        (folder / sub).mkdir(parents=True)
        scene(1).save(folder / sub / "a.jpg")
    scene(2).save(folder / "keep" / ".dotfile.jpg")
    scene(3).save(folder / "keep" / "DSC_1.JPG")
    (folder / "keep" / "DSC_1.NEF").write_bytes(b"raw bytes")
    (folder / "keep" / "DSC_1.JPG.xmp").write_text("<x/>")
    s = settings_mod.load(overrides={"encoder": model_settings.encoder, "head": model_settings.head,
                                     "exclude": ["Private"], "rejects_folder": str(folder / "rejects")})
    engine = db.open_db(tmp_path / "lib.sqlite3")
    scan_folders(engine, s, [folder])
    names = sorted(os.path.relpath(p.path, folder) for p in repo.list_photos(engine, sort="name"))
    assert names == ["keep/DSC_1.JPG", "keep/a.jpg"]
    jpg = next(p for p in repo.list_photos(engine) if p.path.endswith("DSC_1.JPG"))
    assert jpg.companion == str(folder / "keep" / "DSC_1.NEF")


def test_precision_rules_for_already_scored(library, model_settings):
    from app.config import settings as settings_mod

    engine, folder = library
    explicit = settings_mod.load(overrides={"encoder": model_settings.encoder, "head": model_settings.head,
                                            "precision": "bf16"})
    holder = ModelHolder(explicit)
    assert len(repo.pending(engine, holder.key(), holder.wanted_precision())) == 4
    implicit = ModelHolder(model_settings)
    assert repo.pending(engine, implicit.key(), implicit.wanted_precision()) == []
    # The CPU default is ONNX Runtime's int8, recorded as such: asking for int8 explicitly finds
    # those scores, asking for PyTorch's int8 does not.
    for runtime, waiting in (("auto", 0), ("torch", 4)):
        s = settings_mod.load(overrides={"encoder": model_settings.encoder, "head": model_settings.head,
                                         "device": "cpu", "precision": "int8", "runtime": runtime})
        h = ModelHolder(s)
        assert len(repo.pending(engine, h.key(), h.wanted_precision())) == waiting
    assert len(repo.pending(engine, "another-model")) == 4
