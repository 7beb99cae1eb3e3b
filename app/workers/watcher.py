"""Folder watching: watchdog observers on every library root, their events handed to the Qt side
through a signal, debounced, and turned into targeted folder syncs.

A file still being written (a camera import, a slow copy) is left out of a sync until its size and
mtime stop changing between two checks, so it is scored once, complete. A move is synced as one
change over the folders on both sides, so storage sees the old path go and the new one appear
together and keeps the score.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from app.core import formats
from app.pathutil import is_under

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FolderChange:
    """Sync this folder (recursively) of this root, leaving out files still being written."""

    root_id: int
    root: str
    folder: str
    skip: frozenset[str] = frozenset()
    removals: bool = False  # something under it went away: sync it before folders that gained files


def _is_photo(path: str) -> bool:
    return formats.kind_of(os.path.splitext(path)[1]) != "other"


def _hidden(path: str, root: str) -> bool:
    rel = os.path.relpath(path, root)
    return any(part.startswith(".") for part in rel.split(os.sep))


class _Bridge(QObject):
    """Created in the GUI thread; emitting from watchdog's threads queues the call to it."""

    event = Signal(str, str, str, bool)  # kind, src, dest, is_dir


class FolderWatcher(QObject):
    settling = Signal(str)  # a file is still changing size: it waits
    changed = Signal(list)  # list[FolderChange], ready to sync
    problem = Signal(str)  # a root cannot be watched (plain words)

    def __init__(self, debounce_ms: int = 750, parent: QObject | None = None):
        super().__init__(parent)
        self._bridge = _Bridge()
        self._bridge.event.connect(self._on_event)
        self._observer = None
        self._watches: dict[str, object] = {}
        self._roots: list[tuple[int, str]] = []
        self._touched: dict[str, tuple[int, int] | None] = {}
        self._gone: set[str] = set()
        self._folders: set[str] = set()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(debounce_ms)
        self._timer.timeout.connect(self._flush)

    # --- observers ---------------------------------------------------------------------

    def watch(self, roots: list[tuple[int, str]]) -> None:
        """Watch exactly these roots (id, path); unreachable ones are skipped."""
        from watchdog.observers import Observer

        self._roots = sorted(roots, key=lambda r: len(r[1]), reverse=True)
        if self._observer is None:
            self._observer = Observer()
            self._observer.daemon = True
            self._observer.name = "folder-watcher"
            self._observer.start()
        wanted = {path for _id, path in roots if os.path.isdir(path)}
        for path in list(self._watches):
            if path not in wanted:
                self._observer.unschedule(self._watches.pop(path))
        for path in wanted - set(self._watches):
            try:
                self._watches[path] = self._observer.schedule(_Handler(self._bridge, path), path, recursive=True)
            except OSError as exc:
                log.warning("cannot watch %s: %s", path, exc)
                self.problem.emit(f"{path} cannot be watched for changes ({exc.strerror or exc}); "
                                  "rescan it by hand after changes")

    def watched(self) -> list[str]:
        return sorted(self._watches)

    def stop(self, wait_s: float = 1.0) -> None:
        self._timer.stop()
        observer, self._observer = self._observer, None
        self._watches.clear()
        if observer is not None:
            observer.stop()
            observer.join(wait_s)

    # --- events, in the GUI thread -------------------------------------------------------

    @Slot(str, str, str, bool)
    def _on_event(self, kind: str, src: str, dest: str, is_dir: bool) -> None:
        if self._observer is None:
            return
        if is_dir:
            if kind in ("created", "deleted", "moved"):
                self._folders.add(os.path.dirname(src))
                if dest:
                    self._folders.add(os.path.dirname(dest))
                if kind != "created":
                    self._gone.add(src)
        elif kind in ("created", "modified", "closed"):
            self._touched.setdefault(src, None)
        elif kind == "deleted":
            self._touched.pop(src, None)
            self._gone.add(src)
        elif kind == "moved":
            self._touched.pop(src, None)
            if _is_photo(src):
                self._gone.add(src)
            if dest and _is_photo(dest):
                self._touched.setdefault(dest, None)
        self._timer.start()

    @Slot()
    def _flush(self) -> None:
        ready: list[str] = []
        for path, last in list(self._touched.items()):
            try:
                st = os.stat(path)
            except OSError:
                del self._touched[path]
                self._gone.add(path)
                continue
            now = (st.st_size, st.st_mtime_ns)
            if now != last:
                self._touched[path] = now
                self.settling.emit(path)
            else:
                del self._touched[path]
                ready.append(path)
        waiting = frozenset(self._touched)
        removed = {os.path.dirname(p) for p in self._gone}
        folders = {os.path.dirname(p) for p in ready} | removed | self._folders
        self._gone.clear()
        self._folders.clear()
        changes = self._group(folders, removed, waiting)
        if changes:
            log.info("folder changes: %s", ", ".join(c.folder for c in changes))
            self.changed.emit(changes)
        if self._touched:
            self._timer.start()

    def _root_of(self, path: str) -> tuple[int, str] | None:
        for rid, root in self._roots:  # longest first
            if is_under(path, root):
                return rid, root
        return None

    def _group(self, folders: set[str], removed: set[str], waiting: frozenset[str]) -> list[FolderChange]:
        """One change per root: the deepest folder holding every affected one."""
        by_root: dict[tuple[int, str], list[str]] = {}
        for folder in folders:
            root = self._root_of(folder)
            if root is not None:
                by_root.setdefault(root, []).append(folder)
        out = []
        for (rid, root), group in by_root.items():
            common = os.path.commonpath(group)
            if not is_under(common, root):
                common = root
            skip = frozenset(p for p in waiting if is_under(p, common, or_same=False))
            out.append(FolderChange(rid, root, common, skip, any(f in removed for f in group)))
        out.sort(key=lambda c: not c.removals)
        return out


class _Handler:
    """watchdog's callback object (runs in watchdog's threads): filter, then hand over."""

    def __init__(self, bridge: _Bridge, root: str):
        self.bridge = bridge
        self.root = root

    def dispatch(self, event) -> None:
        kind = event.event_type
        if kind in ("opened", "closed_no_write"):
            return  # our own reads (thumbnails, scoring) must not loop back as changes
        src = os.fsdecode(event.src_path)
        dest = os.fsdecode(getattr(event, "dest_path", "") or "")
        if event.is_directory:
            if kind == "modified":
                return
            if _hidden(src, self.root) and (not dest or _hidden(dest, self.root)):
                return
        else:
            src_ok = _is_photo(src) and not _hidden(src, self.root)
            dest_ok = bool(dest) and _is_photo(dest) and not _hidden(dest, self.root)
            if not (src_ok or dest_ok):
                return
            if not src_ok and dest_ok and kind == "moved":
                kind, src, dest = "created", dest, ""  # a temp file renamed into place
            elif src_ok and not dest_ok and kind == "moved":
                kind, dest = "deleted", ""  # renamed to something that is not a photo
        try:
            self.bridge.event.emit(kind, src, dest, bool(event.is_directory))
        except RuntimeError:
            pass  # the app is shutting down and the bridge is gone
