"""The cull view on a generated burst: candidates with reasons, keyboard review (P X U 0-5, arrows),
the threshold, the rule switches (counts, filtering without a reload), Remove rejected into a rejects
folder or a private trash, Undo (Ctrl+Z) restoring identical bytes with the grid following, export of
the picks, and repair at start."""
from __future__ import annotations

import os
import re

from burst import analysed, burst_files, sha, shoot, start  # noqa: F401 (fixtures)
from conftest import make_settings, settled
from PySide6.QtCore import Qt
from PySide6.QtTest import QAbstractItemModelTester
from PySide6.QtWidgets import QFileDialog

from app.storage import browse, journal, repo


def _open_cull(qtbot, window):
    with qtbot.waitSignal(window.cull.loaded, timeout=30_000):
        qtbot.keyClick(window, Qt.Key.Key_3, Qt.KeyboardModifier.ControlModifier)
    assert window.pages.currentWidget() is window.cull
    return window.cull


def _names(cull) -> dict[str, tuple[str, ...]]:
    return {os.path.basename(i.member.row.path): i.reasons for i in cull.model.items}


def _mark(qtbot, window, widget, key):
    """A mark key; the mark is saved by the curation service's writer, off the GUI thread."""
    with qtbot.waitSignal(window.curation.marksChanged, timeout=10_000):
        qtbot.keyClick(widget, key)


def _marks(window, pid):
    photo = browse.photos_by_id(window.engine, [pid])[pid]
    return photo.flag, photo.rating


def test_keyboard_review_changes_marks(qtbot, make_window, settings, analysed):
    window = make_window(settings)
    start(qtbot, window)
    cull = _open_cull(qtbot, window)
    candidates = _names(cull)
    assert {"IMG_03.jpg", "IMG_04.jpg", "IMG_05.jpg"} <= set(candidates)
    rules = {i.member.row.name: i.rules for i in cull.model.items}
    assert "blur" in rules["IMG_03.jpg"] and "extra" in rules["IMG_03.jpg"]
    assert any("out of focus" in r or "blur" in r for r in candidates["IMG_03.jpg"])
    # The pick of the burst is named by its file, not by a database id.
    assert any(r.startswith("not the pick of its burst of 5 (IMG_0") for r in candidates["IMG_03.jpg"])
    QAbstractItemModelTester(cull.model, QAbstractItemModelTester.FailureReportingMode.Warning)
    assert cull.list.currentIndex().row() == 0
    # Tabbing through the view never lands the review keys in the threshold box (they would move the
    # saved Cull below setting): only a click gives it the keyboard.
    before = cull.threshold.value()
    for _ in range(6):
        qtbot.keyClick(window, Qt.Key.Key_Tab)
        assert not cull.threshold.hasFocus()
    cull.focus_view()
    assert cull.threshold.value() == before
    assert cull.info.text() and os.path.basename(cull.model.items[0].member.row.path) in cull.info.text()
    assert re.search(r"\d+ × \d+ px", cull.info.text())  # size is shown, never a reason

    qtbot.keyClick(cull.list, Qt.Key.Key_Down)
    qtbot.keyClick(cull.list, Qt.Key.Key_Right)
    qtbot.keyClick(cull.list, Qt.Key.Key_Left)
    assert cull.list.currentIndex().row() == 1
    pid = cull.current_photo_id()
    _mark(qtbot, window, cull.list, Qt.Key.Key_X)
    assert _marks(window, pid) == ("reject", 0)
    assert "1 marked rejected" in cull.summary.text()
    assert "rejected" in cull.info.text()
    _mark(qtbot, window, cull.list, Qt.Key.Key_P)
    assert _marks(window, pid) == ("pick", 0)
    _mark(qtbot, window, cull.list, Qt.Key.Key_U)
    assert _marks(window, pid) == ("", 0)
    for stars in (3, 5, 0):
        _mark(qtbot, window, cull.list, getattr(Qt.Key, f"Key_{stars}"))
        assert _marks(window, pid) == ("", stars)
    # The list stays put while reviewing (a starred photo is no candidate, but does not jump away).
    _mark(qtbot, window, cull.list, Qt.Key.Key_4)
    assert cull.current_photo_id() == pid and cull.list.currentIndex().row() == 1
    # The grid shows the mark as well.
    settled(qtbot, window.model)
    row = window.model.row_of(pid)
    assert window.model.photo_at(row).rating == 4
    assert not cull.grab().isNull()

    # A threshold above every score makes every unstarred photo a candidate.
    with qtbot.waitSignal(cull.loaded, timeout=30_000):
        cull.threshold.setValue(10.0)
    assert len(cull.model.items) == 5  # six photos, one starred
    assert all(any("below 10.0" in r for r in i.reasons) for i in cull.model.items)


def test_rule_switches_filter_without_a_reload(qtbot, make_window, settings, analysed):
    from app.core.cullrules import RULES

    window = make_window(settings)
    start(qtbot, window)
    cull = _open_cull(qtbot, window)
    with qtbot.waitSignal(cull.loaded, timeout=30_000):
        cull.threshold.setValue(10.0)  # every photo is below: the score rule names all six, the whole burst
    switches = cull.rule_switches
    assert list(switches) == list(RULES) and all(box.isChecked() for box in switches.values())
    everyone = {i.member.row.name: i.rules for i in cull.model.items}
    assert len(everyone) == 6 and "every frame of 1 scene would go" in cull.summary.text()
    # Every switch tells how many candidates its rule names.
    by_rule = {rule: sum(1 for rules in everyone.values() if rule in rules) for rule in RULES}
    assert by_rule["score"] == 6 and by_rule["blur"] >= 1 and by_rule["extra"] == 4  # the burst's lesser frames
    for rule, box in switches.items():
        assert box.text() == f"{rule.capitalize()} {by_rule[rule]}"
        assert box.toolTip().startswith(RULES[rule][:1].upper() + RULES[rule][1:])
    assert "10, the Score below box" in switches["score"].toolTip()
    cull.list.setCurrentIndex(cull.model.index(next(r for r, i in enumerate(cull.model.items)
                                                    if i.member.row.name == "IMG_03.jpg")))
    blurred = cull.current_photo_id()

    loads = []
    window.curation.load_cull = lambda *args, **kwargs: loads.append(args)
    off: set[str] = set()
    for rule in ("score", "extra"):
        with qtbot.assertNotEmitted(cull.loaded), qtbot.waitSignal(cull.rulesChanged) as changed:
            switches[rule].click()
        off.add(rule)
        assert changed.args[0] == [r for r in RULES if r not in off]
        # The candidates of the rules still on, each with only their reasons; the count of a rule
        # that is off still says what it would add.
        shown = {i.member.row.name: i.rules for i in cull.model.items}
        assert shown == {name: tuple(r for r in rules if r not in off)
                         for name, rules in everyone.items() if set(rules) - off}
        assert switches[rule].text() == f"{rule.capitalize()} {by_rule[rule]}" and not switches[rule].isChecked()
        assert cull.current_photo_id() == blurred  # still named by blur: still the one under review
        assert cull.summary.text().startswith(f"{len(shown)} candidate")
        assert f"under {len(RULES) - len(off)} of {len(RULES)} rules" in cull.summary.text()
        assert "every frame of" not in cull.summary.text()  # the burst's pick is only named by score
    assert len(shown) < 4 and "IMG_03.jpg" in shown

    for rule in RULES:  # every rule off: nothing left, and the empty page says why
        if switches[rule].isChecked():
            switches[rule].click()
    assert cull.model.rowCount() == 0 and cull.stack.currentWidget() is cull.empty
    assert "under the rules that are on" in cull.empty.text() and "Extra (4)" in cull.empty.text()

    for rule in RULES:
        switches[rule].click()
    assert {i.member.row.name: i.rules for i in cull.model.items} == everyone
    assert cull.stack.currentWidget() is cull.splitter and "every frame of 1 scene would go" in cull.summary.text()
    assert "rules" not in cull.summary.text()
    assert not loads and not cull.loading


def test_rule_switches_keep_a_photo_rejected_meanwhile(qtbot, make_window, settings, analysed):
    window = make_window(settings)
    start(qtbot, window)
    cull = _open_cull(qtbot, window)
    # Reject a frame named at most by score and extra, then switch both off: it stays, as a rejected
    # photo (as a reload would show it, and as "Remove rejected" would move it).
    row = next(r for r, i in enumerate(cull.model.items) if "extra" in i.rules and set(i.rules) <= {"score", "extra"})
    cull.list.setCurrentIndex(cull.model.index(row))
    pid = cull.current_photo_id()
    cull.list.setFocus()
    _mark(qtbot, window, cull.list, Qt.Key.Key_X)
    with qtbot.assertNotEmitted(cull.loaded):
        cull.rule_switches["score"].click()
        cull.rule_switches["extra"].click()
    shown = {i.member.row.id: i for i in cull.model.items}
    assert pid in shown and shown[pid].reasons == ("rejected by you",) and cull.current_photo_id() == pid
    assert all(set(i.rules) - {"score", "extra"} for i in cull.model.items if i.member.row.id != pid)
    assert "1 marked rejected" in cull.summary.text()
    # The cull_rules setting switches the view over as well.
    cull.set_rules(["extra"])
    assert [r for r, box in cull.rule_switches.items() if box.isChecked()] == ["extra"]
    assert {i.member.row.name for i in cull.model.items} == {
        i.member.row.name for i in cull.candidates.items if "extra" in i.rules} | {shown[pid].member.row.name}


def test_remove_rejected_to_rejects_folder_and_undo(qtbot, make_window, engine, analysed, tmp_path, tiny_model):
    rejects = tmp_path / "Rejects"
    settings = make_settings(tmp_path, rejects_folder=str(rejects), **tiny_model)
    before = {p.name: sha(p) for p in analysed.iterdir()}
    window = make_window(settings)
    start(qtbot, window)
    cull = _open_cull(qtbot, window)
    cull.list.setFocus()
    marked = []
    for name in ("IMG_03.jpg", "IMG_04.jpg"):
        row = next(r for r, i in enumerate(cull.model.items) if i.member.row.name == name)
        cull.list.setCurrentIndex(cull.model.index(row))
        _mark(qtbot, window, cull.list, Qt.Key.Key_X)
        marked.append(cull.current_photo_id())
    asked = []
    window.commands.confirm = lambda title, text, action: asked.append(text) or True
    with qtbot.waitSignal(window.curationDone, timeout=30_000) as done:
        qtbot.mouseClick(cull.remove_button, Qt.MouseButton.LeftButton)
    assert "Move 2 photos" in asked[0] and str(rejects) in asked[0]
    assert done.args[0].startswith("Moved 2 photos")
    assert not (analysed / "IMG_03.jpg").exists() and not (analysed / "IMG_04.jpg").exists()
    assert sorted(p.name for p in rejects.rglob("*.jpg")) == ["IMG_03.jpg", "IMG_04.jpg"]
    window.reload()
    settled(qtbot, window.model)
    assert all(window.model.row_of(pid) is None for pid in marked)  # gone from the grid
    with qtbot.waitSignal(cull.loaded, timeout=30_000):
        pass  # the candidates load again without them
    assert not {"IMG_03.jpg", "IMG_04.jpg"} & set(_names(cull))

    with qtbot.waitSignal(window.curationDone, timeout=30_000) as done:
        qtbot.keyClick(cull.list, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert done.args[0] == "Restored 2 photos."
    assert {p.name: sha(p) for p in analysed.iterdir()} == before
    assert not list(rejects.rglob("*.jpg"))
    settled(qtbot, window.model)
    assert all(window.model.row_of(pid) is not None for pid in marked)  # back in the grid
    assert {p.id for p in repo.list_photos(window.engine)} >= set(marked)
    with qtbot.waitSignal(window.curationDone, timeout=30_000) as done:
        window.commands.undo_removal()
    assert done.args[0].startswith("Nothing to undo")


def test_remove_rejected_to_trash_from_the_menu_and_undo(qtbot, make_window, settings, analysed, trash):
    before = {p.name: sha(p) for p in analysed.iterdir()}
    window = make_window(settings)
    start(qtbot, window)
    window.sidebar.select_folder(str(analysed))  # the scope: this folder
    settled(qtbot, window.model)
    blown = next(p.id for p in repo.list_photos(window.engine) if p.name == "IMG_05.jpg")
    window.grid.setFocus()
    window.grid.setCurrentIndex(window.model.index(window.model.row_of(blown)))
    _mark(qtbot, window, window.grid, Qt.Key.Key_X)
    asked = []
    window.commands.confirm = lambda title, text, action: asked.append((text, action)) or True
    with qtbot.waitSignal(window.curationDone, timeout=30_000) as done:
        window.findChild(type(window.undo_action), "removeRejectedAction").trigger()
    assert "the system trash" in asked[0][0] and asked[0][1] == "Move to the trash"
    assert done.args[0] == "Moved 1 photo to the system trash. Undo removal (Ctrl+Z) puts them back."
    assert [p.name for p in (trash / "files").iterdir()] == ["IMG_05.jpg"]
    settled(qtbot, window.model)
    assert window.model.row_of(blown) is None
    with qtbot.waitSignal(window.curationDone, timeout=30_000):
        window.undo_action.trigger()
    assert {p.name: sha(p) for p in analysed.iterdir()} == before
    assert not list((trash / "files").iterdir())
    settled(qtbot, window.model)
    assert window.model.row_of(blown) is not None


def test_cancelled_confirmation_moves_nothing(qtbot, make_window, settings, analysed):
    window = make_window(settings)
    start(qtbot, window)
    pid = next(p.id for p in repo.list_photos(window.engine) if p.name == "IMG_03.jpg")
    window.grid.setCurrentIndex(window.model.index(window.model.row_of(pid)))
    window.commands.flag_selected("reject")
    asked = []
    window.commands.confirm = lambda title, text, action: asked.append(text) or False
    window.commands.remove_rejected()
    qtbot.waitUntil(lambda: bool(asked), timeout=10_000)
    assert "Move 1 photo marked rejected" in asked[0]
    assert (analysed / "IMG_03.jpg").exists()
    assert window.model.row_of(pid) is not None


def test_export_picks(qtbot, make_window, settings, analysed, tmp_path, monkeypatch):
    dest = tmp_path / "Keepers"
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(dest))
    window = make_window(settings)
    window.commands.choose_export = lambda counts: True  # the picks and each group's keeper
    start(qtbot, window)
    with qtbot.waitSignal(window.curationDone, timeout=30_000) as done:
        window.findChild(type(window.undo_action), "exportPicksAction").trigger()
    copied = sorted(p.name for p in dest.rglob("*") if p.is_file())
    assert [p.name for p in dest.iterdir()] == [analysed.name], "in All photos: below the library folder's name"
    assert done.args[0].startswith(f"Copied {len(copied)} file")
    assert copied and set(copied) & {"IMG_01.jpg", "IMG_02.jpg"}
    with qtbot.waitSignal(window.curationDone, timeout=30_000) as again:  # nothing twice
        window.findChild(type(window.undo_action), "exportPicksAction").trigger()
    assert again.args[0].startswith("Copied 0 files") and "already there from an earlier export" in again.args[0]
    assert sorted(p.name for p in dest.rglob("*") if p.is_file()) == copied


def test_interrupted_removal_is_finished_at_start(qtbot, make_window, settings, engine, analysed, tmp_path):
    a = next(p for p in repo.list_photos(engine) if p.name == "IMG_04.jpg")
    rejects = tmp_path / "rejects"
    rid = journal.plan(engine, str(rejects), [(a.id, a.path, sha(analysed / "IMG_04.jpg"))])
    rejects.mkdir()
    os.rename(a.path, rejects / "IMG_04.jpg")  # the move happened; the app died before recording it
    window = make_window(settings)
    with qtbot.waitSignal(window.curationDone, timeout=30_000) as done:
        start(qtbot, window)
    assert "interrupted" in done.args[0]
    op = journal.get(engine, rid)
    assert op.state == "done" and op.files[0].state == "moved"
    assert a.id not in {p.id for p in repo.list_photos(engine)}


def test_photos_removed_before_the_app_started_stay_out_of_the_grid(qtbot, make_window, settings, engine,
                                                                     analysed, tmp_path):
    from app import curation

    a = next(p for p in repo.list_photos(engine) if p.name == "IMG_04.jpg")
    curation.remove_photos(engine, settings, [a.id], rejects_folder=str(tmp_path / "rejects"))
    window = make_window(settings)
    start(qtbot, window)
    assert window.model.row_of(a.id) is None


def test_reasons_read_on_a_dark_theme_that_left_placeholder_text_at_its_default(qtbot, qapp, make_window, settings,
                                                                               analysed):
    """A dark theme need not set PlaceholderText (Qt's default is a dark grey): the reasons under each
    candidate are drawn from the palette's Text and Base, so they still read."""
    from PySide6.QtGui import QColor, QPalette

    before = qapp.palette()
    palette = QPalette()
    for role, colour in [("Window", "#2b2b2b"), ("WindowText", "#eeeeee"), ("Base", "#1e1e1e"),
                         ("Text", "#eeeeee"), ("Button", "#353535"), ("ButtonText", "#eeeeee"),
                         ("PlaceholderText", "#404040")]:
        palette.setColor(getattr(QPalette.ColorRole, role), QColor(colour))
    qapp.setPalette(palette)
    try:
        window = make_window(settings)
        start(qtbot, window)
        cull = _open_cull(qtbot, window)
        assert cull.model.rowCount() >= 2 and cull.model.items[1].reasons
        cull.list.setCurrentIndex(cull.model.index(0))  # row 1 is drawn unselected, on Base
        rect = cull.list.visualRect(cull.model.index(1))
        image = cull.list.viewport().grab().toImage()
        text_area = [(x, y) for x in range(rect.left() + rect.width() // 2, rect.right() - 4)
                     for y in range(rect.top() + rect.height() // 3, rect.bottom() - 2)]
        lit = sum(QColor(image.pixel(x, y)).lightness() > 120 for x, y in text_area)
        assert lit > 30, lit  # the reasons' letters stand out from the dark background
    finally:
        qapp.setPalette(before)


def test_cull_view_shows_curations_order(qtbot, make_window, settings, analysed):
    from app import curation
    from app.core import cullrules

    window = make_window(settings)
    start(qtbot, window)
    cull = _open_cull(qtbot, window)
    decided = curation.cull_list(window.engine, settings, None, cull.threshold.value(),
                                 rules=cullrules.RULES).restrict(cull.rules)
    assert len(decided.items) >= 3
    assert [i.member.row.id for i in cull.model.items] == [i.member.row.id for i in decided.items]
