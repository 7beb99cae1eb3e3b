"""Library maintenance off the GUI thread: scans at start, targeted syncs from the folder watcher,
adding, removing and relocating roots. One thread runs them in order, so two syncs never race.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from sqlalchemy import Engine

from app.config.settings import Settings
from app.core import scanner
from app.errors import AestheteError
from app.storage import repo
from app.workers.tasks import make_pool, on_shutdown, run_task
from app.workers.watcher import FolderChange

if TYPE_CHECKING:
    from app.library import SyncReport

log = logging.getLogger(__name__)


@dataclass
class SyncResult:
    reports: list[tuple[str, SyncReport]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def scan_folders(engine: Engine, settings: Settings, folders: list[str] | None):
    from app.library import scan_folders as scan  # scipy and the quality measures: seconds, not at start

    return scan(engine, settings, folders)


def sync_changes(engine: Engine, settings: Settings, changes: list[FolderChange]) -> SyncResult:
    """Bring the database in line with the changed folders (run in the library thread)."""
    from app.library import sync_folder

    result = SyncResult()
    for change in changes:
        if not os.path.isdir(change.root):
            repo.mark_offline(engine, change.root_id)
            continue
        # Files still being written are neither added nor, when already known, marked missing.
        keep = [p for p in change.skip if os.path.exists(p)]
        known = [scanner.ScanEntry(p.path, p.size, p.mtime_ns, p.companion)
                 for p in repo.list_photos(engine, paths=keep)] if keep else []
        report, problems = sync_folder(engine, settings, change.root_id, change.folder, change.skip, known)
        result.problems += problems
        result.reports.append((change.folder, report))
    return result


class LibraryService(QObject):
    changed = Signal()  # photos or roots changed: views re-query
    rootsChanged = Signal()
    synced = Signal(object)  # SyncResult of a watcher change
    busy = Signal(str)  # what is running ("" when idle)
    problem = Signal(str)

    def __init__(self, engine: Engine, settings: Settings, parent: QObject | None = None):
        super().__init__(parent)
        self.engine = engine
        self.settings = settings
        self.pool = make_pool("library", 1, self)
        on_shutdown(self.stop)
        self._running = 0
        self._stopped = False

    def _run(self, label: str, fn, *args, on_done=None) -> None:
        if self._stopped:
            return
        self._running += 1
        self.busy.emit(label)

        def done(result) -> None:
            self._finish()
            if on_done is not None:
                on_done(result)

        def failed(exc: BaseException) -> None:
            self._finish()
            self.problem.emit(str(exc) if isinstance(exc, AestheteError)
                              else f"{label} failed: {type(exc).__name__}: {exc} (details in the log file)")
            self.changed.emit()

        run_task(self.pool, fn, *args, on_done=done, on_error=failed)

    def _finish(self) -> None:
        self._running -= 1
        if self._running == 0:
            self.busy.emit("")

    def rescan(self, folders: list[str] | None = None) -> None:
        """Scan every root (or these folders, adding them as roots) and report what changed."""
        label = "Scanning folders" if folders is None else "Adding " + ", ".join(os.path.basename(f) for f in folders)
        self._run(label, scan_folders, self.engine, self.settings, folders, on_done=self._scanned)

    def _scanned(self, summary) -> None:
        for path, report in summary.reports.items():
            if report.offline:
                self.problem.emit(f"{path} is unreachable; its photos are shown as offline")
        for problem in summary.folder_errors:
            self.problem.emit(f"cannot read folder {problem}")
        for problem in summary.sidecar_problems:
            self.problem.emit(f"sidecar ignored: {problem}")
        self.rootsChanged.emit()
        self.changed.emit()

    def sync(self, changes: list[FolderChange]) -> None:
        def done(result: SyncResult) -> None:
            for problem in result.problems:
                self.problem.emit(problem if problem.startswith("sidecar ignored") else f"cannot read folder {problem}")
            self.synced.emit(result)
            self.changed.emit()

        self._run("Updating changed folders", sync_changes, self.engine, self.settings, changes, on_done=done)

    def remove_root(self, path: str) -> None:
        def done(_removed) -> None:
            self.rootsChanged.emit()
            self.changed.emit()

        self._run(f"Removing {os.path.basename(path)}", repo.remove_root, self.engine, path, on_done=done)

    def move_root(self, old: str, new: str) -> None:
        def move():
            try:
                count = repo.move_root(self.engine, old, new)
            except KeyError:
                raise AestheteError(f"{old} is not a library root") from None
            except ValueError as exc:
                raise AestheteError(str(exc)) from None
            scan_folders(self.engine, self.settings, None)
            return count

        def done(_count) -> None:
            self.rootsChanged.emit()
            self.changed.emit()

        self._run(f"Relocating {os.path.basename(old)}", move, on_done=done)

    def stop(self, wait_ms: int = 0) -> bool:
        """Drop queued work (a rescan at the next start redoes it) and wait for the running task."""
        self._stopped = True
        self.pool.clear()
        return self.pool.waitForDone(wait_ms)
