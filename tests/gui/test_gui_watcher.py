"""Folder watching end to end: a photo written in chunks is scored once, complete; a rename keeps
its score; a delete takes it out of the grid."""
from __future__ import annotations

import os

from conftest import photo_bytes, settled, write_photos

from app.storage import browse, repo


def _photo(engine, path):
    rows = repo.list_photos(engine, paths=[str(path)], include_missing=True)
    return rows[0] if rows else None


def test_watcher_follows_the_folder(qtbot, make_window, settings, tmp_path):
    folder = tmp_path / "Camera"
    write_photos(folder, 2)
    window = make_window(settings, debounce_ms=200)
    with qtbot.waitSignal(window.scoring.idle, timeout=60_000):
        window.start([str(folder)])
    assert window.watcher.watched() == [str(folder)]
    scored: list[int] = []
    window.scoring.photoScored.connect(lambda pid, _score: scored.append(pid))
    syncs: list = []
    window.library.synced.connect(syncs.append)

    # A camera import: the file grows chunk by chunk and is left alone until it stops growing.
    target = folder / "import" / "IMG_0001.jpg"
    target.parent.mkdir()
    data = photo_bytes(42, size=(640, 480))
    parts = [data[i:i + len(data) // 4 + 1] for i in range(0, len(data), len(data) // 4 + 1)]
    with open(target, "wb") as fh:
        for part in parts:
            with qtbot.waitSignal(window.watcher.settling, timeout=10_000,
                                  check_params_cb=lambda path: path == str(target)):
                fh.write(part)
                fh.flush()
            assert _photo(window.engine, target) is None, "a half-written file must not be synced"
    with qtbot.waitSignal(window.scoring.idle, timeout=60_000):
        pass
    photo = _photo(window.engine, target)
    assert photo is not None and photo.size == len(data)
    assert photo.score is not None and photo.error is None
    assert scored.count(photo.id) == 1, "scored once, complete"

    # A rename is a move: same photo, same score, no rescoring.
    renamed = folder / "import" / "Holiday.jpg"
    with qtbot.waitSignal(window.library.synced, timeout=10_000,
                          check_params_cb=lambda result: any(r.moved for _f, r in result.reports)):
        os.rename(target, renamed)
    moved = _photo(window.engine, renamed)
    assert moved.id == photo.id and moved.score == photo.score
    assert _photo(window.engine, target) is None  # the row itself moved
    window.reload()
    settled(qtbot, window.model)
    assert window.model.row_of(photo.id) is not None
    assert scored.count(photo.id) == 1

    # A delete takes it out of the library view.
    with qtbot.waitSignal(window.library.synced, timeout=10_000,
                          check_params_cb=lambda result: any(r.missing for _f, r in result.reports)):
        os.remove(renamed)
    assert _photo(window.engine, renamed).state == "missing"
    window.reload()
    settled(qtbot, window.model)
    assert window.model.row_of(photo.id) is None
    assert browse.status_counts(window.engine).total == 2


def test_moves_between_folders_keep_scores(qtbot, make_window, settings, tmp_path):
    folder = tmp_path / "Lib"
    a, b = folder / "a", folder / "b"
    write_photos(a, 2)
    b.mkdir(parents=True)
    window = make_window(settings, debounce_ms=200)
    with qtbot.waitSignal(window.scoring.idle, timeout=60_000):
        window.start([str(folder)])
    before = _photo(window.engine, a / "photo_000.jpg")
    with qtbot.waitSignal(window.library.synced, timeout=10_000,
                          check_params_cb=lambda result: any(r.moved for _f, r in result.reports)):
        os.rename(a / "photo_000.jpg", b / "photo_000.jpg")
    after = _photo(window.engine, b / "photo_000.jpg")
    assert after.id == before.id and after.score == before.score
