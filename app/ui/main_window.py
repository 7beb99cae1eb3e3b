"""The main window: sidebar, the view switcher (Library · Best shots · Cull), filter bar and grid
(or the viewer), the model banner and the status bar, wired to the background workers. Its
controllers hold the rest: window_actions (menus), window_viewer (the viewer over the grid),
window_curation (marks, removal, export), window_scoring (the scorer's reports, the download),
window_settings (what a settings change does). It owns the staged shutdown: stop the watcher,
then every worker the task registry knows under it, then let the caller dispose of the database.
"""
from __future__ import annotations

import logging
import os
import time
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (QApplication, QFileDialog, QLabel, QMainWindow, QMessageBox, QProgressBar, QSplitter,
                               QStackedWidget, QTabBar, QVBoxLayout, QWidget)

from app.config import paths
from app.config import settings as settings_mod
from app.pathutil import is_under
from app.storage import browse
from app.ui import art, desktop, keys, window_actions
from app.ui.banner import ModelBanner
from app.ui.best import BestShotsView
from app.ui.cull import CullView
from app.ui.delegate import TileDelegate
from app.ui.dialogs import ask_folders
from app.ui.filterbar import FilterBar
from app.ui.format import plural, printable
from app.ui.grid import LibraryGrid
from app.ui.photo_model import PhotoListModel
from app.ui.sidebar import Sidebar
from app.ui.statusbar import ScoringStatus
from app.ui.viewer import Viewer
from app.ui.welcome import WelcomePage
from app.ui.window_curation import CurationCommands
from app.ui.window_finding import FindingPanel
from app.ui.window_scoring import ScoringPanel
from app.ui.window_settings import WindowSettings
from app.ui.window_viewer import ViewerNavigation
from app.workers import tasks
from app.workers.curation import CurationService
from app.workers.library import LibraryService
from app.workers.scoring import ScoringController
from app.workers.tasks import make_pool, run_task
from app.workers.thumbnails import ThumbnailLoader
from app.workers.watcher import FolderWatcher

if TYPE_CHECKING:  # a type only: the ui hands the engine to storage and the services, and writes no SQL
    from sqlalchemy import Engine

log = logging.getLogger(__name__)

VIEWS = ("library", "best", "cull")  # the switcher's tabs, in order
COUNTS_AFTER_ROWS_MS = 100  # counts asked for while the grid was loading wait this long after its rows


def library_counts(engine: Engine) -> tuple[list[tuple[int, str]], list[browse.FolderCount], browse.StatusCounts]:
    return browse.root_paths(engine), browse.folder_counts(engine), browse.status_counts(engine)


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
        self.query = browse.PhotoQuery(model=settings.model)  # the grid shows the score of the model in effect
        self.quitting = False
        self._counts_token = 0
        self.failed_count = 0
        self.library_total = 0
        self._tree = None
        self.show_when_loaded: int | None = None  # a photo to open once the rows that hold it arrive
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

        # --- views ---------------------------------------------------------------------
        self.model = PhotoListModel(engine, self.thumbnails, settings.thumbnail_size, self)
        self.delegate = TileDelegate(self.tile, settings.good_threshold, settings.cull_threshold, self)
        self.grid = LibraryGrid(self.model, self.delegate, self)
        self.grid.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.banner = ModelBanner(self)
        self.filters = FilterBar(self)
        self.filters.set_model(settings.model)
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

        self.counts_timer = QTimer(self)
        self.counts_timer.setInterval(3000)
        self.counts_timer.timeout.connect(self.refresh_counts)
        self.navigation = ViewerNavigation(self)
        self.commands = CurationCommands(self)
        self.scoring_ui = ScoringPanel(self)
        self.settings_ui = WindowSettings(self)
        self.finding = FindingPanel(self)  # search, more like this, the score histogram, the taste model
        grid_layout.insertWidget(0, self.finding.strip)
        window_actions.build_menus(self)
        self._connect()
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
        self.commands.finish_interrupted_removal()
        self.reload()
        self.refresh_counts()
        self.scoring.start()
        if roots or folders:
            self.library.rescan(folders + [p for _id, p in roots if p not in folders] if folders else None)
        self.watcher.watch(roots)

    # --- actions and menus ----------------------------------------------------------------

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
        self.grid.visibleChanged.connect(self.scoring.set_visible)
        self.grid.customContextMenuRequested.connect(lambda pos: window_actions.grid_menu(self, pos))
        self.filters.queryChanged.connect(self._filters_changed)
        self.sidebar.folderSelected.connect(self._folder_changed)
        self.sidebar.addRequested.connect(self.choose_folder)
        self.sidebar.rescanRequested.connect(lambda root: self.library.rescan([root]))
        self.sidebar.removeRequested.connect(self.remove_root)
        self.sidebar.relocateRequested.connect(self.relocate_root)
        self.sidebar.revealRequested.connect(lambda path: desktop.reveal([path]))
        self.welcome.addFolder.connect(lambda path: self.add_folders([path]))
        self.welcome.chooseFolder.connect(self.choose_folder)
        self.viewer.openRequested.connect(self.open_selected)
        self.viewer.revealRequested.connect(self.reveal_selected)
        self.model.reloaded.connect(self._rows_shown)
        self.model.reloadFailed.connect(self._rows_failed)
        self.switcher.currentChanged.connect(lambda i: self.show_view(VIEWS[i]))
        self.best.status.connect(lambda text: self.statusBar().showMessage(text, 5000))
        self.curation.problem.connect(self.show_problem)

        self.library.changed.connect(self.reload)
        self.library.changed.connect(self.refresh_counts)
        self.library.changed.connect(self.scoring.refresh)
        self.library.changed.connect(self.curation_outdated)
        self.library.rootsChanged.connect(self._roots_changed)
        self.library.busy.connect(self._busy)
        self.library.problem.connect(self.show_problem)
        self.watcher.changed.connect(self.library.sync)
        self.watcher.problem.connect(self.show_problem)

    # --- the library ------------------------------------------------------------------------

    def reload(self) -> None:
        """Re-run the query in the model's query thread; the grid changes when the rows arrive
        (the grid keeps the selection)."""
        if self.quitting:
            return  # a late signal from a worker that finished while quitting
        self.model.set_query(self.query)

    def _rows_shown(self, _ms: float = 0.0) -> None:
        """A query's rows are in place: the grid, or why it is empty."""
        if self.quitting:
            return
        self._counts_after_rows()
        if not self.model.rowCount():
            filtered = self.model.query.with_(sort="score", descending=None, under=None) != browse.PhotoQuery()
            self.empty.setText("No photos match these filters." if filtered else
                               "No photos here yet. Photos added to this folder appear by themselves.")
        self.grid_stack.setCurrentWidget(self.grid if self.model.rowCount() else self.empty)
        wanted, self.show_when_loaded = self.show_when_loaded, None
        if wanted is not None:
            row = self.model.row_of(wanted)
            if row is not None:
                self.navigation.open_viewer(self.model.index(row))

    def _counts_after_rows(self) -> None:
        if self._counts_waiting:
            self._counts_waiting = False
            QTimer.singleShot(COUNTS_AFTER_ROWS_MS, self.refresh_counts)  # once the grid has painted them

    def _rows_failed(self, why: str) -> None:
        self.show_problem(f"the photos could not be listed: {why}")
        self._counts_after_rows()

    def refresh_counts(self) -> None:
        if self.quitting:
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
        if token != self._counts_token or self.quitting:
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
        self.library_total = counts.total
        self.failed_count = counts.failed + counts.unsupported
        self.scoring_status.set_errors(self.failed_count)
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
        self.query = query.with_(under=self.query.under, ranking=self.finding.ranking())
        self.finding.filters_changed()
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
            if self.query.under and is_under(self.query.under, root):
                self.query = self.query.with_(under=None)
            self.library.remove_root(root)

    def relocate_root(self, root: str) -> None:
        new = QFileDialog.getExistingDirectory(self, f"Where is {os.path.basename(root)} now?",
                                               os.path.dirname(root))
        if new and os.path.abspath(new) != root:
            self.library.move_root(root, os.path.abspath(new))

    # --- scoring ----------------------------------------------------------------------------

    # --- the model banner ------------------------------------------------------------------

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

    # --- the viewer -----------------------------------------------------------------------

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

    def _sync_switcher(self) -> None:
        index = VIEWS.index(self.current_view())
        if self.switcher.currentIndex() != index:
            self.switcher.blockSignals(True)
            self.switcher.setCurrentIndex(index)
            self.switcher.blockSignals(False)

    def curation_outdated(self) -> None:
        """Photos, scores or settings changed: groups and candidates load again when next shown."""
        if self.quitting:
            return
        for view in (self.best, self.cull):
            view.mark_stale()
        current = self.current_view()
        if current != "library":
            (self.best if current == "best" else self.cull).reload()

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
        """Staged: stop watching, then every worker under this window (the task registry knows them
        all) is asked to stop and waited for, within budget_s in all."""
        if self.quitting:
            return True
        self.quitting = True
        log.info("shutting down")
        started = time.monotonic()
        self.counts_timer.stop()
        self.watcher.stop(0.5)  # watchdog's thread, not one of the registry's
        ok = tasks.shutdown(self, max(0, int((budget_s - (time.monotonic() - started)) * 1000)))
        if not ok:
            log.warning("still running at quit: %s", ", ".join(tasks.running_threads()))
        log.info("background work stopped in %.2f s", time.monotonic() - started)
        self.shutdownFinished.emit(ok)
        return ok
