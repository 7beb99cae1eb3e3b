"""The one preview loader behind the viewer, the cull view and the compare view: previews are kept
by path, size and mtime (an edited photo shows its new pixels), a late result for an earlier
request is dropped, and a file that cannot be decoded says so in the same words in every view."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from burst import analysed, burst_files, shoot, start  # noqa: F401 (fixtures)
from PIL import Image
from PySide6.QtCore import Qt

from app.core import decode
from app.errors import PhotoError
from app.storage.repo import Photo
from app.ui.compare import CompareView, Side
from app.ui.viewer import Viewer
from app.workers.preview import PreviewLoader

BROKEN = b"\xff\xd8\xff\xe0 not a photo after all"


def _photo(pid: int, path: Path) -> Photo:
    """A row as the grid would hand it over (what the database knew when it was read)."""
    st = path.stat()
    return Photo(pid, str(path), path.name, str(path.parent), st.st_size, st.st_mtime_ns, "present", None, None,
                 None, 640, 480, 0, "", None, None, None, None)


def _save(path: Path, colour: tuple[int, int, int]) -> None:
    Image.new("RGB", (640, 480), colour).save(path, quality=95)


def _centre(pixmap) -> tuple[int, int, int]:
    if pixmap is None or pixmap.isNull():
        return (-1, -1, -1)
    c = pixmap.toImage().pixelColor(pixmap.width() // 2, pixmap.height() // 2)
    return c.red(), c.green(), c.blue()


def _close(a, b) -> bool:
    return all(abs(x - y) <= 12 for x, y in zip(a, b))


def _reason(path: Path) -> str:
    with pytest.raises(PhotoError) as caught:
        decode.decode(path)
    return caught.value.reason


def test_an_edited_photo_shows_its_new_preview(qtbot, tmp_path):
    a, b = tmp_path / "a.jpg", tmp_path / "b.jpg"
    _save(a, (220, 20, 20))
    _save(b, (20, 200, 20))
    photo_a, photo_b = _photo(1, a), _photo(2, b)
    viewer = Viewer()
    qtbot.addWidget(viewer)
    viewer.show()
    viewer.show_photo(photo_a, "scored", None)
    qtbot.waitUntil(lambda: _close(_centre(viewer.image.pixmap), (220, 20, 20)), timeout=10_000)
    viewer.show_photo(photo_b, "scored", None)
    qtbot.waitUntil(lambda: _close(_centre(viewer.image.pixmap), (20, 200, 20)), timeout=10_000)
    # Edited in another program: same path, new pixels, a later mtime. The row the grid hands over
    # may still be the one read before the edit; the file on disk decides.
    _save(a, (20, 20, 220))
    later = photo_a.mtime_ns + 2_000_000_000
    os.utime(a, ns=(later, later))
    viewer.show_photo(photo_a, "scored", None)
    qtbot.waitUntil(lambda: _close(_centre(viewer.image.pixmap), (20, 20, 220)), timeout=10_000)
    assert viewer.stop(5_000)


def test_a_result_for_an_earlier_request_is_dropped(qtbot, tmp_path):
    paths = []
    for i, colour in enumerate(((200, 0, 0), (0, 200, 0), (0, 0, 200))):
        paths.append(tmp_path / f"{i}.jpg")
        _save(paths[-1], colour)
    loader = PreviewLoader("test-preview", 1, 4)  # one thread: the requests finish in order
    shown: list[tuple[str, str]] = []
    loader.request(str(paths[0]), 256, lambda p: shown.append(("pane", p.path)), shown.append)
    loader.request(str(paths[1]), 256, lambda p: shown.append(("pane", p.path)), shown.append)
    loader.request(str(paths[2]), 256, lambda p: shown.append(("other", p.path)), shown.append, slot="other")
    qtbot.waitUntil(lambda: ("other", str(paths[2])) in shown, timeout=10_000)
    # The first answer came before the later ones (one thread, queued in order) and was dropped.
    assert shown == [("pane", str(paths[1])), ("other", str(paths[2]))]
    loader.request(str(paths[0]), 256, lambda p: shown.append(("again", p.path)), shown.append)
    loader.forget()  # the view moved on before the answer came
    loader.request(str(paths[2]), 256, lambda p: shown.append(("last", p.path)), shown.append, slot="other")
    qtbot.waitUntil(lambda: ("last", str(paths[2])) in shown, timeout=10_000)
    assert ("again", str(paths[0])) not in shown
    assert loader.stop(5_000)


def test_a_broken_file_says_the_same_in_the_viewer_and_the_compare_view(qtbot, tmp_path):
    good, broken = tmp_path / "good.jpg", tmp_path / "broken.jpg"
    _save(good, (120, 120, 120))
    broken.write_bytes(BROKEN)
    expected = "Cannot show this photo: " + _reason(broken)
    viewer = Viewer()
    qtbot.addWidget(viewer)
    viewer.show_photo(_photo(1, broken), "failed", None)
    qtbot.waitUntil(lambda: viewer.image.note == expected, timeout=10_000)
    compare = CompareView()
    qtbot.addWidget(compare)
    compare.show_pair(Side(_photo(2, good), "A", ""), Side(_photo(1, broken), "B", ""), (None, None))
    qtbot.waitUntil(lambda: compare.panes[1].note == expected and compare.panes[0].image is not None,
                    timeout=10_000)
    assert viewer.stop(5_000) and compare.stop(5_000)


def test_a_broken_file_says_the_same_in_the_cull_view(qtbot, make_window, settings, analysed):
    window = make_window(settings)
    start(qtbot, window)
    with qtbot.waitSignal(window.cull.loaded, timeout=30_000):
        qtbot.keyClick(window, Qt.Key.Key_3, Qt.KeyboardModifier.ControlModifier)
    cull = window.cull
    row = next(r for r, i in enumerate(cull.model.items) if i.member.row.name == "IMG_03.jpg")
    target = analysed / "IMG_03.jpg"
    target.write_bytes(BROKEN)  # damaged after it was analysed
    expected = "Cannot show this photo: " + _reason(target)
    cull.list.setCurrentIndex(cull.model.index(row))
    qtbot.waitUntil(lambda: cull.image.note == expected, timeout=10_000)
