"""The window's actions and menus. Each action's text and shortcuts come from the key table
(app.ui.keys), its slot from the window or one of its controllers."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu

from app.ui import keys


def _action(window, name: str, slot, menu: QMenu | None = None) -> QAction:
    """An action as app.ui.keys defines it (its text and every shortcut), on the whole window."""
    spec = keys.BY_NAME[name]
    action = QAction(spec.text, window)
    action.setObjectName(name)
    shortcuts = keys.sequences(spec.keys)
    if shortcuts:
        action.setShortcuts(shortcuts)
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
    action.triggered.connect(slot)
    window.addAction(action)
    if menu is not None:
        menu.addAction(action)
    return action


def build_menus(window) -> None:
    """The menu bar; every action also works by its keys anywhere in the window."""
    menubar = window.menuBar()
    file_menu = menubar.addMenu("&Library")
    _action(window, "addFolderAction", window.choose_folder, file_menu)
    _action(window, "rescanAction", lambda: window.library.rescan(None), file_menu)
    file_menu.addSeparator()
    _action(window, "settingsAction", window.settings_ui.open_settings, file_menu)
    file_menu.addSeparator()
    window.quit_action = _action(window, "quitAction", window.close, file_menu)

    photo_menu = menubar.addMenu("&Photo")
    window.photo_menu = photo_menu
    _action(window, "viewAction", window.navigation.open_current, photo_menu)
    _action(window, "openAction", window.open_selected, photo_menu)
    _action(window, "revealAction", window.reveal_selected, photo_menu)
    photo_menu.addSeparator()
    rate = photo_menu.addMenu("&Rating")
    for n in range(6):
        _action(window, f"rate{n}Action", lambda _=False, n=n: window.commands.rate_selected(n), rate)
    _action(window, "pickAction", lambda: window.commands.flag_selected("pick"), photo_menu)
    _action(window, "rejectAction", lambda: window.commands.flag_selected("reject"), photo_menu)
    _action(window, "unflagAction", lambda: window.commands.flag_selected(""), photo_menu)
    photo_menu.addSeparator()
    _action(window, "copyPathAction", window.copy_paths, photo_menu)
    _action(window, "similarAction", window.finding.more_like_this, photo_menu)

    view_menu = menubar.addMenu("&View")
    _action(window, "zoomInAction", lambda: window.zoom(1.25), view_menu)
    _action(window, "zoomOutAction", lambda: window.zoom(0.8), view_menu)
    _action(window, "findAction", window.finding.focus_search, view_menu)
    view_menu.addSeparator()
    _action(window, "libraryViewAction", lambda: window.show_view("library"), view_menu)
    _action(window, "bestViewAction", lambda: window.show_view("best"), view_menu)
    _action(window, "cullViewAction", lambda: window.show_view("cull"), view_menu)

    curate = menubar.addMenu("&Curate")
    _action(window, "acceptAllAction", window.commands.accept_all_picks, curate)
    _action(window, "compareAction", window.commands.compare_frames, curate)
    curate.addSeparator()
    _action(window, "removeRejectedAction", window.commands.remove_rejected, curate)
    window.undo_action = _action(window, "undoRemovalAction", window.commands.undo_removal, curate)
    curate.addSeparator()
    _action(window, "exportPicksAction", window.commands.export_picks, curate)
    curate.addSeparator()
    taste = curate.addMenu("My &taste")
    _action(window, "learnTasteAction", window.finding.learn, taste)
    _action(window, "exportTasteAction", window.finding.export_taste, taste)
    _action(window, "importTasteAction", window.finding.import_taste, taste)
    _action(window, "resetTasteAction", window.finding.reset_taste, taste)

    score_menu = menubar.addMenu("&Scoring")
    window.pause_action = _action(window, "pauseAction", window.scoring_ui.toggle_pause, score_menu)
    _action(window, "cancelAction", window.scoring_ui.cancel_scoring, score_menu)
    score_menu.addSeparator()
    _action(window, "errorsAction", window.scoring_ui.show_errors, score_menu)
    score_menu.addSeparator()
    _action(window, "downloadAction", window.scoring_ui.start_download, score_menu)
    _action(window, "chooseModelAction", window.settings_ui.choose_model, score_menu)

    help_menu = menubar.addMenu("&Help")
    _action(window, "keysHelpAction", window.show_keys, help_menu)
    _action(window, "aboutAction", window.about, help_menu)


def grid_menu(window, pos) -> None:
    """The grid's context menu: the selection's actions, as in the Photo menu."""
    index = window.grid.indexAt(pos)
    if index.isValid() and not window.grid.selectionModel().isSelected(index):
        window.grid.setCurrentIndex(index)
    if not window.grid.selectionModel().hasSelection():
        return
    menu = QMenu(window)
    for name in ("viewAction", "openAction", "revealAction"):
        menu.addAction(window.findChild(QAction, name))
    menu.addSeparator()
    rating = menu.addMenu("Rating")
    for n in range(6):
        rating.addAction(window.findChild(QAction, f"rate{n}Action"))
    for name in ("pickAction", "rejectAction", "unflagAction", "copyPathAction"):
        menu.addAction(window.findChild(QAction, name))
    menu.addSeparator()
    menu.addAction(window.findChild(QAction, "similarAction"))
    menu.exec(window.grid.viewport().mapToGlobal(pos))
