"""From a new user's trial: the best-shots header fits a long folder (cut in the middle, hints
apart), Export picks asks picks only or with each group's keeper (with counts), Ctrl+, opens the
settings, F1 and ? list every shortcut of the view, folders dropped on the window or several
chosen at once join the library."""
from __future__ import annotations

from pathlib import Path

import pytest
from burst import analysed, burst_files, shoot, start  # noqa: F401 (fixtures)
from conftest import make_settings, settled, write_photos
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QAction, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import QAbstractItemView, QApplication, QFileDialog

from app.storage import browse, marks, repo
from app.ui import keys


def _no_model(tmp_path):
    return make_settings(tmp_path, encoder=str(tmp_path / "no-encoder"), head=str(tmp_path / "none.pth"))


def _start(qtbot, window, folders):
    with qtbot.waitSignals([window.library.changed, window.scoring.modelUnavailable], timeout=30_000):
        window.start([str(f) for f in folders])
    window.show()
    qtbot.waitExposed(window)
    settled(qtbot, window.model)


def _roots(engine) -> set[str]:
    return {p for _id, p in browse.root_paths(engine)}


# --- 5. the best-shots header ---------------------------------------------------------------------

def test_best_header_cuts_a_long_folder_in_the_middle_apart_from_the_key_hints(qtbot, make_window, tmp_path):
    folder = tmp_path / ("Holiday photos from a rather long trip along the coast " * 2).strip() / "the last day"
    write_photos(folder, 2)
    window = make_window(_no_model(tmp_path))
    _start(qtbot, window, [folder])
    qtbot.waitUntil(lambda: window.sidebar.model.rowCount() > 1, timeout=10_000)
    window.sidebar.select_folder(str(folder))
    qtbot.waitUntil(lambda: window.query.under == str(folder), timeout=10_000)
    window.show_view("best")
    best = window.best
    label = best.scope_label
    qtbot.waitUntil(lambda: label.toolTip() == f"in {folder}", timeout=10_000)
    qtbot.waitUntil(lambda: label.text() != label.toolTip(), timeout=5_000)
    shown = label.text()
    assert "…" in shown and shown.startswith("in " + str(folder)[:3]) and shown.endswith("the last day"), shown
    assert label.fontMetrics().horizontalAdvance(shown) <= label.width()
    # The hints are a label of their own, on their own line, clear of the folder.
    assert "Enter, P pick" in best.hint.text() and "pick" not in shown
    assert best.hint.isVisible()
    top_of_hint = best.hint.mapTo(best.header, best.hint.rect().topLeft()).y()
    assert top_of_hint >= label.mapTo(best.header, label.rect().bottomLeft()).y()
    label.set_full_text("in /short")
    assert label.text() == "in /short" and label.toolTip() == "in /short"  # what fits is shown whole


# --- 6. export: picks only, or with each group's keeper -----------------------------------------

def test_export_asks_picks_only_or_with_keepers_and_counts_each(qtbot, make_window, settings, engine, analysed,
                                                              tmp_path, monkeypatch):
    one = next(p for p in repo.list_photos(engine) if p.name == "OTHER.jpg")  # in no group
    marks.set_flag(engine, [one.id], "pick")
    window = make_window(settings)
    start(qtbot, window)
    asked = []
    answer = {"keepers": False}
    window.commands.choose_export = lambda counts: asked.append(counts) or answer["keepers"]
    dest = {"path": tmp_path / "Only picks"}
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(dest["path"]))
    action = window.findChild(QAction, "exportPicksAction")
    with qtbot.waitSignal(window.curationDone, timeout=30_000) as done:
        action.trigger()
    counts = asked[-1]
    assert counts.picks == (1, 1)
    assert counts.with_keepers[0] > 1 and counts.with_keepers[1] >= counts.with_keepers[0]
    assert [p.name for p in dest["path"].rglob("*") if p.is_file()] == ["OTHER.jpg"]
    assert done.args[0].startswith("Copied 1 file ")

    answer["keepers"], dest["path"] = True, tmp_path / "With keepers"
    with qtbot.waitSignal(window.curationDone, timeout=30_000):
        action.trigger()
    assert len([p for p in dest["path"].rglob("*") if p.is_file()]) == counts.with_keepers[1]

    answer["keepers"] = None  # cancelled: nothing copied, no folder asked
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: pytest.fail("asked for a folder"))
    action.trigger()
    qtbot.waitUntil(lambda: len(asked) == 3, timeout=30_000)


def test_export_choice_dialog_says_how_many_each_choice_copies(qtbot):
    from app.ui.dialogs import ExportChoiceDialog

    dialog = ExportChoiceDialog((2, 3), (7, 9))
    qtbot.addWidget(dialog)
    assert dialog.picks_only.text() == "Your picks only (2, 3 files with RAW files)"
    assert dialog.with_keepers.text() == "Your picks and each group's keeper (7, 9 files with RAW files)"
    assert dialog.picks_only.isChecked() and not dialog.keepers()
    dialog.with_keepers.setChecked(True)
    assert dialog.keepers()
    plain = ExportChoiceDialog((0, 0), (4, 4))
    qtbot.addWidget(plain)
    assert plain.picks_only.text() == "Your picks only (0)" and plain.keepers(), "no picks yet: the keepers"


# --- 9. Ctrl+, ----------------------------------------------------------------------------------

def test_ctrl_comma_opens_the_settings_on_every_desktop(qtbot, make_window, tmp_path, monkeypatch):
    import app.ui.window_settings as mw

    opened = []

    class Dialog:
        changes = {}

        def __init__(self, *_args):
            opened.append(True)

        def exec(self):
            return 0

    monkeypatch.setattr(mw, "SettingsDialog", Dialog)
    window = make_window(_no_model(tmp_path))
    action = window.findChild(QAction, "settingsAction")
    assert QKeySequence("Ctrl+,") in action.shortcuts()
    for seq in QKeySequence.keyBindings(QKeySequence.StandardKey.Preferences):
        assert seq in action.shortcuts()
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=5_000)
    qtbot.keyClick(window, Qt.Key.Key_Comma, Qt.KeyboardModifier.ControlModifier)
    assert opened == [True]


# --- 10. keyboard help --------------------------------------------------------------------------

def _help(qtbot, window, key=Qt.Key.Key_F1):
    qtbot.keyClick(window, key)
    dialog = window.keys_dialog
    assert dialog is not None and dialog.isVisible()
    text = dialog.text()
    dialog.close()
    return dialog.view, text


def test_help_lists_every_shortcut_the_window_has_for_the_view(qtbot, make_window, tmp_path):
    folder = tmp_path / "Camera"
    write_photos(folder, 3)
    window = make_window(_no_model(tmp_path))
    _start(qtbot, window, [folder])
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=5_000)
    with_keys = [a for a in window.actions() if a.shortcuts()]
    assert {a.objectName() for a in with_keys} >= {"settingsAction", "quitAction", "pickAction", "keysHelpAction"}
    for a in with_keys:  # one table defines them: the window has exactly the table's keys
        assert a.shortcuts() == keys.sequences(keys.BY_NAME[a.objectName()].keys), a.objectName()
    seen = {}
    for view in ("library", "best", "cull"):
        window.show_view(view)
        shown, text = _help(qtbot, window)
        assert shown == view
        seen[view] = text
        for a in with_keys:
            if view in keys.BY_NAME[a.objectName()].views:
                for seq in a.shortcuts():
                    assert keys.key_text(seq) in text, (view, a.objectName(), keys.key_text(seq))
    assert "Ctrl+," in seen["library"] and "F1" in seen["cull"]
    assert "previous or next group" in seen["best"] and "previous or next group" not in seen["library"]
    window.show_view("library")
    window.navigation.open_viewer(window.model.index(0))
    shown, text = _help(qtbot, window, Qt.Key.Key_Question)  # ? as well as F1
    assert shown == "viewer" and "back to the grid" in text and "P" in text


def test_the_views_key_hints_are_read_from_the_key_table(qtbot, make_window, tmp_path, monkeypatch):
    for view in keys.HINTS:  # every hint names keys the view's help lists
        listed = " ".join(k for k, _ in keys.help_rows(view))
        parts = keys.hint_text(view).split(" · ")
        assert len(parts) == len(keys.HINTS[view])  # every action of a hint has a key on this desktop
        for part, (_ref, word) in zip(parts, keys.HINTS[view]):
            assert part.endswith(" " + word)
            for key in part[:-len(word) - 1].replace("–", " ").split():
                assert key in listed, (view, part)
    assert "Ctrl+Z undo removal" in keys.hint_text("cull") and "F1 all keys" in keys.hint_text("best")
    # a key changed in the table is changed in the hint line the view shows
    monkeypatch.setitem(keys.BY_NAME, "pickAction", keys.BY_NAME["pickAction"]._replace(keys=("K",)))
    assert "K pick" in keys.hint_text("cull") and "P pick" not in keys.hint_text("cull")
    window = make_window(_no_model(tmp_path))
    write_photos(tmp_path / "Camera", 2)
    _start(qtbot, window, [tmp_path / "Camera"])
    from PySide6.QtWidgets import QLabel
    for name, view in (("cullHint", "cull"), ("bestShotsHint", "best"), ("compareHint", "compare"),
                       ("viewerHint", "viewer")):
        label = window.findChild(QLabel, name)
        assert label is not None, name
        assert label.text() == keys.hint_text(view)
    assert "K pick" in window.findChild(QLabel, "cullHint").text()


def test_with_scoring_off_the_views_say_why_photos_are_not_analysed(qtbot, make_window, tmp_path):
    """Best shots and Cull said "photos are still being analysed" while nothing was, for want of a model."""
    write_photos(tmp_path / "Camera", 3)
    window = make_window(_no_model(tmp_path))
    _start(qtbot, window, [tmp_path / "Camera"])
    for view, target in (("best", window.best), ("cull", window.cull)):
        window.show_view(view)
        qtbot.waitUntil(lambda: not target.loading and target.stack.currentWidget() is target.empty, timeout=10_000)
        qtbot.waitUntil(lambda: "scoring is off" in target.empty.text(), timeout=10_000)
        assert "still being analysed" not in target.empty.text()
        assert "3 photos not analysed: scoring is off" in target.summary.text()


# --- 11. folders dropped, several chosen --------------------------------------------------------

def _mime(*paths: Path) -> QMimeData:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    return mime


def test_dropped_folders_join_the_library_and_files_are_left_out(qtbot, make_window, engine, tmp_path):
    first, dropped = tmp_path / "Camera", tmp_path / "Dropped"
    write_photos(first, 1)
    write_photos(dropped, 2, start=10)
    a_file = write_photos(tmp_path / "Loose", 1, start=20)[0]
    window = make_window(_no_model(tmp_path))
    _start(qtbot, window, [first])
    assert window.acceptDrops()
    only_files = _mime(a_file)
    enter = QDragEnterEvent(window.rect().center(), Qt.DropAction.CopyAction, only_files,
                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    assert not enter.isAccepted(), "files alone are not offered a drop"
    both = _mime(dropped, a_file)
    enter = QDragEnterEvent(window.rect().center(), Qt.DropAction.CopyAction, both,
                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    drop = QDropEvent(QPointF(window.rect().center()), Qt.DropAction.CopyAction, both,
                      Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(window.library.changed, timeout=30_000):
        QApplication.sendEvent(window, drop)
        message = window.statusBar().currentMessage()
    assert "Adding 1 folder" in message and "1 file left out" in message
    qtbot.waitUntil(lambda: _roots(engine) == {str(first), str(dropped)}, timeout=10_000)


def test_add_folder_takes_several_folders_at_once(qtbot, make_window, engine, tmp_path, monkeypatch):
    import app.ui.main_window as mw
    from app.ui.dialogs import folders_dialog

    dialog = folders_dialog(None, str(tmp_path))
    views = dialog.findChildren(QAbstractItemView)
    assert dialog.fileMode() == QFileDialog.FileMode.Directory
    assert dialog.testOption(QFileDialog.Option.DontUseNativeDialog)
    assert views and all(v.selectionMode() == QAbstractItemView.SelectionMode.ExtendedSelection for v in views)
    dialog.deleteLater()

    first, second, third = (tmp_path / n for n in ("Camera", "Phone", "Scans"))
    for i, f in enumerate((first, second, third)):
        write_photos(f, 1, start=i)
    window = make_window(_no_model(tmp_path))
    _start(qtbot, window, [first])
    monkeypatch.setattr(mw, "ask_folders", lambda _parent, _start: [str(second), str(third)])
    with qtbot.waitSignal(window.library.changed, timeout=30_000):
        window.findChild(QAction, "addFolderAction").trigger()
    qtbot.waitUntil(lambda: _roots(engine) == {str(first), str(second), str(third)}, timeout=10_000)
