"""The main window: sidebar, the view switcher (Library · Best shots · Cull), filter bar and grid
(or the viewer), the model banner and the status bar, wired to the background workers. It owns
the staged shutdown: stop the watcher, cancel the workers, wait for their threads, then let the
caller dispose of the database.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import time
from typing import Any

from PySide6.QtCore import QModelIndex, QItemSelectionModel, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (QApplication, QFileDialog, QLabel, QMainWindow, QMenu, QMessageBox, QProgressBar,
                               QSplitter, QStackedWidget, QTabBar, QVBoxLayout, QWidget)
from sqlalchemy import Engine

from app.config import paths
from app.config import settings as settings_mod
from app.core.errors import AestheteError
from app.storage import browse, marks
from app.ui import art, desktop, keys
from app.ui.banner import ModelBanner
from app.ui.best import BestShotsView
from app.ui.cull import CullView
from app.ui.delegate import TileDelegate
from app.ui.dialogs import ErrorsDialog, ExportChoiceDialog, SettingsDialog, ask_folders, start_folder
from app.ui.filterbar import FilterBar
from app.ui.format import plural, printable
from app.ui.grid import LibraryGrid
from app.ui.photo_model import PhotoListModel, Roles
from app.ui.sidebar import Sidebar
from app.ui.statusbar import ScoringStatus
from app.ui.viewer import Viewer
from app.ui.welcome import WelcomePage
from app.workers.curation import CurationService, ExportCounts, Removal
from app.workers.download import ModelDownload
from app.workers.library import LibraryService
from app.workers.scoring import ScoringController
from app.workers.tasks import make_pool, run_task, running_threads
from app.workers.thumbnails import ThumbnailLoader
from app.workers.watcher import FolderWatcher

log = logging.getLogger(__name__)

MODEL_SETTINGS = ("encoder", "head", "device", "precision", "batch_size", "decode_workers")
# Settings that change groups, picks or cull candidates: best shots and cull are found again.
GROUPING_SETTINGS = ("burst_window_s", "scene_max_distance", "out_of_focus_px", "motion_blur_px", "lost_highlights")
VIEWS = ("library", "best", "cull")  # the switcher's tabs, in order
RELOAD_ROWS_LIMIT = 2000  # marks on more photos than this reload the view instead of row by row
COUNTS_AFTER_ROWS_MS = 100  # counts asked for while the grid was loading wait this long after its rows


def library_counts(engine: Engine) -> tuple[list[tuple[int, str]], list[browse.FolderCount], browse.StatusCounts]:
    return browse.root_paths(engine), browse.folder_counts(engine), browse.status_counts(engine)


def write_sidecars(engine: Engine, ids: list[int]) -> int:
    """XMP sidecars for these photos' marks (when the user asked for them in the settings)."""
    from pathlib import Path

    from app.core import xmp

    written = 0
    for m in marks.marks_of(engine, ids):
        try:
            xmp.write_sidecar(Path(m.path), m.rating or None, m.flag == "reject", m.flag == "pick")
            written += 1
        except (OSError, xmp.SidecarError) as exc:
            log.warning("cannot write the sidecar of %s: %s", m.path, exc)
    return written


def ui_state() -> QSettings:
    """Where the window remembers its layout: a small file in the state folder (not the settings)."""
    return QSettings(str(paths.state_dir() / "window.ini"), QSettings.Format.IniFormat)


class MainWindow(QMainWindow):
    shutdownFinished = Signal(bool)  # True when every worker thread ended in time
    countsShown = Signal()
    downloadEnded = Signal(str)  # "" when the weights are in place, else why not
    curationDone = Signal(str)  # what a removal, undo, export or repair did, in words

    def __init__(self, engine: Engine, settings: settings_mod.Settings, overrides: dict[str, Any] | None = None,
                 debounce_ms: int = 750, thumbnail_threads: int = 2):
        super().__init__()
        self.setObjectName("mainWindow")
        self.setWindowTitle("Aesthete")
        self.setWindowIcon(art.icon())
        self.engine = engine
        self.settings = settings
        self.overrides = overrides or {}
        self.query = browse.PhotoQuery()
        self._shut_down = False
        self._counts_token = 0
        self._failed_count = 0
        self._library_total = 0
        self._tree = None
        self._why_off = ""
        self._show_when_loaded: int | None = None  # a photo to open once the rows that hold it arrive
        self._counts_waiting = False  # counts asked for while the grid's rows were on their way
        self._select_when_listed: str | None = None  # a folder just added, selected once the sidebar lists it
        self._viewer_row: int | None = None  # the viewer's row while the grid's rows are replaced
        self.keys_dialog: keys.KeysDialog | None = None  # the keyboard help, while open
        self.tile = settings.thumbnail_size

        # --- workers -------------------------------------------------------------------
        self.io_pool = make_pool("io", 2, self)
        self.thumbnails = ThumbnailLoader(thumbnail_threads, self)
        self.library = LibraryService(engine, settings, self)
        self.scoring = ScoringController(engine, settings, self)
        self.watcher = FolderWatcher(debounce_ms, self)
        self.curation = CurationService(engine, settings, self)
        self.download: ModelDownload | None = None

        # --- views ---------------------------------------------------------------------
        self.model = PhotoListModel(engine, self.thumbnails, settings.thumbnail_size, self)
        self.delegate = TileDelegate(self.tile, settings.good_threshold, settings.cull_threshold, self)
        self.grid = LibraryGrid(self.model, self.delegate, self)
        self.grid.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.banner = ModelBanner(self)
        self.filters = FilterBar(self)
        self.sidebar = Sidebar(self)
        self.viewer = Viewer(settings.good_threshold, settings.cull_threshold, self)
        self.best = BestShotsView(self.curation, self.thumbnails, settings.thumbnail_size,
                                  settings.good_threshold, settings.cull_threshold, self)
        self.cull = CullView(self.curation, self.thumbnails, settings.thumbnail_size,
                             settings.good_threshold, settings.cull_threshold, self)
        self.welcome = WelcomePage(self)
        self.empty = QLabel("No photos match these filters.", self)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setObjectName("emptyLabel")

        grid_page = QWidget(self)
        grid_layout = QVBoxLayout(grid_page)
        grid_layout.setContentsMargins(0, 0, 0, 0)
        grid_layout.setSpacing(0)
        grid_layout.addWidget(self.filters)
        self.grid_stack = QStackedWidget(grid_page)
        self.grid_stack.addWidget(self.grid)
        self.grid_stack.addWidget(self.empty)
        grid_layout.addWidget(self.grid_stack, 1)
        self.pages = QStackedWidget(self)
        self.pages.setObjectName("pages")
        self.pages.addWidget(self.welcome)
        self.pages.addWidget(grid_page)
        self.pages.addWidget(self.viewer)
        self.pages.addWidget(self.best)
        self.pages.addWidget(self.cull)
        self.grid_page = grid_page
        self.switcher = QTabBar(self)
        self.switcher.setObjectName("viewSwitcher")
        self.switcher.setDocumentMode(True)
        self.switcher.setExpanding(False)
        self.switcher.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        for i, (text, tip) in enumerate((("Library", "All photos, sorted and filtered (Ctrl+1)"),
                                         ("Best shots", "The keeper of each burst and set of similar shots (Ctrl+2)"),
                                         ("Cull", "Photos to clear out, with the reasons (Ctrl+3)"))):
            self.switcher.addTab(text)
            self.switcher.setTabToolTip(i, tip)
        content = QWidget(self)
        content_layout = QVBoxLayout(content)
        content_layout.setContentsMargins(0, 0, 0, 0)
        content_layout.setSpacing(0)
        content_layout.addWidget(self.switcher)
        content_layout.addWidget(self.pages, 1)
        self.splitter = QSplitter(self)
        self.splitter.addWidget(self.sidebar)
        self.splitter.addWidget(content)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([240, 1000])
        central = QWidget(self)
        layout = QVBoxLayout(central)
        layout.setContentsMargins(6, 6, 6, 0)
        layout.setSpacing(6)
        layout.addWidget(self.banner)
        layout.addWidget(self.splitter, 1)
        self.setCentralWidget(central)

        self.summary = QLabel(self)
        self.summary.setObjectName("librarySummary")
        self.busy = QLabel(self)
        self.busy.setObjectName("busyLabel")
        self.busy_bar = QProgressBar(self)
        self.busy_bar.setRange(0, 0)
        self.busy_bar.setFixedWidth(80)
        self.busy_bar.hide()
        self.scoring_status = ScoringStatus(self)
        bar = self.statusBar()
        bar.addWidget(self.summary)
        bar.addWidget(self.busy_bar)
        bar.addWidget(self.busy)
        bar.addPermanentWidget(self.scoring_status)

        self._make_actions()
        self._connect()
        self._counts_timer = QTimer(self)
        self._counts_timer.setInterval(3000)
        self._counts_timer.timeout.connect(self.refresh_counts)
        self.setAcceptDrops(True)  # folders dropped on the window are added
        self.resize(1280, 820)
        self._restore_layout()

    # --- start --------------------------------------------------------------------------

    def start(self, folders: list[str] | None = None) -> None:
        """Show what is cached, then rescan every root (adding `folders`) and start scoring."""
        folders = [os.path.abspath(os.fspath(f)) for f in (folders or [])]
        missing = [f for f in folders if not os.path.isdir(f)]
        for f in missing:
            self.show_problem(f"{printable(f)} is not a folder; it was not added")
        folders = [f for f in folders if f not in missing]
        roots = browse.root_paths(self.engine)
        self._show_page(bool(roots or folders))
        self.curation.repair(self._repaired)  # a removal a crash interrupted is finished first
        self.reload()
        self.refresh_counts()
        self.scoring.start()
        if roots or folders:
            self.library.rescan(folders + [p for _id, p in roots if p not in folders] if folders else None)
        self.watcher.watch(roots)

    # --- actions and menus ----------------------------------------------------------------

    def _action(self, name: str, slot, menu: QMenu | None = None) -> QAction:
        """An action as app.ui.keys defines it (its text and every shortcut), on the whole window."""
        spec = keys.BY_NAME[name]
        action = QAction(spec.text, self)
        action.setObjectName(name)
        shortcuts = keys.sequences(spec.keys)
        if shortcuts:
            action.setShortcuts(shortcuts)
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.triggered.connect(slot)
        self.addAction(action)
        if menu is not None:
            menu.addAction(action)
        return action

    def _make_actions(self) -> None:
        menubar = self.menuBar()
        file_menu = menubar.addMenu("&Library")
        self._action("addFolderAction", self.choose_folder, file_menu)
        self._action("rescanAction", lambda: self.library.rescan(None), file_menu)
        file_menu.addSeparator()
        self._action("settingsAction", self.open_settings, file_menu)
        file_menu.addSeparator()
        self.quit_action = self._action("quitAction", self.close, file_menu)

        photo_menu = menubar.addMenu("&Photo")
        self.photo_menu = photo_menu
        self._action("viewAction", self.open_current, photo_menu)
        self._action("openAction", self.open_selected, photo_menu)
        self._action("revealAction", self.reveal_selected, photo_menu)
        photo_menu.addSeparator()
        rate = photo_menu.addMenu("&Rating")
        for n in range(6):
            self._action(f"rate{n}Action", lambda _=False, n=n: self.rate_selected(n), rate)
        self._action("pickAction", lambda: self.flag_selected("pick"), photo_menu)
        self._action("rejectAction", lambda: self.flag_selected("reject"), photo_menu)
        self._action("unflagAction", lambda: self.flag_selected(""), photo_menu)
        photo_menu.addSeparator()
        self._action("copyPathAction", self.copy_paths, photo_menu)

        view_menu = menubar.addMenu("&View")
        self._action("zoomInAction", lambda: self.zoom(1.25), view_menu)
        self._action("zoomOutAction", lambda: self.zoom(0.8), view_menu)
        view_menu.addSeparator()
        self._action("libraryViewAction", lambda: self.show_view("library"), view_menu)
        self._action("bestViewAction", lambda: self.show_view("best"), view_menu)
        self._action("cullViewAction", lambda: self.show_view("cull"), view_menu)

        curate = menubar.addMenu("&Curate")
        self._action("acceptAllAction", self.accept_all_picks, curate)
        self._action("compareAction", self.compare_frames, curate)
        curate.addSeparator()
        self._action("removeRejectedAction", self.remove_rejected, curate)
        self.undo_action = self._action("undoRemovalAction", self.undo_removal, curate)
        curate.addSeparator()
        self._action("exportPicksAction", self.export_picks, curate)

        score_menu = menubar.addMenu("&Scoring")
        self.pause_action = self._action("pauseAction", self.toggle_pause, score_menu)
        self._action("cancelAction", self.cancel_scoring, score_menu)
        score_menu.addSeparator()
        self._action("errorsAction", self.show_errors, score_menu)
        score_menu.addSeparator()
        self._action("downloadAction", self.start_download, score_menu)
        self._action("chooseModelAction", self.choose_model, score_menu)

        help_menu = menubar.addMenu("&Help")
        self._action("keysHelpAction", self.show_keys, help_menu)
        self._action("aboutAction", self.about, help_menu)

    def help_view(self) -> str:
        """The view in front, as the keyboard help tells them apart."""
        page = self.pages.currentWidget()
        if page is self.viewer:
            return "viewer"
        if page is self.best and self.best.stack.currentWidget() is self.best.compare_view:
            return "compare"
        return self.current_view()

    def show_keys(self) -> None:
        """F1, ?: every shortcut of the view in front."""
        if self.keys_dialog is not None:
            self.keys_dialog.close()  # the help of the view in front now
        self.keys_dialog = keys.KeysDialog(self.help_view(), self)
        self.keys_dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.keys_dialog.destroyed.connect(self._keys_closed)
        self.keys_dialog.show()

    def _keys_closed(self) -> None:
        self.keys_dialog = None

    def _connect(self) -> None:
        self.grid.openRequested.connect(self.open_viewer)
        self.grid.visibleChanged.connect(self.scoring.set_visible)
        self.grid.customContextMenuRequested.connect(self._grid_menu)
        self.filters.queryChanged.connect(self._filters_changed)
        self.sidebar.folderSelected.connect(self._folder_changed)
        self.sidebar.addRequested.connect(self.choose_folder)
        self.sidebar.rescanRequested.connect(lambda root: self.library.rescan([root]))
        self.sidebar.removeRequested.connect(self.remove_root)
        self.sidebar.relocateRequested.connect(self.relocate_root)
        self.sidebar.revealRequested.connect(lambda path: desktop.reveal([path]))
        self.welcome.addFolder.connect(lambda path: self.add_folders([path]))
        self.welcome.chooseFolder.connect(self.choose_folder)
        self.viewer.closed.connect(self.close_viewer)
        self.viewer.moveRequested.connect(self.move_viewer)
        self.viewer.openRequested.connect(self.open_selected)
        self.viewer.revealRequested.connect(self.reveal_selected)
        self.model.dataChanged.connect(self._rows_changed)
        self.model.modelAboutToBeReset.connect(self._keep_viewer_row)
        self.model.modelReset.connect(self._follow_viewer)  # after the grid has kept its selection
        self.model.reloaded.connect(self._rows_shown)
        self.model.reloadFailed.connect(self._rows_failed)
        self.switcher.currentChanged.connect(lambda i: self.show_view(VIEWS[i]))
        self.best.status.connect(lambda text: self.statusBar().showMessage(text, 5000))
        self.cull.markRequested.connect(self.flag_selected)
        self.cull.rateRequested.connect(self.rate_selected)
        self.cull.removeRequested.connect(self.remove_rejected)
        self.cull.undoRequested.connect(self.undo_removal)
        self.cull.thresholdChanged.connect(self._cull_threshold_changed)
        self.curation.marksChanged.connect(self._marked_by_curation)
        self.curation.problem.connect(self.show_problem)

        self.library.changed.connect(self.reload)
        self.library.changed.connect(self.refresh_counts)
        self.library.changed.connect(self.scoring.refresh)
        self.library.changed.connect(self._curation_outdated)
        self.library.rootsChanged.connect(self._roots_changed)
        self.library.busy.connect(self._busy)
        self.library.problem.connect(self.show_problem)
        self.watcher.changed.connect(self.library.sync)
        self.watcher.problem.connect(self.show_problem)

        w = self.scoring
        w.modelUnavailable.connect(self._model_unavailable)
        w.modelLoading.connect(self._model_loading)
        w.modelStatus.connect(self._model_loading)  # a long one-time step (the ONNX conversion)
        w.modelReady.connect(self._model_ready)
        w.progress.connect(self._progress)
        w.chunkStarted.connect(self.model.set_scoring)
        w.photoScored.connect(self._photo_scored)
        w.photoFailed.connect(self._photo_failed)
        w.photoUpdated.connect(self._photo_scored_again)
        w.idle.connect(self._scoring_idle)
        w.crashed.connect(self._scoring_crashed)

        self.scoring_status.pauseRequested.connect(self.toggle_pause)
        self.scoring_status.resumeRequested.connect(self.toggle_pause)
        self.scoring_status.cancelRequested.connect(self.cancel_scoring)
        self.scoring_status.errorsRequested.connect(self.show_errors)
        self.banner.downloadRequested.connect(self.start_download)
        self.banner.chooseRequested.connect(self.choose_model)
        self.banner.cancelRequested.connect(self.cancel_download)

    # --- the library ------------------------------------------------------------------------

    def reload(self) -> None:
        """Re-run the query in the model's query thread; the grid changes when the rows arrive
        (the grid keeps the selection)."""
        if self._shut_down:
            return  # a late signal from a worker that finished while quitting
        self.model.set_query(self.query)

    def _rows_shown(self, _ms: float = 0.0) -> None:
        """A query's rows are in place: the grid, or why it is empty."""
        if self._shut_down:
            return
        self._counts_after_rows()
        if not self.model.rowCount():
            filtered = self.model.query.with_(sort="score", descending=None, under=None) != browse.PhotoQuery()
            self.empty.setText("No photos match these filters." if filtered else
                               "No photos here yet. Photos added to this folder appear by themselves.")
        self.grid_stack.setCurrentWidget(self.grid if self.model.rowCount() else self.empty)
        wanted, self._show_when_loaded = self._show_when_loaded, None
        if wanted is not None:
            row = self.model.row_of(wanted)
            if row is not None:
                self.open_viewer(self.model.index(row))

    def _counts_after_rows(self) -> None:
        if self._counts_waiting:
            self._counts_waiting = False
            QTimer.singleShot(COUNTS_AFTER_ROWS_MS, self.refresh_counts)  # once the grid has painted them

    def _rows_failed(self, why: str) -> None:
        self.show_problem(f"the photos could not be listed: {why}")
        self._counts_after_rows()

    def refresh_counts(self) -> None:
        if self._shut_down:
            return
        if self.model.is_loading():
            # The grid's rows first: both queries read the whole table, and on two cores the
            # counts would slow the rows down. They follow as soon as the rows are in.
            self._counts_waiting = True
            return
        self._counts_waiting = False
        self._counts_token += 1
        token = self._counts_token
        run_task(self.io_pool, library_counts, self.engine,
                 on_done=lambda result: self._show_counts(token, result))

    def _show_counts(self, token: int, result) -> None:
        if token != self._counts_token or self._shut_down:
            return  # a newer count is on its way
        roots, folders, counts = result
        tree = (roots, [os.path.isdir(p) for _id, p in roots], folders, counts.total)
        if tree != self._tree:  # rebuilding would reset the sidebar's scrolling for nothing
            self._tree = tree
            self.sidebar.show_counts(roots, folders, counts.total)
        if self._select_when_listed and self.sidebar.select_folder(self._select_when_listed):
            self._select_when_listed = None
        parts = [f"{counts.total:,} photos", f"{counts.scored:,} scored"]
        if counts.unscored:
            parts.append(f"{counts.unscored:,} waiting")
        if counts.offline:
            parts.append(f"{counts.offline:,} offline")
        if counts.picks:
            parts.append(f"{counts.picks:,} picked")
        self.summary.setText(" · ".join(parts))
        self._library_total = counts.total
        self._failed_count = counts.failed + counts.unsupported
        self.scoring_status.set_errors(self._failed_count)
        self.countsShown.emit()

    def _show_page(self, has_roots: bool) -> None:
        self.sidebar.setVisible(has_roots)
        self.switcher.setVisible(has_roots)
        if not has_roots:
            self.pages.setCurrentWidget(self.welcome)
        elif self.pages.currentWidget() is self.welcome:
            self.pages.setCurrentWidget(self.grid_page)

    def _roots_changed(self) -> None:
        roots = browse.root_paths(self.engine)
        self.watcher.watch(roots)
        self._show_page(bool(roots))

    def _filters_changed(self, query: browse.PhotoQuery) -> None:
        self.query = query.with_(under=self.query.under)
        self.reload()

    def _folder_changed(self, folder: str | None) -> None:
        self._select_when_listed = None  # the user chose (or the folder just added was selected)
        self.query = self.query.with_(under=folder)
        self.reload()
        for view in (self.best, self.cull):
            view.set_scope(folder)
        current = self.current_view()
        if current in ("best", "cull"):
            (self.best if current == "best" else self.cull).reload_if_stale()

    def _busy(self, text: str) -> None:
        self.busy.setText(text + "…" if text else "")
        self.busy_bar.setVisible(bool(text))

    def show_problem(self, text: str) -> None:
        log.warning("%s", text)
        self.statusBar().showMessage(text, 15_000)

    def choose_folder(self) -> None:
        """Add folder…: one or several folders (Ctrl- or Shift-click in the dialog)."""
        self.add_folders(ask_folders(self, self.welcome.suggested or os.path.expanduser("~")))

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if any(u.isLocalFile() and os.path.isdir(u.toLocalFile()) for u in event.mimeData().urls()):
            event.acceptProposedAction()  # folders only: a drop of files alone is not offered
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        """Folders dropped on the window join the library; files are left out, and the status bar says so."""
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        event.acceptProposedAction()
        self.add_dropped(paths)

    def add_dropped(self, paths: list[str]) -> None:
        folders = [p for p in paths if os.path.isdir(p)]
        others = len(paths) - len(folders)
        said = [f"Adding {plural(len(folders), 'folder')} to the library" if folders else "Nothing added"]
        if others:
            said.append(f"{plural(others, 'file')} left out: drop folders, not files")
        self.statusBar().showMessage("; ".join(said) + ".", 10_000)
        self.add_folders(folders)

    def add_folders(self, folders: list[str]) -> None:
        folders = [os.path.abspath(f) for f in folders if os.path.isdir(f)]
        if folders:
            self.pages.setCurrentWidget(self.grid_page)
            self._sync_switcher()
            self._select_when_listed = folders[0]
            self.library.rescan(folders)

    def remove_root(self, root: str) -> None:
        answer = QMessageBox.question(
            self, "Remove folder from the library",
            f"Take {printable(root)} out of the library?\n\nThe files themselves are not touched. The scores "
            "and marks of its photos stay cached: adding the folder (or a folder inside it) again brings "
            "them back.")
        if answer == QMessageBox.StandardButton.Yes:
            if self.query.under and (self.query.under + os.sep).startswith(root.rstrip(os.sep) + os.sep):
                self.query = self.query.with_(under=None)
            self.library.remove_root(root)

    def relocate_root(self, root: str) -> None:
        new = QFileDialog.getExistingDirectory(self, f"Where is {os.path.basename(root)} now?",
                                               os.path.dirname(root))
        if new and os.path.abspath(new) != root:
            self.library.move_root(root, os.path.abspath(new))

    # --- scoring ----------------------------------------------------------------------------

    def _model_unavailable(self, why: str) -> None:
        self._why_off = why
        self.banner.show_problem(why)
        self.scoring_status.set_off(why)
        self.best.set_scoring_off(True)
        self.cull.set_scoring_off(True)
        self._counts_timer.stop()

    def _model_loading(self, message: str = "") -> None:
        self._hide_model_problem()
        self.scoring_status.set_loading(message)

    def _model_ready(self, device: str) -> None:
        self._hide_model_problem()
        self.scoring_status.set_device(device)

    def _hide_model_problem(self) -> None:
        """A model is on its way: the "scoring is off" banner goes (a download keeps its progress)."""
        self.best.set_scoring_off(False)
        self.cull.set_scoring_off(False)
        if self.download is None or not self.download.running:
            self.banner.hide()

    def _progress(self, done: int, total: int) -> None:
        if total <= 0 and not (self._library_total or self.model.rowCount()):
            self.scoring_status.set_idle("")
            return
        self.scoring_status.progress(done, total)
        if total > done and not self._counts_timer.isActive():
            self._counts_timer.start()

    # Worker signals go to methods of this window (never lambdas), so they run in the GUI thread.
    def _photo_scored(self, photo_id: int, _score: float) -> None:
        self.model.photo_changed(photo_id)

    def _photo_scored_again(self, photo_id: int) -> None:
        self.model.photo_changed(photo_id)

    def _photo_failed(self, photo_id: int, _reason: str) -> None:
        self.model.photo_changed(photo_id)
        self._failed_count += 1
        self.scoring_status.set_errors(self._failed_count)

    def _scoring_idle(self) -> None:
        self._counts_timer.stop()
        self.model.set_scoring([])
        if self.pages.currentWidget() is not self.viewer:
            self.reload()  # scores arrived in place; now the order (and filters) can catch up
        self._curation_outdated()
        self.scoring_status.set_idle("All photos scored")
        self.refresh_counts()

    def _scoring_crashed(self, what: str) -> None:
        self.scoring_status.set_off(what)
        QMessageBox.warning(self, "Scoring stopped",
                            f"Scoring stopped because of an internal error:\n{what}\n\nDetails are in the log file.")

    def toggle_pause(self) -> None:
        if self.scoring.paused:
            self.scoring.resume()
            self.scoring_status.set_paused(False)
            self.pause_action.setText("&Pause")
        else:
            self.scoring.pause()
            self.scoring_status.set_paused(True)
            self.pause_action.setText("&Resume")
            self.model.set_scoring([])

    def cancel_scoring(self) -> None:
        self.scoring.cancel_all()
        self.scoring_status.set_stopped()
        self.pause_action.setText("&Resume")
        self.model.set_scoring([])

    def show_errors(self) -> ErrorsDialog:
        dialog = ErrorsDialog(browse.photo_errors(self.engine), self)
        dialog.showRequested.connect(self.show_photo_id)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        return dialog

    def show_photo_id(self, photo_id: int) -> None:
        row = self.model.row_of(photo_id)
        if row is None:  # filtered out: show everything, then find it when those rows arrive
            self.filters.set_status(None)
            self.sidebar.select_folder(None)
            if self.model.is_loading():
                self._show_when_loaded = photo_id
            return
        self.open_viewer(self.model.index(row))

    # --- the model banner ------------------------------------------------------------------

    def start_download(self) -> None:
        if self.download is not None and self.download.running:
            return
        self.download = ModelDownload(self.settings, self)
        self.download.progress.connect(self.banner.show_downloading)
        self.download.finished.connect(self._downloaded)
        self.download.failed.connect(self._download_failed)
        self.banner.show_downloading("starting", 0, 0)
        self.download.start()

    def cancel_download(self) -> None:
        if self.download is not None:
            self.download.cancel()

    def _downloaded(self) -> None:
        self.banner.hide()
        self.scoring_status.set_loading()
        self.scoring.reconfigure(self.settings)
        self.downloadEnded.emit("")

    def _download_failed(self, why: str) -> None:
        if why == "cancelled":
            self.banner.show_problem(self._why_off or "The download was cancelled.")
        else:
            self.banner.show_problem("The download did not work. " + why)
        self.downloadEnded.emit(why)

    def choose_model(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "Choose the SigLIP encoder folder (config.json and model.safetensors)",
            start_folder(self.settings.encoder))
        if not folder:
            return
        head, _ = QFileDialog.getOpenFileName(self, "Choose the aesthetic head (aesthetic_predictor_v2_5.pth)",
                                              start_folder(self.settings.head, os.path.dirname(folder)),
                                              "PyTorch weights (*.pth *.pt)")
        if not head:
            return
        self.apply_settings({"encoder": folder, "head": head})

    def apply_settings(self, changes: dict[str, Any], save: bool = True) -> None:
        """Save these settings and apply them to the running app."""
        if save and changes:
            try:
                settings_mod.save(self.settings.path, changes)
            except AestheteError as exc:
                QMessageBox.warning(self, "Settings not saved", str(exc))
                return
        fresh = settings_mod.load(self.settings.path, self.overrides)
        for name, value in changes.items():
            # What the user just chose applies now, even over a flag given at start.
            fresh.values[name] = settings_mod.REGISTRY[name].parse(value, name)
            fresh.sources[name] = "file"
        self._use_settings(fresh)

    def _use_settings(self, fresh: settings_mod.Settings) -> None:
        old, self.settings = self.settings, fresh
        self.library.settings = fresh
        self.curation.settings = fresh
        if any(getattr(old, n) != getattr(fresh, n) for n in ("good_threshold", "cull_threshold")):
            self.delegate.good, self.delegate.cull = fresh.good_threshold, fresh.cull_threshold
            self.viewer.set_thresholds(fresh.good_threshold, fresh.cull_threshold)
            self.grid.viewport().update()
            self.best.set_thresholds(fresh.good_threshold, fresh.cull_threshold)
            self.cull.set_thresholds(fresh.good_threshold, fresh.cull_threshold)
        if old.cull_rules != fresh.cull_rules:
            self.cull.set_rules(fresh.cull_rules)
        if any(getattr(old, n) != getattr(fresh, n) for n in GROUPING_SETTINGS):
            self._curation_outdated()
        if old.thumbnail_size != fresh.thumbnail_size:
            self.tile = fresh.thumbnail_size
            self.model.set_thumb_pixels(fresh.thumbnail_size)
            self.thumbnails.clear_memory()
            self.grid.set_tile(self.tile)
        if any(getattr(old, n) != getattr(fresh, n) for n in MODEL_SETTINGS):
            self._model_loading()
            self.scoring.reconfigure(fresh)
        if old.exclude != fresh.exclude or old.rejects_folder != fresh.rejects_folder:
            self.library.rescan(None)

    def open_settings(self) -> None:
        dialog = SettingsDialog(self.settings, self)
        if dialog.exec() and dialog.changes:
            self.apply_settings(dialog.changes, save=False)

    # --- selection and batch actions -------------------------------------------------------

    def selected_ids(self) -> list[int]:
        page = self.pages.currentWidget()
        if page is self.viewer and self.viewer.photo is not None:
            pid = self.viewer.photo.id
            return [pid] if self.model.row_of(pid) is not None else []  # never a photo that left the view
        if page in (self.best, self.cull):
            pid = page.current_photo_id()
            return [] if pid is None else [pid]
        return self.grid.selected_ids()

    def selected_paths(self) -> list[str]:
        rows = browse.photos_by_id(self.engine, self.selected_ids()[:desktop.MAX_OPEN])
        return [p.path for p in rows.values()]

    def _marked(self, ids: list[int]) -> None:
        if len(ids) > RELOAD_ROWS_LIMIT:
            self.model.reload()
        else:
            self.model.photos_changed(ids)
        self.refresh_counts()
        if self.settings.write_xmp:
            run_task(self.io_pool, write_sidecars, self.engine, ids)
        self._tell_curation_views(ids)

    def _marked_by_curation(self, ids: list[int]) -> None:
        """Picks chosen in the best-shots view were saved (sidecars included): show them everywhere."""
        if self._shut_down:
            return
        if len(ids) > RELOAD_ROWS_LIMIT:
            self.model.reload()
        else:
            self.model.photos_changed(ids)
        self.refresh_counts()
        self._tell_curation_views(ids)

    def _tell_curation_views(self, ids: list[int]) -> None:
        if len(ids) > RELOAD_ROWS_LIMIT:
            self._curation_outdated()
            return
        fresh = browse.photos_by_id(self.engine, ids)
        self.best.photos_changed(fresh)
        self.cull.photos_changed(fresh)

    def rate_selected(self, stars: int) -> None:
        ids = self.selected_ids()
        if ids:
            marks.set_rating(self.engine, ids, stars)
            self._marked(ids)
            self.statusBar().showMessage(f"{plural(len(ids), 'photo')} rated {'★' * stars or 'no stars'}", 3000)

    def flag_selected(self, flag: str) -> None:
        if flag == "pick" and self.pages.currentWidget() is self.best:
            self.best.make_pick()  # P in best shots: the focused frame becomes its group's pick
            return
        ids = self.selected_ids()
        if ids:
            marks.set_flag(self.engine, ids, flag)
            self._marked(ids)
            word = {"pick": "picked", "reject": "rejected", "": "unflagged"}[flag]
            self.statusBar().showMessage(f"{plural(len(ids), 'photo')} {word}", 3000)

    def open_selected(self) -> None:
        paths = self.selected_paths()
        failed = desktop.open_files(paths)
        if failed:
            self.show_problem(f"cannot open {printable(failed[0])}" + (f" and {len(failed) - 1} more" if len(failed) > 1 else ""))

    def reveal_selected(self) -> None:
        if not desktop.reveal(self.selected_paths()):
            self.show_problem("the file is not reachable (missing or offline)")

    def copy_paths(self) -> None:
        rows = browse.photos_by_id(self.engine, self.selected_ids())
        QApplication.clipboard().setText("\n".join(printable(p.path) for p in rows.values()))

    def zoom(self, factor: float) -> None:
        if self.pages.currentWidget() is self.best:
            self.best.zoom(factor)
            return
        self.tile = int(max(96, min(self.settings.thumbnail_size * 2, self.tile * factor)))
        self.grid.set_tile(self.tile)

    def _grid_menu(self, pos) -> None:
        index = self.grid.indexAt(pos)
        if index.isValid() and not self.grid.selectionModel().isSelected(index):
            self.grid.setCurrentIndex(index)
        if not self.grid.selectionModel().hasSelection():
            return
        menu = QMenu(self)
        for name in ("viewAction", "openAction", "revealAction"):
            menu.addAction(self.findChild(QAction, name))
        menu.addSeparator()
        rating = menu.addMenu("Rating")
        for n in range(6):
            rating.addAction(self.findChild(QAction, f"rate{n}Action"))
        for name in ("pickAction", "rejectAction", "unflagAction", "copyPathAction"):
            menu.addAction(self.findChild(QAction, name))
        menu.exec(self.grid.viewport().mapToGlobal(pos))

    # --- the viewer -----------------------------------------------------------------------

    def open_current(self) -> None:
        if self.grid.currentIndex().isValid():
            self.open_viewer(self.grid.currentIndex())

    def open_viewer(self, index: QModelIndex) -> None:
        if not index.isValid():
            return
        self.grid.selectionModel().setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        self._show_in_viewer(index)
        self.pages.setCurrentWidget(self.viewer)
        self.viewer.setFocus()

    def _show_in_viewer(self, index: QModelIndex) -> None:
        photo = index.data(Roles.Photo)
        if photo is not None:
            self.viewer.show_photo(photo, index.data(Roles.Status), index.data(Roles.Thumbnail))

    def move_viewer(self, step: int) -> None:
        row = self.grid.currentIndex().row() + step
        if 0 <= row < self.model.rowCount():
            index = self.model.index(row)
            self.grid.selectionModel().setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
            self._show_in_viewer(index)

    def close_viewer(self) -> None:
        self.pages.setCurrentWidget(self.grid_page)
        self.grid.scrollTo(self.grid.currentIndex())
        self.grid.setFocus()

    def _keep_viewer_row(self) -> None:
        self._viewer_row = self.grid.currentIndex().row() if self.pages.currentWidget() is self.viewer else None

    def _follow_viewer(self) -> None:
        """New rows under the viewer: it keeps its photo, or when that left (deleted, moved away)
        shows the photo that took its place, or closes when no photo is left."""
        row, self._viewer_row = self._viewer_row, None
        if row is None or self.pages.currentWidget() is not self.viewer or self.viewer.photo is None:
            return
        kept = self.model.row_of(self.viewer.photo.id)
        if kept is None:
            if not self.model.rowCount():
                self.close_viewer()
                return
            kept = min(max(0, row), self.model.rowCount() - 1)
        index = self.model.index(kept)
        self.grid.selectionModel().setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        self._show_in_viewer(index)

    def _rows_changed(self, top: QModelIndex, bottom: QModelIndex, _roles=None) -> None:
        if self.pages.currentWidget() is self.viewer:
            row = self.grid.currentIndex().row()
            if top.row() <= row <= bottom.row():
                self._show_in_viewer(self.model.index(row))

    # --- best shots and cull --------------------------------------------------------------

    def current_view(self) -> str:
        page = self.pages.currentWidget()
        return "best" if page is self.best else "cull" if page is self.cull else "library"

    def show_view(self, name: str) -> None:
        """Switch between the library (grid or viewer), best shots and cull."""
        if self.pages.currentWidget() is self.welcome:
            self._sync_switcher()
            return
        if name == "library":
            if self.pages.currentWidget() in (self.best, self.cull):
                self.pages.setCurrentWidget(self.grid_page)
            self.grid.setFocus()
        else:
            view = self.best if name == "best" else self.cull
            view.set_scope(self.query.under)
            self.pages.setCurrentWidget(view)
            view.reload_if_stale()
            view.focus_view()
        self._sync_switcher()

    def _cull_threshold_changed(self, value: float) -> None:
        """The Cull tab's threshold is the cull_threshold setting: saved, and the viewer, the grid
        and best shots follow it."""
        if abs(value - self.settings.cull_threshold) <= 1e-9:
            return
        try:
            settings_mod.save(self.settings.path, {"cull_threshold": value})
        except (AestheteError, OSError) as exc:
            self.show_problem(f"the threshold applies until you quit, it could not be saved: {exc}")
        # Only this value changes: the rest stays as the app started (flags included).
        self._use_settings(dataclasses.replace(self.settings, values={**self.settings.values, "cull_threshold": value},
                                               sources={**self.settings.sources, "cull_threshold": "file"}))

    def _sync_switcher(self) -> None:
        index = VIEWS.index(self.current_view())
        if self.switcher.currentIndex() != index:
            self.switcher.blockSignals(True)
            self.switcher.setCurrentIndex(index)
            self.switcher.blockSignals(False)

    def _curation_outdated(self) -> None:
        """Photos, scores or settings changed: groups and candidates load again when next shown."""
        if self._shut_down:
            return
        for view in (self.best, self.cull):
            view.mark_stale()
        current = self.current_view()
        if current != "library":
            (self.best if current == "best" else self.cull).reload()

    def accept_all_picks(self) -> None:
        if self.current_view() != "best":
            self.show_view("best")
            self.statusBar().showMessage("These are the picks; Ctrl+Shift+A again accepts them all", 8000)
            return
        self.best.accept_all()

    def compare_frames(self) -> None:
        if self.current_view() == "best":
            self.best.compare()

    def confirm(self, title: str, text: str, action: str) -> bool:
        """Ask before moving files (the tests answer for the user)."""
        box = QMessageBox(QMessageBox.Icon.Question, title, text, QMessageBox.StandardButton.Cancel, self)
        go = box.addButton(action, QMessageBox.ButtonRole.AcceptRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        return box.clickedButton() is go

    def remove_rejected(self) -> None:
        """Move the photos marked rejected (in the folder shown) to the trash or the rejects folder."""
        self.statusBar().showMessage("Looking for rejected photos…")
        self.curation.find_rejected(self.query.under, self._confirm_removal)

    def _removal_target(self) -> str:
        folder = self.settings.rejects_folder
        return f"the rejects folder ({printable(folder)})" if folder else "the system trash"

    def _confirm_removal(self, removal: Removal) -> None:
        if self._shut_down or removal.under != self.query.under:
            return
        scope = f"in {printable(removal.under)}" if removal.under else "in the library"
        if not removal.photos:
            self._tell(f"No photos are marked rejected {scope}. Mark photos with X first.")
            return
        n = plural(len(removal.photos), "photo")
        names = ", ".join(printable(p.name) for p in removal.photos[:5]) + (" …" if len(removal.photos) > 5 else "")
        folder = self.settings.rejects_folder
        where = f"the rejects folder:\n{printable(folder)}" if folder else "the system trash?"
        text = (f"Move {n} marked rejected {scope} to {where}\n\n{names}\n\n"
                "Their RAW files and XMP sidecars go with them. Nothing is deleted: "
                "Undo removal (Ctrl+Z) puts them back.")
        action = "Move to the trash" if not self.settings.rejects_folder else "Move to the rejects folder"
        if not self.confirm("Remove rejected photos", text, action):
            self.statusBar().clearMessage()
            return
        self.statusBar().showMessage(f"Moving {n} to {self._removal_target()}…")
        self.curation.remove(removal, self._removed)

    def _removed(self, removal: Removal) -> None:
        if self._shut_down:
            return
        report = removal.report
        self._after_files_moved()
        moved = plural(len(removal.removed_ids), "photo")
        files = len(report.moved) if report else 0
        extra = f" ({plural(files, 'file')} with RAW files and sidecars)" if files > len(removal.removed_ids) else ""
        message = f"Moved {moved}{extra} to {self._removal_target()}. Undo removal (Ctrl+Z) puts them back."
        if report and report.failed:
            message = f"Moved {moved}; {plural(len(report.failed), 'file')} could not be moved and stayed in place."
            self._report_problems("Some photos were not moved", report.failed)
        self._tell(message)

    def undo_removal(self) -> None:
        self.statusBar().showMessage("Putting the last removed photos back…")
        self.curation.undo(self._undone)

    def _undone(self, result) -> None:
        if self._shut_down:
            return
        report, ids = result
        if report.removal_id is None:
            self._tell("Nothing to undo: no removal is waiting to be put back.")
            return
        self._after_files_moved()
        files = len(report.restored)
        message = f"Restored {plural(len(ids), 'photo')}" + (
            f" ({plural(files, 'file')} with RAW files and sidecars)" if files > len(ids) else "") + "."
        if report.failed:
            message += f" {plural(len(report.failed), 'file')} could not be put back; nothing was overwritten."
            self._report_problems("Some files could not be put back", report.failed)
        self._tell(message)

    def _tell(self, message: str) -> None:
        self.statusBar().showMessage(message, 15_000)
        self.curationDone.emit(message)

    def _report_problems(self, title: str, problems: list[str]) -> None:
        lines = []
        for text in problems[:12]:
            path, _, why = text.partition(": ")
            lines.append(f"{printable(os.path.basename(path))}: {why or text}")
        if len(problems) > 12:
            lines.append(f"and {len(problems) - 12} more (details in the log file)")
        for text in problems:
            log.warning("%s: %s", title, text)
        QMessageBox.warning(self, title, "\n".join(lines))

    def _after_files_moved(self) -> None:
        self.reload()
        self.refresh_counts()
        self._curation_outdated()

    def _repaired(self, repaired) -> None:
        if repaired and not self._shut_down:
            self._after_files_moved()
            self._tell(f"Finished the record of a removal that was interrupted: {repaired.text()}.")

    def export_picks(self) -> None:
        """Ctrl+E: count what each choice copies (in a worker), ask, then ask for the folder."""
        self.statusBar().showMessage("Counting the picks…")
        self.curation.count_export(self.query.under, self._export_counted)

    def choose_export(self, counts: ExportCounts) -> bool | None:
        """Picks only (False) or with each group's keeper (True); None when cancelled (tests answer)."""
        dialog = ExportChoiceDialog(counts.picks, counts.with_keepers, self)
        try:
            return dialog.keepers() if dialog.exec() else None
        finally:
            dialog.deleteLater()

    def _export_counted(self, counts: ExportCounts) -> None:
        if self._shut_down or counts.under != self.query.under:
            return
        self.statusBar().clearMessage()
        if not counts.with_keepers[0]:
            self._tell("Nothing to export: mark photos with P, or let Best shots find bursts and similar shots.")
            return
        keepers = self.choose_export(counts)
        if keepers is None:
            return
        under = counts.under
        # Beside the library folder, not in it: a folder holding library photos is refused.
        library_folder = under or (counts.roots[0] if counts.roots else "")
        dest = QFileDialog.getExistingDirectory(self, "Copy the picks to a folder (outside the library)",
                                                start_folder(os.path.dirname(library_folder) if library_folder else ""))
        if not dest:
            return
        self.statusBar().showMessage(f"Copying the picks to {printable(dest)}…")

        def done(report) -> None:
            if not self._shut_down:
                already = f" ({plural(len(report.already), 'file')} already there from an earlier export)" \
                    if report.already else ""
                self._tell(f"Copied {plural(len(report.copied), 'file')} to {printable(dest)}{already}.")

        self.curation.export(dest, under, done, keepers=keepers)

    def about(self) -> None:
        QMessageBox.about(self, "About Aesthete",
                          "<h3>Aesthete</h3><p>Scores, sorts and culls your photos by aesthetic quality, "
                          "with the Aesthetic Predictor V2.5 (SigLIP).</p>")

    # --- shutdown -------------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:
        self._save_layout()
        self.shutdown()
        event.accept()

    def _restore_layout(self) -> None:
        """The window's size, place and splitter as the user left them."""
        state = ui_state()
        geometry, window, splitter = (state.value(k) for k in ("geometry", "windowState", "splitter"))
        if geometry is not None:
            self.restoreGeometry(geometry)
        if window is not None:
            self.restoreState(window)
        if splitter is not None:
            self.splitter.restoreState(splitter)

    def _save_layout(self) -> None:
        try:
            paths.state_dir().mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            log.warning("the window layout cannot be saved: %s", exc)
            return
        state = ui_state()
        state.setValue("geometry", self.saveGeometry())
        state.setValue("windowState", self.saveState())
        if self.sidebar.isVisible():  # hidden (no folder yet) it would come back zero wide
            state.setValue("splitter", self.splitter.saveState())
        state.sync()
        if state.status() != QSettings.Status.NoError:
            log.warning("the window layout could not be saved to %s", state.fileName())

    def shutdown(self, budget_s: float = 1.8) -> bool:
        """Staged: stop watching, ask every worker to stop, then wait for them (within budget_s)."""
        if self._shut_down:
            return True
        self._shut_down = True
        log.info("shutting down")
        deadline = time.monotonic() + budget_s
        self._counts_timer.stop()
        self.watcher.stop(0.5)
        self.scoring.request_stop()
        if self.download is not None:
            self.download.cancel()
        self.thumbnails.stop(0)
        self.library.stop(0)
        self.viewer.stop(0)
        self.best.stop(0)
        self.cull.stop(0)
        self.curation.stop(0)
        self.model.stop()
        self.io_pool.clear()

        def left() -> int:
            return max(0, int((deadline - time.monotonic()) * 1000))

        ok = self.scoring.wait(left())
        pools = (self.thumbnails.pool, self.library.pool, self.viewer.pool, self.io_pool, self.model.pool,
                 *self.curation.pools, *self.best.pools, *self.cull.pools,
                 *([self.download.pool] if self.download is not None else []))
        for pool in pools:
            ok = pool.waitForDone(left()) and ok
        if not ok:
            log.warning("still running at quit: %s", ", ".join(running_threads()))
        log.info("background work stopped in %.2f s", budget_s - left() / 1000)
        self.shutdownFinished.emit(ok)
        return ok
