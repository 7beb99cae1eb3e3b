"""Edge cases of a real library: links, sidecars from other tools, unreadable folders, relocations."""
import os
from pathlib import Path

import pytest

from app import cli, curation, library
from app.library import ModelHolder, analyse, scan_folders
from app.storage import db, journal, repo
from tests.conftest import scene


@pytest.fixture
def lib(tmp_path, model_settings):
    folder = tmp_path / "lib"
    folder.mkdir()
    for i in range(3):
        scene(i).save(folder / f"{i}.jpg")
    engine = db.open_db(tmp_path / "lib.sqlite3")
    return engine, folder


def names(engine, **kw):
    return {os.path.basename(p.path): p for p in repo.list_photos(engine, include_missing=True, **kw)}


def test_a_link_to_a_photo_of_the_library_is_not_a_second_photo(lib, model_settings):
    engine, folder = lib
    (folder / "sub").mkdir()
    os.symlink(folder / "0.jpg", folder / "sub" / "alias.jpg")
    scan_folders(engine, model_settings, [folder])
    assert sorted(names(engine)) == ["0.jpg", "1.jpg", "2.jpg"]


def test_marks_from_sidecars_are_read_and_follow_later_changes(lib, model_settings):
    engine, folder = lib
    (folder / "0.jpg.xmp").write_text(
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:Rating="4"/></rdf:RDF></x:xmpmeta>')
    scan_folders(engine, model_settings, [folder])
    assert names(engine)["0.jpg"].rating == 4
    side = folder / "0.jpg.xmp"
    side.write_text(side.read_text().replace('xmp:Rating="4"', 'xmp:Rating="-1"'))
    os.utime(side, ns=(10**18, 10**18))
    scan_folders(engine, model_settings, [folder])
    assert names(engine)["0.jpg"].flag == "reject"


def test_unreadable_folder_does_not_make_its_photos_missing(lib, model_settings, monkeypatch):
    engine, folder = lib
    (folder / "sub").mkdir()
    scene(9).save(folder / "sub" / "deep.jpg")
    scan_folders(engine, model_settings, [folder])
    real = os.scandir

    def failing(path="."):
        if os.fspath(path).endswith("sub"):
            raise OSError(5, "Input/output error")
        return real(path)

    monkeypatch.setattr(os, "scandir", failing)
    summary = scan_folders(engine, model_settings, [folder])
    assert summary.folder_errors
    assert names(engine)["deep.jpg"].state == "present"


def test_empty_mount_point_is_offline_not_deleted(lib, model_settings):
    engine, folder = lib
    scan_folders(engine, model_settings, [folder])
    for f in folder.iterdir():
        f.rename(folder.parent / f.name)  # the drive is unplugged: its mount point is empty
    summary = scan_folders(engine, model_settings)
    assert summary.reports[str(folder)].offline
    assert {p.state for p in names(engine).values()} == {"offline"}


def test_rejects_inside_the_library_are_not_scanned_back(lib, model_settings):
    engine, folder = lib
    scan_folders(engine, model_settings, [folder])
    victim = names(engine)["1.jpg"]
    curation.remove_photos(engine, model_settings, [victim.id], rejects_folder=str(folder / "Rejects"))
    assert (folder / "Rejects" / "1.jpg").exists()
    report = scan_folders(engine, model_settings).reports[str(folder)]
    assert report.new == 0
    assert "1.jpg" in names(engine) and names(engine)["1.jpg"].state == "removed"


def test_roots_move_keeps_missing_and_removed_states(lib, model_settings, tmp_path):
    engine, folder = lib
    scan_folders(engine, model_settings, [folder])
    os.remove(folder / "0.jpg")
    scan_folders(engine, model_settings)
    curation.remove_photos(engine, model_settings, [names(engine)["1.jpg"].id],
                           rejects_folder=str(tmp_path / "rejects"))
    moved = tmp_path / "moved"
    folder.rename(moved)
    repo.move_root(engine, folder, moved)
    states = {n: p.state for n, p in names(engine).items()}
    assert states == {"0.jpg": "missing", "1.jpg": "removed", "2.jpg": "present"}
    undo = curation.undo_last(engine)
    assert undo.restored == [str(moved / "1.jpg")] and (moved / "1.jpg").exists()


def test_cli_undo_after_an_interrupted_removal_restores_that_one(lib, model_settings, tmp_path, capsys):
    engine, folder = lib
    scan_folders(engine, model_settings, [folder])
    photos = names(engine)
    rejects = tmp_path / "rejects"
    curation.remove_photos(engine, model_settings, [photos["0.jpg"].id], rejects_folder=str(rejects))
    src = photos["1.jpg"].path
    journal.plan(engine, str(rejects), [(photos["1.jpg"].id, src, curation.removal.file_sha256(Path(src)))])
    os.rename(src, rejects / "1.jpg")  # the process died right after this move
    engine.dispose()
    assert cli.main(["--db", str(tmp_path / "lib.sqlite3"), "undo"]) == 0
    assert Path(src).exists() and not (folder / "0.jpg").exists()
    assert cli.main(["--db", str(tmp_path / "lib.sqlite3"), "undo"]) == 0
    assert (folder / "0.jpg").exists()


def test_a_fifo_named_like_a_photo_does_not_hang(lib, model_settings):
    engine, folder = lib
    os.mkfifo(folder / "pipe.jpg")
    scan_folders(engine, model_settings, [folder])
    holder = ModelHolder(model_settings)
    result = analyse(engine, holder, library.pending(engine, holder))
    assert result.failed == 1
    assert "not a regular file" in names(engine)["pipe.jpg"].error
