"""Tests for moving photos to the trash or a rejects folder and putting them back, losing nothing."""

import errno
import os
import shutil
from pathlib import Path

import pytest

from app.core import removal
from app.core.removal import (
    Moved,
    RemovalError,
    file_sha256,
    find_in_trash,
    move_to_folder,
    move_to_trash,
    restore,
    trash_dir_for,
)


@pytest.fixture
def library(tmp_path):
    root = tmp_path / "library"
    (root / "2024" / "june").mkdir(parents=True)
    return root


def make(path, content: bytes):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def no_cross_device_shortcuts(monkeypatch):
    """Make link() and rename() fail as they do across filesystems."""

    def cross_device(*args, **kwargs):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", cross_device)
    monkeypatch.setattr(os, "rename", cross_device)


def test_file_sha256(tmp_path):
    path = make(tmp_path / "a.bin", b"abc")
    assert file_sha256(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_trash_dir_is_the_home_trash_on_the_home_device(trash, library):
    photo = make(library / "a.jpg", b"x")
    assert trash_dir_for(photo) == trash


def test_trash_dir_on_another_volume(tmp_path, trash, monkeypatch):
    volume = tmp_path / "usb"
    photo = make(volume / "DCIM" / "a.jpg", b"x")
    monkeypatch.setattr(removal, "_device", lambda path: 2 if str(path).startswith(str(volume)) else 1)
    monkeypatch.setattr(removal, "_mount_point", lambda path: volume)
    assert trash_dir_for(photo) == volume / f".Trash-{os.getuid()}"
    shared = volume / ".Trash"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    assert trash_dir_for(photo) == shared / str(os.getuid())


def test_trash_then_restore(trash, library):
    content = os.urandom(5000)
    photo = make(library / "2024" / "june" / "IMG 0001 ü%.JPG", content)

    moved = move_to_trash(photo, expected_sha256=file_sha256(photo))

    assert not photo.exists()
    assert moved.source == photo
    assert moved.destination.parent == trash / "files"
    assert moved.destination.read_bytes() == content
    info = trash / "info" / (moved.destination.name + ".trashinfo")
    assert info.exists()

    assert restore(moved) == photo
    assert photo.read_bytes() == content
    assert not moved.destination.exists()
    assert not info.exists()


def test_trash_refuses_a_changed_file(trash, library):
    photo = make(library / "a.jpg", b"new bytes")
    with pytest.raises(RemovalError, match="changed"):
        move_to_trash(photo, expected_sha256="0" * 64)
    assert photo.read_bytes() == b"new bytes"


def test_same_name_from_two_folders_is_told_apart(trash, library):
    first = make(library / "day1" / "IMG_0001.JPG", b"first")
    second = make(library / "day2" / "IMG_0001.JPG", b"second")

    moved_first = move_to_trash(first)
    moved_second = move_to_trash(second)

    assert moved_first.destination != moved_second.destination
    assert find_in_trash(first, file_sha256(moved_first.destination)) == moved_first.destination
    assert find_in_trash(second, moved_second.sha256) == moved_second.destination
    assert find_in_trash(first, moved_second.sha256) is None

    restore(moved_second)
    restore(moved_first)
    assert first.read_bytes() == b"first"
    assert second.read_bytes() == b"second"


def test_restore_refuses_when_the_place_is_taken(trash, library):
    photo = make(library / "a.jpg", b"original")
    moved = move_to_trash(photo)
    make(photo, b"a new photo with the same name")

    with pytest.raises(RemovalError, match="already exists"):
        restore(moved)

    assert photo.read_bytes() == b"a new photo with the same name"
    assert moved.destination.read_bytes() == b"original"


def test_restore_reports_an_emptied_trash(trash, library):
    photo = make(library / "a.jpg", b"original")
    moved = move_to_trash(photo)
    shutil.rmtree(trash)

    with pytest.raises(RemovalError, match="trash emptied"):
        restore(moved)
    assert not photo.exists()


def test_restore_refuses_a_file_whose_bytes_changed(trash, library):
    photo = make(library / "a.jpg", b"original")
    moved = move_to_trash(photo)
    moved.destination.write_bytes(b"something else")

    with pytest.raises(RemovalError, match="different contents"):
        restore(moved)
    assert not photo.exists()
    assert moved.destination.read_bytes() == b"something else"


def test_restore_creates_missing_folders(trash, library):
    photo = make(library / "2024" / "june" / "a.jpg", b"original")
    moved = move_to_trash(photo)
    shutil.rmtree(library / "2024")
    assert restore(moved).read_bytes() == b"original"


def test_rejects_folder_keeps_structure_and_never_overwrites(tmp_path, library):
    rejects = tmp_path / "rejects"
    make(rejects / "2024" / "june" / "IMG_1.JPG", b"already there")
    make(rejects / "2024" / "june" / "IMG_1 (1).JPG", b"also there")
    photo = make(library / "2024" / "june" / "IMG_1.JPG", b"the reject")

    moved = move_to_folder(photo, rejects, library_root=library)

    assert moved.destination == rejects / "2024" / "june" / "IMG_1 (2).JPG"
    assert moved.destination.read_bytes() == b"the reject"
    assert (rejects / "2024" / "june" / "IMG_1.JPG").read_bytes() == b"already there"
    assert (rejects / "2024" / "june" / "IMG_1 (1).JPG").read_bytes() == b"also there"
    assert not photo.exists()

    assert restore(moved) == photo
    assert photo.read_bytes() == b"the reject"
    assert not moved.destination.exists()


def test_rejects_folder_without_library_root_is_flat(tmp_path, library):
    photo = make(library / "2024" / "june" / "a.jpg", b"x")
    moved = move_to_folder(photo, tmp_path / "rejects")
    assert moved.destination == tmp_path / "rejects" / "a.jpg"


def test_cross_device_move_copies_then_removes_the_source(tmp_path, library, monkeypatch):
    photo = make(library / "a.jpg", b"bytes to keep")
    no_cross_device_shortcuts(monkeypatch)

    moved = move_to_folder(photo, tmp_path / "rejects")

    assert moved.destination.read_bytes() == b"bytes to keep"
    assert not photo.exists()
    assert sorted(p.name for p in moved.destination.parent.iterdir()) == ["a.jpg"]  # no temp left


def test_failed_cross_device_copy_keeps_the_source(tmp_path, library, monkeypatch):
    photo = make(library / "a.jpg", b"bytes to keep")
    no_cross_device_shortcuts(monkeypatch)

    def broken_copy(src, dst, **kwargs):
        with open(dst, "wb") as f:
            f.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(shutil, "copy2", broken_copy)

    with pytest.raises(RemovalError, match="No space left"):
        move_to_folder(photo, tmp_path / "rejects")
    assert photo.read_bytes() == b"bytes to keep"
    assert list((tmp_path / "rejects").iterdir()) == []


def test_cross_device_copy_that_differs_keeps_the_source(tmp_path, library, monkeypatch):
    photo = make(library / "a.jpg", b"bytes to keep")
    no_cross_device_shortcuts(monkeypatch)

    def corrupting_copy(src, dst, **kwargs):
        with open(dst, "wb") as f:
            f.write(b"corrupt")
        return dst

    monkeypatch.setattr(shutil, "copy2", corrupting_copy)

    with pytest.raises(RemovalError, match="doesn't match"):
        move_to_folder(photo, tmp_path / "rejects")
    assert photo.read_bytes() == b"bytes to keep"
    assert list((tmp_path / "rejects").iterdir()) == []


def test_cross_device_restore_refuses_when_the_place_is_taken(tmp_path, library, monkeypatch):
    photo = make(library / "a.jpg", b"original")
    moved = move_to_folder(photo, tmp_path / "rejects")
    make(photo, b"newcomer")
    no_cross_device_shortcuts(monkeypatch)

    with pytest.raises(RemovalError, match="already exists"):
        restore(moved)
    assert photo.read_bytes() == b"newcomer"
    assert moved.destination.read_bytes() == b"original"


def test_restore_reports_a_vanished_rejects_file(tmp_path, library):
    photo = make(library / "a.jpg", b"x")
    moved = move_to_folder(photo, tmp_path / "rejects")
    moved.destination.unlink()
    with pytest.raises(RemovalError, match="no longer at"):
        restore(moved)


def test_folders_and_missing_files_are_not_moved(tmp_path, library):
    with pytest.raises(RemovalError):
        move_to_folder(library / "2024", tmp_path / "rejects")
    with pytest.raises(RemovalError):
        move_to_folder(library / "missing.jpg", tmp_path / "rejects")


def test_moved_is_a_plain_value():
    moved = Moved(source=Path("/a"), destination=Path("/b"), sha256="0" * 64)
    assert moved == Moved(Path("/a"), Path("/b"), "0" * 64)
    with pytest.raises(AttributeError):
        moved.source = Path("/c")


def test_prune_empty_folders_stops_at_the_rejects_folder_and_at_anything_left(tmp_path, library):
    rejects = tmp_path / "rejects"
    photo = make(library / "2024" / "june" / "a.jpg", b"x")
    moved = move_to_folder(photo, rejects, library_root=library)
    make(rejects / "2024" / "keep.txt", b"the user's")
    restore(moved)
    assert removal.prune_empty_folders(moved.destination.parent, rejects) == 1
    assert not (rejects / "2024" / "june").exists()
    assert (rejects / "2024" / "keep.txt").read_bytes() == b"the user's"  # a folder with anything stays
    (rejects / "2024" / "keep.txt").unlink()
    (rejects / "2024" / "empty").mkdir()
    assert removal.prune_empty_folders(rejects / "2024" / "empty", rejects) == 2
    assert rejects.is_dir() and not any(rejects.iterdir())  # the rejects folder itself stays
    assert removal.prune_empty_folders(rejects, rejects) == 0 and rejects.is_dir()
    outside = make(tmp_path / "elsewhere" / "x" / "f", b"")
    outside.unlink()
    assert removal.prune_empty_folders(outside.parent, rejects) == 0 and outside.parent.is_dir()
