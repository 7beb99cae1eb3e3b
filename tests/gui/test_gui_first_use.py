"""What a new user met in a first trial of the app: the tab bar after adding a folder, the cull
threshold in the viewer, scoring failures in the log, the viewer when its photo is deleted, the
model banner, the window's size and place, and where file dialogs open."""
from __future__ import annotations

import logging
import os

from conftest import make_settings, settled, write_photos
from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QFileDialog

from app import curation
from app.config import settings as settings_mod
from app.library import scan_folders
from app.storage import browse, repo
from app.ui.sidebar import PATH_ROLE


def _no_model(tmp_path):
    return make_settings(tmp_path, encoder=str(tmp_path / "no-encoder"), head=str(tmp_path / "none.pth"))


def _start(qtbot, window, folders, model_off: bool = True):
    """Start, and wait for the scan (and, without model files, for the scorer to say so: a scorer
    thread still looking for them when the test ends would outlive the window)."""
    signals = [window.library.changed] + ([window.scoring.modelUnavailable] if model_off else [])
    with qtbot.waitSignals(signals, timeout=30_000):
        window.start([str(f) for f in folders])
    window.show()
    qtbot.waitExposed(window)
    settled(qtbot, window.model)


def _select(qtbot, window, folder):
    """Select a folder in the sidebar once its counts list it."""
    qtbot.waitUntil(lambda: window.sidebar.model.rowCount() > 1, timeout=10_000)
    window.sidebar.select_folder(str(folder))
    qtbot.waitUntil(lambda: window.query.under == str(folder), timeout=10_000)
    settled(qtbot, window.model)


def test_adding_a_folder_from_cull_shows_the_library_tab_and_the_folder(qtbot, make_window, tmp_path, monkeypatch):
    first, added = tmp_path / "Camera", tmp_path / "Holiday"
    write_photos(first, 2)
    write_photos(added, 2, start=10)
    window = make_window(_no_model(tmp_path))
    _start(qtbot, window, [first])
    window.show_view("cull")
    assert window.switcher.currentIndex() == 2
    monkeypatch.setattr("app.ui.main_window.ask_folders", lambda *a, **k: [str(added)])
    with qtbot.waitSignal(window.library.changed, timeout=30_000):
        window.findChild(type(window.quit_action), "addFolderAction").trigger()
    assert window.pages.currentWidget() is window.grid_page
    assert window.switcher.currentIndex() == 0, "the tab bar shows the page that is shown"
    # The folder just added is selected once the sidebar lists it.
    qtbot.waitUntil(lambda: window.query.under == str(added), timeout=10_000)
    assert window.sidebar.tree.currentIndex().data(PATH_ROLE) == str(added)
    window.switcher.setCurrentIndex(2)  # a click on Cull works again
    assert window.pages.currentWidget() is window.cull


def test_viewer_uses_the_cull_tabs_threshold(qtbot, make_window, engine, tmp_path, monkeypatch):
    folder = tmp_path / "Photos"
    write_photos(folder, 3)
    settings = _no_model(tmp_path)
    scan_folders(engine, settings, [folder])
    for photo in repo.list_photos(engine):
        repo.save_score(engine, photo.id, "test-model", "fp32", 3.0, None, None)
    window = make_window(settings)
    _start(qtbot, window, [])
    window.navigation.open_viewer(window.model.index(0))
    assert window.viewer.fields["Score"].text() == "cull candidate (below 4)"
    saves = []
    real_save = settings_mod.save
    monkeypatch.setattr(settings_mod, "save", lambda *a: (saves.append(a), real_save(*a)))
    window.cull.threshold.setValue(2.5)
    window.cull.threshold.setValue(2.0)  # two steps in quick succession: saved once, when settled
    qtbot.waitUntil(lambda: window.viewer.fields["Score"].text() == "fine", timeout=5_000)
    assert len(saves) == 1
    assert window.delegate.cull == 2.0 and window.best.delegate.cull == 2.0
    # It is the "Cull below" setting, so the next start (and the CLI) use it too.
    assert settings_mod.load(settings.path).cull_threshold == 2.0
    assert window.settings.encoder == settings.encoder, "only the threshold changed"


def test_scoring_failures_are_in_the_log(qtbot, make_window, settings, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="app.workers.scoring")
    folder = tmp_path / "Mixed"
    write_photos(folder, 1)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    window = make_window(settings)
    with qtbot.waitSignal(window.scoring.idle, timeout=60_000):
        _start(qtbot, window, [folder], model_off=False)
    failures = [r for r in caplog.records if r.name == "app.workers.scoring" and "broken.jpg" in r.getMessage()]
    assert failures and failures[0].levelno >= logging.INFO
    assert str(folder / "broken.jpg") in failures[0].getMessage()
    error = browse.photo_errors(window.engine)[0].reason
    assert error in failures[0].getMessage(), "the reason the errors list shows"
    assert any("scoring done: 2 photos this session, 1 of them failed" in r.getMessage() for r in caplog.records)


def test_viewer_moves_on_when_its_photo_is_deleted(qtbot, make_window, tmp_path):
    folder = tmp_path / "Camera"
    files = write_photos(folder, 4)
    window = make_window(_no_model(tmp_path))
    _start(qtbot, window, [folder])
    with qtbot.waitSignal(window.model.reloaded, timeout=10_000):
        window.filters.set_sort("name")
    ids = list(window.model.ids())
    window.navigation.open_viewer(window.model.index(1))
    assert window.viewer.photo.id == ids[1]

    os.remove(files[1])  # the watcher takes it out of the grid
    qtbot.waitUntil(lambda: window.model.row_of(ids[1]) is None, timeout=10_000)
    assert window.pages.currentWidget() is window.viewer
    assert window.viewer.photo.id == ids[2], "the neighbour that took its place"
    with qtbot.waitSignal(window.curation.marksChanged, timeout=10_000):  # saved off the GUI thread
        qtbot.keyClick(window.viewer, Qt.Key.Key_3)
    rows = browse.photos_by_id(window.engine, ids)
    assert rows[ids[2]].rating == 3 and not rows[ids[1]].rating, "marks go to the photo on screen"
    qtbot.keyClick(window.viewer, Qt.Key.Key_Right)
    assert window.viewer.photo.id == ids[3], "→ goes on from there, not back to the first photo"

    # When no photo is left to show, the viewer closes.
    with qtbot.waitSignal(window.model.reloaded, timeout=10_000):
        window.filters.set_status("scored")  # nothing is scored
    assert window.model.rowCount() == 0
    assert window.pages.currentWidget() is window.grid_page
    assert window.selected_ids() == []


def test_banner_goes_as_soon_as_a_model_is_on_its_way(qtbot, make_window, tmp_path):
    folder = tmp_path / "Camera"
    write_photos(folder, 1)
    window = make_window(_no_model(tmp_path))
    _start(qtbot, window, [folder])
    assert window.banner.isVisible()
    window.scoring.modelStatus.emit("Preparing the fast CPU engine")  # as the worker does while loading
    assert not window.banner.isVisible()
    assert window.scoring_status.label.text() == "Preparing the fast CPU engine…"

    window.banner.show_problem("the encoder is not on this computer")
    with qtbot.waitSignal(window.scoring.modelUnavailable, timeout=30_000):
        window.settings_ui.apply_settings({"encoder": str(tmp_path / "still-missing"), "head": str(tmp_path / "x.pth")})
        assert not window.banner.isVisible(), "new model files: the banner goes at once"
    assert window.banner.isVisible(), "and comes back when they do not work either"


def test_window_fits_half_a_screen(qtbot, make_window, tmp_path):
    settings = _no_model(tmp_path)
    folder = tmp_path / "A folder with a rather long name to show in the summaries of best shots and cull"
    write_photos(folder, 2)
    window = make_window(settings)
    _start(qtbot, window, [folder])
    window.banner.show_problem("The encoder is not on this computer: " + str(tmp_path / "no-encoder"))
    _select(qtbot, window, folder)
    for view in ("best", "cull"):
        window.show_view(view)
        shown = (lambda: window.best.scope_label.toolTip()) if view == "best" else (lambda: window.cull.summary.text())
        qtbot.waitUntil(lambda shown=shown: str(folder) in shown(), timeout=10_000)
    window.show_view("library")
    assert window.minimumSizeHint().width() <= 900, "half of a 1920 pixel screen"


def test_window_remembers_its_size_and_state(qtbot, make_window, tmp_path):
    settings = _no_model(tmp_path)
    window = make_window(settings)
    window.showMaximized()
    qtbot.waitUntil(window.isMaximized)
    window.close()
    again = make_window(settings)
    again.show()
    assert again.isMaximized(), "maximised when the user quit, maximised again"
    again.showNormal()
    again.resize(780, 560)  # within the offscreen screen: a restored geometry must fit on it
    qtbot.waitUntil(lambda: again.size() == QSize(780, 560))
    again.close()
    third = make_window(settings)
    assert third.size() == QSize(780, 560)


def test_file_dialogs_start_in_a_sensible_folder(qtbot, make_window, tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    folder = tmp_path / "Library"
    write_photos(folder / "trip", 1)
    settings = make_settings(tmp_path, encoder="aesthete-tests/no-such-encoder", head=str(tmp_path / "none.pth"))
    window = make_window(settings)
    _start(qtbot, window, [folder])
    starts = []  # where each folder dialog opened; the user cancels it

    def dialog(_parent, _title, start="", *_args, **_kwargs):
        starts.append(start)
        return ""

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", dialog)
    photo = repo.list_photos(window.engine)[0]
    curation.set_marks(window.engine, window.settings, [photo.id], flag="pick")  # something to export
    window.commands.choose_export = lambda counts: False  # the user's picks only
    window.commands.export_picks()  # counted in the background, then the folder is asked for
    qtbot.waitUntil(lambda: len(starts) == 1, timeout=10_000)
    assert starts[-1] == str(tmp_path), "beside the library folder (exports into it are refused)"
    _select(qtbot, window, folder / "trip")
    window.commands.export_picks()
    qtbot.waitUntil(lambda: len(starts) == 2, timeout=10_000)
    assert starts[-1] == str(folder), "beside the folder shown"
    window.settings_ui.choose_model()
    assert starts[-1] == str(home), "a model name is not a folder: home"

    from app.ui.dialogs import SettingsDialog

    dialog = SettingsDialog(window.settings)
    qtbot.addWidget(dialog)
    dialog._browse("encoder")
    assert starts[-1] == str(home)
    dialog.editors["encoder"].setText(str(folder))
    dialog._browse("encoder")
    assert starts[-1] == str(folder)
