"""The main window as a user meets it: first run, a folder scored in the background, the grid,
the viewer, batch marks, and the state without model weights."""
from __future__ import annotations

from conftest import settled
from PySide6.QtCore import Qt

from app.storage import browse
from app.ui.photo_model import Roles


def _start(qtbot, window, folders):
    """Start the window and wait until the folders are scanned into the grid."""
    with qtbot.waitSignal(window.library.changed, timeout=30_000):
        window.start([str(f) for f in folders])
    window.show()
    qtbot.waitExposed(window)


def test_welcome_when_the_library_is_empty(qtbot, make_window, settings):
    window = make_window(settings)
    window.start([])
    assert window.pages.currentWidget() is window.welcome
    assert window.welcome.choose.isVisible() or not window.isVisible()


def test_folder_is_scored_in_the_background(qtbot, make_window, settings, photos):
    window = make_window(settings)
    with qtbot.waitSignal(window.scoring.idle, timeout=60_000), \
            qtbot.waitSignal(window.scoring.modelReady, timeout=60_000):
        _start(qtbot, window, [photos])
    assert window.pages.currentWidget() is window.grid_page
    window.reload()
    settled(qtbot, window.model)
    model = window.model
    assert model.rowCount() == 9
    statuses = [model.index(r).data(Roles.Status) for r in range(model.rowCount())]
    assert statuses.count("scored") == 8 and statuses.count("failed") == 1
    assert window.scoring_status.device.text().startswith("CPU")
    assert window.scoring_status.label.text() == "All photos scored"
    # The broken photo shows on its tile and in the errors list.
    with qtbot.waitSignal(window.countsShown, timeout=5000):
        window.refresh_counts()
    assert window.scoring_status.errors.isVisible()
    assert window.scoring_status.errors.text() == "1 could not be scored"
    dialog = window.scoring_ui.show_errors()
    assert dialog.model.rowCount() == 1
    assert dialog.model.item(0, 0).text() == "broken.jpg"
    dialog.close()


def test_grid_viewer_and_batch_marks(qtbot, make_window, settings, photos):
    window = make_window(settings)
    with qtbot.waitSignal(window.scoring.idle, timeout=60_000):
        _start(qtbot, window, [photos])
    window.reload()
    settled(qtbot, window.model)
    grid = window.grid
    grid.setFocus()
    grid.setCurrentIndex(window.model.index(0))
    grid.selectAll()
    with qtbot.waitSignal(window.curation.marksChanged, timeout=10_000):  # saved off the GUI thread
        qtbot.keyClick(grid, Qt.Key.Key_4)
    settled(qtbot, window.model)
    assert browse.status_counts(window.engine).total == 9
    ids = window.model.ids()
    assert {p.rating for p in browse.photos_by_id(window.engine, ids).values()} == {4}
    assert window.model.index(0).data(Roles.Rating) == 4
    grid.clearSelection()
    grid.setCurrentIndex(window.model.index(1))
    with qtbot.waitSignal(window.curation.marksChanged, timeout=10_000):  # saved off the GUI thread
        qtbot.keyClick(grid, Qt.Key.Key_P)
    settled(qtbot, window.model)
    assert window.model.index(1).data(Roles.Flag) == "pick"

    # Enter opens the viewer on the current photo; arrows move; Esc returns.
    qtbot.keyClick(grid, Qt.Key.Key_Return)
    assert window.pages.currentWidget() is window.viewer
    first = window.viewer.photo.id
    assert first == window.model.id_at(1)
    assert window.viewer.fields["Name"].text() == window.viewer.photo.name
    qtbot.keyClick(window.viewer, Qt.Key.Key_Right)
    assert window.viewer.photo.id == window.model.id_at(2)
    with qtbot.waitSignal(window.curation.marksChanged, timeout=10_000):  # saved off the GUI thread
        qtbot.keyClick(window.viewer, Qt.Key.Key_X)  # reject the photo on screen
    assert browse.photos_by_id(window.engine, [window.model.id_at(2)])[window.model.id_at(2)].flag == "reject"
    qtbot.keyClick(window.viewer, Qt.Key.Key_Escape)
    assert window.pages.currentWidget() is window.grid_page
    assert grid.currentIndex().row() == 2

    # Sorting and filtering from the bar re-query in SQL (in the model's query thread).
    with qtbot.waitSignal(window.model.reloaded, timeout=10_000):
        window.filters.set_sort("name")
    names = [window.model.index(r).data(Qt.ItemDataRole.DisplayRole) for r in range(window.model.rowCount())]
    assert names == sorted(names)
    with qtbot.waitSignal(window.model.reloaded, timeout=10_000):
        window.filters.marks.setCurrentIndex(window.filters.marks.findData("pick"))
    assert window.model.rowCount() == 1
    window.filters.marks.setCurrentIndex(0)
    window.sidebar.select_folder(str(photos / "trip"))
    settled(qtbot, window.model)
    assert window.model.rowCount() == 3


def test_no_model_still_browses(qtbot, make_window, photos, tmp_path):
    from conftest import make_settings

    settings = make_settings(tmp_path, encoder=str(tmp_path / "no-such-encoder"), head=str(tmp_path / "none.pth"))
    window = make_window(settings)
    with qtbot.waitSignal(window.scoring.modelUnavailable, timeout=30_000) as off:
        _start(qtbot, window, [photos])
    assert "no-such-encoder" in off.args[0]
    assert window.banner.isVisible()
    assert "no-such-encoder" in window.banner.message.text()
    assert window.banner.download.isVisible() and window.banner.choose.isVisible()
    assert window.scoring_status.label.text() == "Scoring is off"
    window.reload()
    settled(qtbot, window.model)
    assert window.model.rowCount() == 9
    assert {window.model.index(r).data(Roles.Status) for r in range(9)} <= {"unscored", "failed"}
    with qtbot.waitSignal(window.model.reloaded, timeout=10_000):
        window.filters.set_sort("name")
    window.navigation.open_viewer(window.model.index(0))
    assert window.pages.currentWidget() is window.viewer


def test_choosing_model_files_starts_scoring(qtbot, make_window, photos, tmp_path, tiny_model):
    from conftest import make_settings

    settings = make_settings(tmp_path / "cfg", encoder=str(tmp_path / "missing"), head=str(tmp_path / "x.pth"))
    window = make_window(settings)
    with qtbot.waitSignal(window.scoring.modelUnavailable, timeout=30_000):
        _start(qtbot, window, [photos])
    with qtbot.waitSignal(window.scoring.idle, timeout=60_000):
        window.settings_ui.apply_settings({"encoder": tiny_model["encoder"], "head": tiny_model["head"]})
    assert not window.banner.isVisible()
    assert browse.status_counts(window.engine).scored == 8
    saved = (tmp_path / "cfg" / "settings.toml").read_text()
    assert tiny_model["encoder"] in saved


def test_settings_dialog_covers_the_registry(qtbot, settings):
    from app.config.settings import REGISTRY
    from app.ui.dialogs import SettingsDialog

    dialog = SettingsDialog(settings)
    qtbot.addWidget(dialog)
    assert set(dialog.editors) == set(REGISTRY)
    values = dialog.values()
    assert values["good_threshold"] == settings.good_threshold
    assert values["exclude"] == settings.exclude
    dialog.editors["thumbnail_size"].setValue(192)
    dialog.editors["exclude"].setText("*.tmp, drafts/*")
    dialog._save()
    assert dialog.changes == {"thumbnail_size": 192, "exclude": ["*.tmp", "drafts/*"]}
    text = settings.path.read_text()
    assert "thumbnail_size = 192" in text and "drafts/*" in text


def test_download_offline_fails_with_a_plain_message(qtbot, make_window, photos, tmp_path, monkeypatch):
    import huggingface_hub.constants
    from conftest import make_settings

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    settings = make_settings(tmp_path, encoder="aesthete-tests/no-such-encoder", head=str(tmp_path / "none.pth"))
    window = make_window(settings)
    with qtbot.waitSignal(window.scoring.modelUnavailable, timeout=30_000):
        _start(qtbot, window, [photos])
    with qtbot.waitSignal(window.downloadEnded, timeout=30_000) as ended:
        qtbot.mouseClick(window.banner.download, Qt.MouseButton.LeftButton)
    assert "could not be downloaded" in ended.args[0]
    assert "Traceback" not in ended.args[0]
    assert window.banner.isVisible() and window.banner.download.isVisible()
    assert "could not be downloaded" in window.banner.message.text()


def test_unreachable_root_shows_offline(qtbot, make_window, engine, photos, tmp_path, tiny_model):
    from conftest import make_settings

    from app.library import scan_folders

    settings = make_settings(tmp_path, **tiny_model)
    scan_folders(engine, settings, [photos])
    photos.rename(tmp_path / "unplugged")  # the drive is gone
    window = make_window(settings)
    with qtbot.waitSignal(window.countsShown, timeout=30_000):
        _start(qtbot, window, [])
    window.reload()
    settled(qtbot, window.model)
    assert window.model.rowCount() == 9
    assert {window.model.index(r).data(Roles.Status) for r in range(9)} == {"offline"}
    assert "offline" in window.sidebar.model.item(1).text()
    window.navigation.open_viewer(window.model.index(0))
    assert "offline" in window.viewer.image.note


def test_showing_a_filtered_out_photo_clears_the_filter_then_opens_it(qtbot, make_window, engine, photos, tmp_path):
    from conftest import make_settings

    from app.library import scan_folders

    settings = make_settings(tmp_path, encoder=str(tmp_path / "no-encoder"), head=str(tmp_path / "none.pth"))
    scan_folders(engine, settings, [photos])
    window = make_window(settings)
    with qtbot.waitSignal(window.scoring.modelUnavailable, timeout=30_000):
        _start(qtbot, window, [])
    settled(qtbot, window.model)
    target = window.model.id_at(3)
    with qtbot.waitSignal(window.model.reloaded, timeout=10_000):
        window.filters.set_status("scored")  # nothing is scored: every photo is hidden
    assert window.model.rowCount() == 0 and window.grid_stack.currentWidget() is window.empty
    with qtbot.waitSignal(window.model.reloaded, timeout=10_000):
        window.scoring_ui.show_photo_id(target)  # as the errors list's "Show" does
    assert window.pages.currentWidget() is window.viewer
    assert window.viewer.photo.id == target and window.model.rowCount() == 9
