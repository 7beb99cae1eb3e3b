"""Background scoring: a ScoringWorker QObject in its own low-priority QThread owns the model.

It loads the model in its thread (never on the GUI thread), takes work from a ScoreQueue (what is
visible first, then new photos, then the rest), scores small chunks through the library service
shared with the CLI (which writes each result through storage) and reports through queued
signals. Between chunks its event loop runs, so queued requests (refresh, reconfigure) get in.
Pause and quit set the model's cancel event, which stops the encoder before its next layer.
"""
from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections import OrderedDict
from typing import Iterable

from PySide6.QtCore import QObject, Qt, QThread, QTimer, Signal, Slot
from sqlalchemy import Engine

from app.config.settings import Settings
from app.errors import AestheteError, Cancelled
from app.storage import browse, repo
from app.workers.tasks import on_shutdown, register_thread

log = logging.getLogger(__name__)

NICE = 10


class ScoreQueue:
    """Photos waiting for a score, in three tiers; safe to use from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._new: OrderedDict[int, repo.Pending] = OrderedDict()
        self._rest: OrderedDict[int, repo.Pending] = OrderedDict()
        self._visible: list[int] = []
        self._seen = False  # after the first fill, photos that appear are "new"

    def __len__(self) -> int:
        with self._lock:
            return len(self._new) + len(self._rest)

    def set_visible(self, ids: Iterable[int]) -> None:
        """The photos on screen now: they go first while they wait."""
        with self._lock:
            self._visible = list(ids)

    def fill(self, pending: list[repo.Pending]) -> int:
        """Make the queue hold exactly these photos; returns how many are new to it."""
        with self._lock:
            wanted = {p.id: p for p in pending}
            for tier in (self._new, self._rest):
                for pid in [i for i in tier if i not in wanted]:
                    del tier[pid]
            added = 0
            for pid, p in wanted.items():
                if pid in self._new:
                    self._new[pid] = p
                elif pid in self._rest:
                    self._rest[pid] = p
                else:
                    (self._new if self._seen else self._rest)[pid] = p
                    added += 1
            self._seen = True
            return added

    def put_back(self, items: list[repo.Pending]) -> None:
        """Unfinished photos of a cancelled chunk go back to the front."""
        with self._lock:
            for p in reversed(items):
                self._new[p.id] = p
                self._new.move_to_end(p.id, last=False)

    def take(self, n: int) -> list[repo.Pending]:
        with self._lock:
            out: list[repo.Pending] = []
            for pid in self._visible:
                if len(out) >= n:
                    break
                p = self._new.pop(pid, None) or self._rest.pop(pid, None)
                if p is not None:
                    out.append(p)
            for tier in (self._new, self._rest):
                while tier and len(out) < n:
                    out.append(tier.popitem(last=False)[1])
            return out

    def clear(self) -> None:
        with self._lock:
            self._new.clear()
            self._rest.clear()


def lower_priority() -> None:
    """Be nice to the desktop: the calling thread (and the threads it starts) run at low priority."""
    try:
        if sys.platform.startswith("linux"):
            # On Linux the nice value belongs to the thread; threads it starts inherit it.
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICE)
        elif hasattr(os, "nice"):
            pass  # macOS/BSD: os.nice would slow the GUI too; QThread.LowPriority does it
    except OSError as exc:
        log.info("could not lower the scorer's priority: %s", exc)


class ScoringWorker(QObject):
    """Lives in the scorer thread; every slot runs there."""

    modelUnavailable = Signal(str)  # scoring is off, and why (plain words)
    modelLoading = Signal()
    modelStatus = Signal(str)  # a long one-time step while loading (preparing the fast CPU engine)
    modelReady = Signal(str)  # the device in use
    progress = Signal(int, int)  # done this session, total this session
    chunkStarted = Signal(list)  # photo ids being scored now
    photoScored = Signal(int, float)
    photoFailed = Signal(int, str)
    photoUpdated = Signal(int)  # analysed again without the model (a newer analysis version)
    idle = Signal()  # nothing left to score
    crashed = Signal(str)  # a bug stopped scoring (logged with a traceback)
    facesOff = Signal(str)  # face checks are off, and why (said once per model setup)

    def __init__(self, engine: Engine, settings: Settings, queue: ScoreQueue, cancel: threading.Event):
        super().__init__()
        self.engine = engine
        self.settings = settings
        self.queue = queue
        self.cancel = cancel
        self.paused = threading.Event()
        self.stopping = threading.Event()
        self._holder = None
        self._available = False
        self._timer: QTimer | None = None  # made in the worker thread: timers belong to their thread
        self._done = 0
        self._total = 0
        self._failures = 0  # of the photos done this session
        self._failed: set[int] = set()

    # --- slots, queued from the GUI thread ---------------------------------------------

    @Slot()
    def setup(self) -> None:
        threading.current_thread().name = "scorer"
        lower_priority()
        if self._timer is None:
            self._timer = QTimer(self)
            self._timer.setSingleShot(True)
            self._timer.setInterval(0)
            self._timer.timeout.connect(self._step)
        self._open_model()
        self.refresh()

    @Slot()
    def refresh(self) -> None:
        """Re-read what needs a score (after a scan or a watcher change)."""
        if not self._available or self.stopping.is_set():
            return
        from app.library import pending as library_pending

        roots = [path for _id, path in browse.root_paths(self.engine) if os.path.isdir(path)]
        pending = library_pending(self.engine, self._holder, under=roots) if roots else []
        if self._failed:
            # A photo that failed this session is tried again at the next start, or as soon as
            # its file changes (a sync clears its error); not at every refresh.
            still = browse.failed_ids(self.engine) & self._failed
            self._failed &= still
            pending = [p for p in pending if p.id not in still]
        before = len(self.queue)
        added = self.queue.fill(pending)
        if before == 0 and self._done >= self._total:
            self._done = self._total = self._failures = 0  # a new round of work
        self._total = self._done + len(self.queue)
        if added or before:
            log.info("%d photos wait for a score (%d new)", len(self.queue), added)
        self.progress.emit(self._done, self._total)
        self._schedule()

    @Slot(object)
    def reconfigure(self, settings: Settings) -> None:
        """New model settings: drop the loaded model and start over with these."""
        if self.stopping.is_set():
            return
        self.cancel.clear()  # the chunk that was running has stopped by now
        self.paused.clear()
        self.settings = settings
        self._holder = None
        self._available = False
        self.queue.clear()
        self._done = self._total = self._failures = 0
        self._failed.clear()
        self.setup()

    @Slot()
    def resume(self) -> None:
        self._schedule()

    # --- the work ------------------------------------------------------------------------

    def _open_model(self) -> None:
        from app.library import ModelHolder  # torch loads in this thread, not the GUI's

        self._holder = ModelHolder(self.settings, self.cancel, allow_download=False,
                                   on_status=self.modelStatus.emit)
        self._faces_off_said = False  # a new setup (a faces model set meanwhile) says it again
        try:
            self._holder.files()
        except AestheteError as exc:
            self._available = False
            log.warning("scoring is off: %s", exc)
            self.modelUnavailable.emit(str(exc))
            return
        self._available = True

    @Slot()
    def finish(self) -> None:
        """The thread is ending (runs in it): stop the timer and let the model go."""
        if self._timer is not None:
            self._timer.stop()
        self._holder = None

    def _schedule(self) -> None:
        if self._timer is not None and not self._timer.isActive() and self._can_work():
            self._timer.start()

    def _can_work(self) -> bool:
        return (self._available and not self.paused.is_set() and not self.stopping.is_set()
                and not self.cancel.is_set() and len(self.queue) > 0)

    def _chunk_size(self) -> int:
        return max(1, self._holder.batch_size())

    @Slot()
    def _step(self) -> None:
        if not self._can_work():
            if self._available and not len(self.queue) and not self.stopping.is_set():
                self.idle.emit()
            return
        from app.library import analyse

        if self._holder.loaded is None:
            self.modelLoading.emit()
            try:
                scorer = self._holder.get()
            except Cancelled:
                return  # paused or quitting while loading: the next step loads again
            except AestheteError as exc:
                self._available = False
                log.warning("scoring is off: %s", exc)
                self.modelUnavailable.emit(str(exc))
                return
            except Exception as exc:  # a bug: logged and reported once, scoring stops
                log.exception("loading the model failed")
                self._available = False
                self.crashed.emit(f"{type(exc).__name__}: {exc}")
                return
            self.modelReady.emit(scorer.device_name)
            if not self._can_work():
                return
        size = self._chunk_size()
        # A chunk is a few batches: the queue's tiers (what is on screen first) are re-read
        # between chunks. On a GPU a batch takes a fraction of a second, and each chunk starts
        # and drains the decoder pool, so its chunks are longer.
        on_cpu = self._holder.loaded is None or self._holder.loaded.device.type == "cpu"
        items = self.queue.take(max(8, size * 2) if on_cpu else size * 8)
        if not items:
            self._schedule()
            return
        finished: set[int] = set()
        self.chunkStarted.emit([p.id for p in items])

        def on_result(result, item) -> None:
            finished.add(item.id)
            self._done += 1
            if result.error is not None:
                self._failed.add(item.id)
                self._failures += 1
                # The errors dialog sends the user here for the why.
                log.log(logging.INFO if result.error.kind == "unsupported" else logging.WARNING,
                        "cannot score %s: %s", item.path, result.error.reason)
                self.photoFailed.emit(item.id, result.error.reason)
            elif result.score is not None:
                self.photoScored.emit(item.id, float(result.score))
            else:  # analysed again for a newer release (quality), its score kept
                self.photoUpdated.emit(item.id)
            self.progress.emit(self._done, self._total)

        try:
            analyse(self.engine, self._holder, items, on_result=on_result, batch_size=size)
            if self._holder.faces_off and not self._faces_off_said:
                self._faces_off_said = True
                self.facesOff.emit(self._holder.faces_off)
        except AestheteError as exc:
            self.queue.put_back([p for p in items if p.id not in finished])
            self._available = False
            log.warning("scoring stopped: %s", exc)
            self.modelUnavailable.emit(str(exc))
            return
        except Exception as exc:
            self.queue.put_back([p for p in items if p.id not in finished])
            log.exception("scoring failed")
            self._available = False
            self.crashed.emit(f"{type(exc).__name__}: {exc}")
            return
        unfinished = [p for p in items if p.id not in finished]
        if unfinished:
            self.queue.put_back(unfinished)
        self.chunkStarted.emit([])
        log.debug("chunk of %d photos done (%d of %d this session)", len(items), self._done, self._total)
        if len(self.queue) == 0 and not self.cancel.is_set():
            log.info("scoring done: %d photos this session, %d of them failed", self._done, self._failures)
            self.progress.emit(self._done, self._total)
            self.idle.emit()
            return
        self._schedule()


class ScoringController(QObject):
    """The GUI side: starts the scorer thread, forwards requests, and stops it in stages.

    Its signals repeat the worker's in the GUI thread, so a slot of any kind (even a lambda,
    which PySide would otherwise call in the emitting thread) runs where widgets live."""

    modelUnavailable = Signal(str)
    modelLoading = Signal()
    modelStatus = Signal(str)
    modelReady = Signal(str)
    progress = Signal(int, int)
    chunkStarted = Signal(list)
    photoScored = Signal(int, float)
    photoFailed = Signal(int, str)
    photoUpdated = Signal(int)
    idle = Signal()
    crashed = Signal(str)
    facesOff = Signal(str)

    _setup = Signal()
    _refresh = Signal()
    _resume = Signal()
    _reconfigure = Signal(object)

    def __init__(self, engine: Engine, settings: Settings, parent: QObject | None = None):
        super().__init__(parent)
        self.queue = ScoreQueue()
        self.cancel = threading.Event()
        self.thread = register_thread(QThread(), owner=self)
        self.thread.setObjectName("scorer")
        on_shutdown(self.request_stop)
        self.worker = ScoringWorker(engine, settings, self.queue, self.cancel)
        self.worker.moveToThread(self.thread)
        self._setup.connect(self.worker.setup)
        self._refresh.connect(self.worker.refresh)
        self._resume.connect(self.worker.resume)
        self._reconfigure.connect(self.worker.reconfigure)
        for name in ("modelUnavailable", "modelLoading", "modelStatus", "modelReady", "progress", "chunkStarted",
                     "photoScored", "photoFailed", "photoUpdated", "idle", "crashed", "facesOff"):
            getattr(self.worker, name).connect(getattr(self, name))  # queued: receiver lives here
        self.thread.finished.connect(self.worker.finish, Qt.ConnectionType.DirectConnection)
        self.thread.finished.connect(self.worker.deleteLater)
        self.started_at = 0.0

    def start(self) -> None:
        self.thread.start(QThread.Priority.LowPriority)
        self.started_at = time.monotonic()
        self._setup.emit()

    def refresh(self) -> None:
        self._refresh.emit()

    def set_visible(self, ids: Iterable[int]) -> None:
        self.queue.set_visible(ids)

    @property
    def paused(self) -> bool:
        return self.worker.paused.is_set()

    def pause(self) -> None:
        """Stop at the next encoder layer; the unfinished photos go back to the queue."""
        self.worker.paused.set()
        self.cancel.set()

    def resume(self) -> None:
        self.worker.paused.clear()
        self.cancel.clear()
        self._resume.emit()
        self._refresh.emit()

    def cancel_all(self) -> None:
        """Stop scoring for this session; Resume (or a restart) picks the work up again."""
        self.pause()
        self.queue.clear()

    def reconfigure(self, settings: Settings) -> None:
        self.cancel.set()  # the worker clears it once the running chunk has stopped
        self._reconfigure.emit(settings)

    def request_stop(self) -> None:
        """Cancel the running batch and end the thread's event loop once it returns to it."""
        self.worker.stopping.set()
        self.cancel.set()
        self.queue.clear()
        if self.thread.isRunning():
            self.thread.quit()

    def wait(self, wait_ms: int) -> bool:
        return not self.thread.isRunning() or self.thread.wait(wait_ms)

    def stop(self, wait_ms: int = 1500) -> bool:
        """Stop scoring and wait for the thread; True when it ended in time."""
        self.request_stop()
        return self.wait(wait_ms)
