"""The best-shots view on a generated burst: the sound pick highlighted, picks changed by keys and
kept, accept all, and the side-by-side compare with synchronised zoom and 1:1."""
from __future__ import annotations

import os

import pytest
from burst import analysed, burst_files, shoot, start  # noqa: F401 (fixtures)
from conftest import make_settings, settled
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QAbstractItemModelTester

from app import curation
from app.storage import browse
from app.ui.best_model import GroupListModel


@pytest.fixture
def settings(tmp_path, tiny_model):
    """PyTorch's encoder: the compare test wants the burst's pick to be a full-frame shot (the
    shifted frame is 8 px narrower), and that depends on the tiny random model's scores."""
    return make_settings(tmp_path, runtime="torch", **tiny_model)


def _open_best(qtbot, window):
    with qtbot.waitSignal(window.best.loaded, timeout=30_000):
        qtbot.keyClick(window, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
    assert window.pages.currentWidget() is window.best
    assert window.switcher.currentIndex() == 1
    return window.best


def _burst_row(best):
    return next(r for r, g in enumerate(best.model.groups) if g.kind == "burst")


def _name(member) -> str:
    return os.path.basename(member.row.path)


def _focus_burst(qtbot, window):
    """The best-shots view opened with the burst's row current: (view, strip, row, group)."""
    best = _open_best(qtbot, window)
    row = _burst_row(best)
    best.strip.setCurrentIndex(best.model.index(row))
    return best, best.strip, row, best.model.groups[row]


def test_burst_group_with_the_sound_pick(qtbot, make_window, settings, analysed):
    window = make_window(settings)
    start(qtbot, window)
    best = _open_best(qtbot, window)
    row = _burst_row(best)
    group = best.model.groups[row]
    assert sorted(_name(m) for m in group.members) == ["IMG_01.jpg", "IMG_02.jpg", "IMG_03.jpg", "IMG_04.jpg",
                                                       "IMG_05.jpg"]
    assert _name(group.pick) in ("IMG_01.jpg", "IMG_02.jpg") and not group.pick.faults
    assert "burst" in best.summary.text() or "group" in best.summary.text()
    # The row says what the group is and why its pick won.
    index = best.model.index(row)
    assert index.data() == "Burst · 5 photos"
    assert index.data(Qt.ItemDataRole.ToolTipRole)[:1].isupper() and group.reason.lower() in \
        index.data(Qt.ItemDataRole.ToolTipRole).lower()
    # Arriving in the group, the focus is on its pick; the strip paints without trouble.
    best.strip.setCurrentIndex(index)
    assert best.strip.focused_id() == group.pick_id
    assert not best.strip.grab().isNull()
    tester = QAbstractItemModelTester(best.model, QAbstractItemModelTester.FailureReportingMode.Warning)
    del tester


def test_change_the_pick_with_keys_and_it_stays(qtbot, make_window, settings, analysed):
    window = make_window(settings)
    start(qtbot, window)
    best, strip, row, group = _focus_burst(qtbot, window)
    ids = [m.row.id for m in group.members]
    other = next(m for m in group.members if m.row.id != group.pick_id and not m.faults)
    strip.setFocus()
    key = Qt.Key.Key_Right if ids.index(other.row.id) > ids.index(group.pick_id) else Qt.Key.Key_Left
    while strip.focused_id() != other.row.id:
        qtbot.keyClick(strip, key)
    with qtbot.waitSignal(window.curation.marksChanged, timeout=10_000) as saved:
        qtbot.keyClick(strip, Qt.Key.Key_Return)
    assert other.row.id in saved.args[0]
    assert best.model.groups[row].pick_id == other.row.id  # shown at once
    assert browse.photos_by_id(window.engine, [other.row.id])[other.row.id].flag == "pick"
    # Reloading (as after a rescan) keeps the user's choice.
    with qtbot.waitSignal(best.loaded, timeout=30_000):
        best.reload()
    again = best.model.groups[_burst_row(best)]
    assert again.pick_id == other.row.id and again.reason.startswith("your pick")
    # P (the window's pick shortcut) on another frame moves the pick; the old one is cleared.
    strip.setFocus()
    first = next(i for i, m in enumerate(again.members) if m.row.id != other.row.id)
    strip.set_focus(_burst_row(best), first)
    target = again.members[first].row.id
    with qtbot.waitSignal(window.curation.marksChanged, timeout=10_000):
        qtbot.keyClick(strip, Qt.Key.Key_P)
    flags = {pid: p.flag for pid, p in browse.photos_by_id(window.engine, ids).items()}
    assert flags[target] == "pick" and flags[other.row.id] == ""
    # The grid's tiles show the new marks too.
    window.show_view("library")
    settled(qtbot, window.model)
    grid_row = window.model.row_of(target)
    assert grid_row is not None and window.model.photo_at(grid_row).flag == "pick"


def test_accept_all_marks_every_pick(qtbot, make_window, settings, analysed):
    window = make_window(settings)
    start(qtbot, window)
    best = _open_best(qtbot, window)
    picks = [g.pick_id for g in best.model.groups]
    with qtbot.waitSignal(window.curation.marksChanged, timeout=10_000):
        qtbot.mouseClick(best.accept_button, Qt.MouseButton.LeftButton)
    rows = browse.photos_by_id(window.engine, picks)
    assert all(rows[p].flag == "pick" for p in picks)
    groups = curation.load_groups(window.engine, settings)
    assert sorted(g.pick_id for g in groups) == sorted(picks)


def test_compare_two_frames_with_synchronised_zoom(qtbot, make_window, settings, analysed):
    window = make_window(settings)
    start(qtbot, window)
    best, strip, row, group = _focus_burst(qtbot, window)
    strip.setFocus()
    blurred = next(i for i, m in enumerate(group.members) if _name(m) == "IMG_03.jpg")
    qtbot.keyClick(strip, Qt.Key.Key_Space)  # mark the pick
    assert strip.marked == group.pick_id
    strip.set_focus(row, blurred)
    compare = best.compare_view
    with qtbot.waitSignal(compare.ready, timeout=30_000):
        qtbot.keyClick(strip, Qt.Key.Key_C)
    assert best.stack.currentWidget() is compare
    left, right = compare.panes
    assert {compare.sides[0].photo.id, compare.sides[1].photo.id} == {group.pick_id, group.members[blurred].row.id}
    assert left.image.size().width() == 1280 and right.image.size().width() == 1280  # full size, not a preview
    assert "the pick" in compare.titles[0].text()

    # Z: 1:1, one image pixel on one screen pixel, in both panes at the same spot.
    qtbot.keyClick(compare, Qt.Key.Key_Z)
    assert not compare.state.fit
    for pane in compare.panes:
        assert abs(pane.current_scale() * pane.devicePixelRatioF() - 1.0) < 1e-9
    assert left.image_rect() == right.image_rect()
    assert compare.zoom_label.text() == "100 %"
    # The wheel over one pane zooms both around the same image point.
    before = left.image_point(QPointF(40, 40))
    left.zoom_at(QPointF(40, 40), 2.0)
    assert abs(left.current_scale() - right.current_scale()) < 1e-12
    assert left.image_rect() == right.image_rect()
    after = left.image_point(QPointF(40, 40))
    assert abs(after.x() - before.x()) < 1e-6 and abs(after.y() - before.y()) < 1e-6
    # Dragging one pane pans both.
    centre = compare.state.center
    qtbot.mousePress(right, Qt.MouseButton.LeftButton, pos=QPoint(100, 100))
    qtbot.mouseMove(right, QPoint(60, 80))
    qtbot.mouseRelease(right, Qt.MouseButton.LeftButton, pos=QPoint(60, 80))
    assert compare.state.center != centre
    assert left.image_rect() == right.image_rect()
    assert not compare.grab().isNull()
    # F fits again; Esc returns to the groups.
    qtbot.keyClick(compare, Qt.Key.Key_F)
    assert compare.state.fit and compare.zoom_label.text() == "Fit"
    qtbot.keyClick(compare, Qt.Key.Key_Escape)
    assert best.stack.currentWidget() is strip


def test_group_model_passes_the_tester(qtbot, qtmodeltester, engine, settings, analysed):
    from app.workers.curation import load_groups

    result = load_groups(engine, settings, None)
    model = GroupListModel(None)
    model.set_groups(result.groups, result.photos)
    qtmodeltester.check(model)
    assert model.rowCount() >= 1


def test_exact_copies_keep_curations_reason_when_the_model_judges_again(qtbot, engine, settings, analysed):
    """The model shows the reason curation gives: after a pick is made and taken back, the exact
    copies still say the identical files are why the first one is kept."""
    import shutil

    from app import library
    from app.library import ModelHolder, analyse, scan_folders
    from app.workers.curation import load_groups

    (analysed / "backup").mkdir()
    shutil.copy2(analysed / "OTHER.jpg", analysed / "backup" / "OTHER.jpg")
    scan_folders(engine, settings, [analysed])
    holder = ModelHolder(settings)
    analyse(engine, holder, library.pending(engine, holder))
    told = next(g for g in curation.load_groups(engine, settings) if g.kind == "exact")
    assert told.reason == "identical files: the one first seen in the library is kept"

    result = load_groups(engine, settings, None)
    model = GroupListModel(None)
    model.set_groups(result.groups, result.photos)
    row = next(r for r, g in enumerate(model.groups) if g.kind == "exact")
    index = model.index(row)
    assert model.data(index, Qt.ItemDataRole.ToolTipRole).lower() == told.reason
    other = next(m.row.id for m in model.groups[row].members if m.row.id != told.pick_id)
    model.set_pick(row, other)  # shown at once; the worker would save it
    assert model.groups[row].pick_id == other
    # The pick was never saved, so the rows from the database carry no marks: back to curation's word.
    members = [m.row.id for m in model.groups[row].members]
    model.photos_changed(browse.photos_by_id(engine, members))
    assert model.groups[row].pick_id == told.pick_id
    assert model.data(index, Qt.ItemDataRole.ToolTipRole).lower() == told.reason
