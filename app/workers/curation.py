"""Best shots and culling off the GUI thread: loading groups and cull candidates, choosing picks,
removing rejected photos, undo, repair at start and export, all through app.curation.

Reads (groups, candidates) run on their own thread so a long load never holds up a mark; writes
(picks, removals, undo, export) run one at a time, in the order the user asked for them.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QObject, Signal
from sqlalchemy import Engine

from app import curation
from app.config.settings import Settings
from app.core import cullrules
from app.errors import AestheteError
from app.storage import browse, journal, marks, repo
from app.storage.repo import Photo
from app.workers.tasks import make_pool, on_shutdown, run_task

log = logging.getLogger(__name__)



@dataclass
class GroupsResult:
    under: str | None
    groups: list[curation.GroupView]
    photos: dict[int, Photo]  # every member, for thumbnails and marks
    waiting: int = 0  # photos under the folder not analysed yet (groups may still grow)


@dataclass
class CullResult:
    under: str | None
    below: float
    cull: curation.CullList  # under every rule: the view switches rules off without loading again
    photos: dict[int, Photo]  # every candidate's, under any rule
    waiting: int = 0

    @property
    def items(self) -> list[curation.CullItem]:
        return self.cull.items


@dataclass
class Removal:
    """What "Remove rejected" found, and then what it did."""
    under: str | None
    photos: list[Photo]
    report: curation.RemovalReport | None = None
    removed_ids: list[int] = field(default_factory=list)


def _waiting(engine: Engine, under: str | None) -> int:
    counts = browse.status_counts(engine, under)
    return counts.unscored


def load_groups(engine: Engine, settings: Settings, under: str | None) -> GroupsResult:
    groups = curation.load_groups(engine, settings, under)
    ids = [m.row.id for g in groups for m in g.members]
    return GroupsResult(under, groups, browse.photos_by_id(engine, ids), _waiting(engine, under))


def load_cull(engine: Engine, settings: Settings, under: str | None, below: float) -> CullResult:
    """The candidates under every rule (the view shows those of the rules that are on), so each
    rule's count holds even while it is off."""
    cull = curation.cull_list(engine, settings, under, below, rules=cullrules.RULES)
    photos = browse.photos_by_id(engine, [i.member.row.id for i in cull.items])
    return CullResult(under, below, cull, photos, _waiting(engine, under))


def with_current_marks(engine: Engine, group: curation.GroupView) -> curation.GroupView:
    """The group with its members' marks as the database has them now (the view's copy may lag)."""
    now = {m.id: m for m in marks.marks_of(engine, [m.row.id for m in group.members])}
    members = []
    for m in group.members:
        fresh = now.get(m.row.id)
        row = m.row if fresh is None else replace(m.row, flag=fresh.flag, rating=fresh.rating)
        members.append(curation.Member(row, m.quality, m.faults))
    return replace(group, members=members)


def choose_pick(engine: Engine, settings: Settings, group: curation.GroupView, photo_id: int) -> list[int]:
    """Make photo_id the group's pick; returns the photos whose marks changed."""
    group = with_current_marks(engine, group)
    before = {m.row.id: m.row.flag for m in group.members}
    curation.pick_in_group(engine, settings, group, photo_id)
    after = {m.id: m.flag for m in marks.marks_of(engine, before)}
    return [pid for pid in before if before[pid] != after.get(pid)]


def accept_picks(engine: Engine, settings: Settings, groups: list[tuple[curation.GroupView, int]]) -> list[int]:
    """Mark each group's shown pick as the user's pick; returns the photos whose marks changed."""
    changed: list[int] = []
    for group, pick_id in groups:
        changed += choose_pick(engine, settings, group, pick_id)
    return changed


def find_rejected(engine: Engine, under: str | None) -> Removal:
    """Photos marked rejected under the folder that are still in place (what removal would move)."""
    ids = browse.photo_ids(engine, browse.PhotoQuery(sort="name", under=under, flag="reject"))
    rows = browse.photos_by_id(engine, ids)
    return Removal(under, [rows[i] for i in ids if i in rows and rows[i].state == "present"])


def remove(engine: Engine, settings: Settings, removal: Removal) -> Removal:
    report = curation.remove_photos(engine, settings, [p.id for p in removal.photos])
    moved = set(report.moved)
    return replace(removal, report=report, removed_ids=[p.id for p in removal.photos if p.path in moved])


def undo(engine: Engine) -> tuple[curation.UndoReport, list[int]]:
    """Undo the last removal; returns the report and the ids of the photos back in place."""
    op = journal.last_undoable(engine)  # read first: once undone it is no longer the last
    report = curation.undo_last(engine)
    restored = set(report.restored)
    ids = [f.photo_id for f in op.files if f.photo_id is not None and f.source in restored] if op else []
    return report, ids


@dataclass
class ExportCounts:
    """What each choice of Export picks would copy: (photos, files with RAW companions)."""
    under: str | None
    picks: tuple[int, int]
    with_keepers: tuple[int, int]
    roots: tuple[str, ...] = ()  # the library folders (the destination is asked for beside them)


def _photos_and_files(rows) -> tuple[int, int]:
    return len(rows), sum(2 if r.companion else 1 for r in rows)


def count_export(engine: Engine, settings: Settings, under: str | None) -> ExportCounts:
    return ExportCounts(under, _photos_and_files(curation.export_list(engine, settings, under, keepers=False)),
                        _photos_and_files(curation.export_list(engine, settings, under, keepers=True)),
                        tuple(r.path for r in repo.list_roots(engine)))


def export(engine: Engine, settings: Settings, dest: str, under: str | None,
           keepers: bool = False) -> curation.ExportReport:
    try:
        return curation.export_picks(engine, settings, Path(dest), under, keepers=keepers)
    except OSError as exc:
        raise AestheteError(f"Could not copy the picks to {dest}: {exc.strerror or exc}") from None


class CurationService(QObject):
    """The GUI's handle on app.curation; results come back on the GUI thread."""

    marksChanged = Signal(list)  # photo ids whose pick/reject or stars changed here
    problem = Signal(str)

    def __init__(self, engine: Engine, settings: Settings, parent: QObject | None = None):
        super().__init__(parent)
        self.engine = engine
        self.settings = settings
        self.reads = make_pool("curation-reads", 1, self)
        self.writes = make_pool("curation-writes", 1, self)
        on_shutdown(self.stop)
        self._stopped = False

    @property
    def pools(self):
        return (self.reads, self.writes)

    def _read(self, fn: Callable, *args, on_done: Callable, on_error: Callable | None = None) -> None:
        if not self._stopped:
            run_task(self.reads, fn, *args, on_done=on_done, on_error=on_error or self._failed)

    def _write(self, fn: Callable, *args, on_done: Callable | None = None, on_error: Callable | None = None) -> None:
        if not self._stopped:
            run_task(self.writes, fn, *args, on_done=on_done, on_error=on_error or self._failed)

    def _failed(self, exc: BaseException) -> None:
        if self._stopped:
            return
        self.problem.emit(str(exc) if isinstance(exc, AestheteError)
                          else f"{type(exc).__name__}: {exc} (details in the log file)")

    # --- reads -------------------------------------------------------------------------------

    def load_groups(self, under: str | None, on_done: Callable[[GroupsResult], None]) -> None:
        self._read(load_groups, self.engine, self.settings, under, on_done=on_done)

    def load_cull(self, under: str | None, below: float, on_done: Callable[[CullResult], None]) -> None:
        self._read(load_cull, self.engine, self.settings, under, below, on_done=on_done)

    def _after_marks(self, fn: Callable, *args, on_done: Callable) -> None:
        """A read that must see every mark asked for before it (X, then Remove rejected at once):
        queued behind the marks on the write pool, which runs one task at a time, in order."""
        self._write(fn, *args, on_done=on_done)

    def find_rejected(self, under: str | None, on_done: Callable[[Removal], None]) -> None:
        self._after_marks(find_rejected, self.engine, under, on_done=on_done)

    # --- writes ------------------------------------------------------------------------------

    def choose_pick(self, group: curation.GroupView, photo_id: int) -> None:
        self._write(choose_pick, self.engine, self.settings, group, photo_id, on_done=self._marks_done)

    def accept_picks(self, groups: list[tuple[curation.GroupView, int]],
                     on_done: Callable[[list[int]], None] | None = None) -> None:
        def done(changed: list[int]) -> None:
            self._marks_done(changed)
            if on_done is not None:
                on_done(changed)

        self._write(accept_picks, self.engine, self.settings, groups, on_done=done)

    def mark(self, ids: list[int], stars: int | None = None, flag: str | None = None,
             on_done: Callable[[list[int]], None] | None = None) -> None:
        """Rate and/or flag photos on the write pool (sidecars too, with write_xmp): the GUI thread
        never waits for the database's write lock, which a scan in another process may hold."""
        ids = list(ids)

        def done(problems: list[str]) -> None:
            if self._stopped:
                return
            self._marks_done(ids)
            if problems:
                self.problem.emit(problems[0] if len(problems) == 1 else
                                  f"{problems[0]} (and {len(problems) - 1} more sidecars; see the log file)")
            if on_done is not None:
                on_done(ids)

        self._write(curation.set_marks, self.engine, self.settings, ids, stars, flag, on_done=done)

    def _marks_done(self, changed: list[int]) -> None:
        if changed and not self._stopped:
            self.marksChanged.emit(changed)

    def remove(self, removal: Removal, on_done: Callable[[Removal], None]) -> None:
        self._write(remove, self.engine, self.settings, removal, on_done=on_done)

    def undo(self, on_done: Callable[[tuple[curation.UndoReport, list[int]]], None]) -> None:
        self._write(undo, self.engine, on_done=on_done)

    def repair(self, on_done: Callable[[curation.RepairReport], None]) -> None:
        self._write(curation.repair, self.engine, on_done=on_done)

    def count_export(self, under: str | None, on_done: Callable[[ExportCounts], None]) -> None:
        self._after_marks(count_export, self.engine, self.settings, under, on_done=on_done)

    def export(self, dest: str, under: str | None, on_done: Callable[[curation.ExportReport], None],
               keepers: bool = False) -> None:
        self._write(export, self.engine, self.settings, dest, under, keepers, on_done=on_done)

    def stop(self, wait_ms: int = 0) -> bool:
        """Drop queued work and wait for the running task (a removal finishes: its journal is in order)."""
        self._stopped = True
        ok = True
        for pool in self.pools:
            pool.clear()
        for pool in self.pools:
            ok = pool.waitForDone(wait_ms) and ok
        return ok
