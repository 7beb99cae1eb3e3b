"""Faces in the views: the closed-eyes badge and filter in the grid, and the strip of each frame's faces
side by side at one zoom under Best shots and the compare. The faces are placed by hand in the library
(a FaceReport per frame, as analysis stores it) over painted face-sized patches, so the views are tested
without the face model; the face model itself is tested in tests/unit/test_faces.py."""
from __future__ import annotations

import io

import numpy as np
import pytest
from burst import exif_at, start
from conftest import make_settings, settled
from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QImage, QPainter, QPixmap
from PySide6.QtWidgets import QStyleOptionViewItem
from PIL import Image, ImageDraw

from app import library
from app.core.faces import Face, FaceReport
from app.storage import repo
from app.ui import facestrip
from app.ui import format as fmt
from app.ui.photo_model import Roles
from tests.unit import imagegen

SIZE = (1280, 960)
# Two people, each a face box of 12% x 16% of the frame (square on a 4:3 frame), painted red and blue.
PEOPLE = ((0.20, 0.30, (230, 20, 20)), (0.60, 0.34, (20, 40, 230)))
BOX = (0.12, 0.16)


@pytest.fixture
def settings(tmp_path, tiny_model):
    return make_settings(tmp_path, runtime="torch", **tiny_model)


def _frame(base: Image.Image, size: tuple[int, int]) -> Image.Image:
    im = base.resize(size, Image.Resampling.LANCZOS) if base.size != size else base.copy()
    draw = ImageDraw.Draw(im)
    for x, y, colour in PEOPLE:
        draw.rectangle((x * size[0], y * size[1], (x + BOX[0]) * size[0] - 1, (y + BOX[1]) * size[1] - 1), fill=colour)
    return im


def _face(person: int, blink: float, focus: float = 1.5) -> Face:
    x, y, _ = PEOPLE[person]
    return Face(x, y, BOX[0], BOX[1], 0.9, blink, blink, focus, 0.5, 150)


# Three frames of a burst, the third saved at half the size (the same zoom must show the same face alike):
# GROUP_2 blinks (person 0), GROUP_3's person 1 is soft next to the others.
FRAMES = {"GROUP_1.jpg": (SIZE, (_face(0, 0.05), _face(1, 0.1))),
          "GROUP_2.jpg": (SIZE, (_face(0, 0.92), _face(1, 0.1))),
          "GROUP_3.jpg": ((640, 480), (_face(0, 0.05), _face(1, 0.1, focus=0.3)))}


@pytest.fixture
def people(engine, settings, tmp_path):
    """The burst scanned and analysed with the tiny model, then its faces stored as analysis stores them."""
    folder = tmp_path / "party"
    folder.mkdir()
    base = imagegen.scene(7, SIZE)
    for i, (name, (size, _faces)) in enumerate(FRAMES.items()):
        buf = io.BytesIO()
        _frame(base, size).save(buf, "JPEG", quality=92, exif=exif_at("10:00:00", f"{i * 2}0"))
        (folder / name).write_bytes(buf.getvalue())
    library.scan_folders(engine, settings, [folder])
    holder = library.ModelHolder(settings)
    library.analyse(engine, holder, library.pending(engine, holder))
    ids = {p.name: p.id for p in repo.list_photos(engine, library_only=False)}
    for name, (_size, faces) in FRAMES.items():
        report = FaceReport(faces, "test")
        repo.save_scores(engine, [repo.Analysis(ids[name], None, None, None, None, None, library.ANALYSIS_VERSION,
                                                {"faces": report.to_json(), "closed_eyes": report.closed_eyes})])
    return ids


def _share(image: QImage, colour: tuple[int, int, int]) -> float:
    """The share of a face cell's pixels that are the painted face's colour."""
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    w, h = image.width(), image.height()
    a = np.frombuffer(image.constBits(), np.uint8, count=image.bytesPerLine() * h).reshape(h, image.bytesPerLine())
    a = a[:, :w * 3].reshape(h, w, 3).astype(int)
    return float((np.abs(a - np.array(colour)).sum(axis=2) < 90).mean())


def test_the_face_strip_shows_each_frames_faces_side_by_side_at_one_zoom(qtbot, make_window, settings, people):
    window = make_window(settings)
    start(qtbot, window)
    best = window.best
    with qtbot.waitSignal(best.loaded, timeout=30_000):
        qtbot.keyClick(window, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
    row = next(r for r, g in enumerate(best.model.groups) if len(g.members) == 3)
    group = best.model.groups[row]
    strip = best.faces
    with qtbot.waitSignal(strip.facesShown, timeout=30_000):
        best.strip.setCurrentIndex(best.model.index(row))
    assert strip.isVisible()
    grid = strip.grid
    names = [fr.title for fr in grid.frames]
    assert names == ["GROUP_1.jpg", "GROUP_2.jpg", "GROUP_3.jpg"]  # the frames in the order they were shot
    assert grid.people == 2
    by_name = dict(zip(names, grid.frames))
    assert group.pick_id != people["GROUP_2.jpg"]  # the blink is not the pick
    assert [facestrip.caption(f) for f in by_name["GROUP_2.jpg"].faces] == ["eyes closed", ""]
    assert [facestrip.caption(f) for f in by_name["GROUP_3.jpg"].faces] == ["", "soft"]
    assert by_name["GROUP_1.jpg"].is_pick == (group.pick_id == people["GROUP_1.jpg"])

    # Each cell is that person's face, and the same face takes the same share of its cell in every frame,
    # the half-size frame included: one zoom.
    for person, (_x, _y, colour) in enumerate(PEOPLE):
        shares = [_share(grid.crops[people[n]][person], colour) for n in names]
        assert all(0.15 < s < 0.6 for s in shares), shares
        assert max(shares) - min(shares) < 0.05, shares
        other = PEOPLE[1 - person][2]
        assert all(_share(grid.crops[people[n]][person], other) < 0.01 for n in names)
    # The painted strip shows them: the blink's cell is framed in the closed-eyes colour.
    shot = strip.grid.grab().toImage()
    cell = grid.cell_rect(names.index("GROUP_2.jpg"), 0)
    edge = shot.pixelColor(cell.left() + 1, cell.center().y())
    assert (edge.red(), edge.green(), edge.blue()) == (fmt.EYES_CLOSED.red(), fmt.EYES_CLOSED.green(),
                                                     fmt.EYES_CLOSED.blue())

    # Clicking a frame's faces focuses that frame in its group.
    column = names.index("GROUP_3.jpg")
    qtbot.mouseClick(grid, Qt.MouseButton.LeftButton, pos=grid.cell_rect(column, 1).center())
    assert best.strip.focused_id() == people["GROUP_3.jpg"]
    assert grid.current == people["GROUP_3.jpg"]

    # The compare shows the faces of its two frames only.
    with qtbot.waitSignal(best.compare_view.ready, timeout=30_000):
        qtbot.keyClick(best.strip, Qt.Key.Key_C)
    assert strip.isVisible()
    assert {fr.photo_id for fr in grid.frames} == {group.pick_id, people["GROUP_3.jpg"]}
    qtbot.keyClick(best.compare_view, Qt.Key.Key_Escape)
    assert len(grid.frames) == 3


def test_a_group_without_faces_shows_no_strip(qtbot, make_window, settings, engine, people):
    from sqlalchemy import text

    with engine.begin() as conn:
        conn.execute(text("UPDATE photos SET faces = '{\"faces\": []}', closed_eyes = 0"))
    window = make_window(settings)
    start(qtbot, window)
    best = window.best
    with qtbot.waitSignal(best.loaded, timeout=30_000):
        qtbot.keyClick(window, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
    assert best.model.rowCount() >= 1
    best.strip.setCurrentIndex(best.model.index(0))
    assert not best.faces.isVisible()


def _amber_in_corner(window, row: int) -> int:
    """Pixels of the closed-eyes colour in the top-left corner of the tile painted for a row."""
    delegate, index = window.delegate, window.model.index(row)
    option = QStyleOptionViewItem()
    option.initFrom(window.grid)
    option.rect = QRect(0, 0, delegate.sizeHint(option, index).width(), delegate.sizeHint(option, index).height())
    pixmap = QPixmap(option.rect.size())
    pixmap.fill(Qt.GlobalColor.white)
    painter = QPainter(pixmap)
    delegate.paint(painter, option, index)
    painter.end()
    image = pixmap.toImage().copy(QRect(0, 0, option.rect.width() // 3, option.rect.height() // 3))
    c = fmt.EYES_CLOSED
    return sum(1 for y in range(image.height()) for x in range(image.width())
               if image.pixelColor(x, y).rgb() == c.rgb())


def test_the_grid_badges_and_filters_photos_with_closed_eyes(qtbot, make_window, settings, people):
    window = make_window(settings)
    start(qtbot, window)
    assert window.model.rowCount() == 3
    rows = {window.model.index(r).data(Roles.Photo).name: r for r in range(3)}
    assert _amber_in_corner(window, rows["GROUP_2.jpg"]) > 20
    assert _amber_in_corner(window, rows["GROUP_1.jpg"]) == 0
    assert "Eyes closed" in window.model.index(rows["GROUP_2.jpg"]).data(Qt.ItemDataRole.ToolTipRole)

    show = window.filters.show_combo
    with qtbot.waitSignal(window.model.reloaded, timeout=10_000):
        show.setCurrentIndex(show.findText("Eyes closed"))
    settled(qtbot, window.model)
    assert [window.model.index(r).data(Roles.Photo).name for r in range(window.model.rowCount())] == ["GROUP_2.jpg"]
    assert window.model.query.eyes_closed and window.model.query.status is None
