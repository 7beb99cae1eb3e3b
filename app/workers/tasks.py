"""The one way to run background work: `run_task` runs a function on a QThreadPool and hands its
result (or its error) back to the GUI thread through queued signals.

Every QThread the app starts is registered here too, so shutdown and the tests can check that
none is left running.
"""
from __future__ import annotations

import logging
import time
import weakref
from typing import Any, Callable

from PySide6.QtCore import QObject, QRunnable, QThread, QThreadPool, Signal, Slot

from app.errors import AestheteError

log = logging.getLogger(__name__)

_threads: "weakref.WeakSet[QThread]" = weakref.WeakSet()
_pools: "weakref.WeakSet[QThreadPool]" = weakref.WeakSet()


_thread_owners: "weakref.WeakKeyDictionary[QThread, weakref.ref]" = weakref.WeakKeyDictionary()


def register_thread(thread: QThread, owner: QObject | None = None) -> QThread:
    """A QThread the app started; owner (a QObject of the app) says whose shutdown waits for it
    when the thread itself has no parent (a running thread must not die with a parent)."""
    _threads.add(thread)
    if owner is not None:
        _thread_owners[thread] = weakref.ref(owner)  # weak: the owner holds the thread
    return thread


def make_pool(name: str, threads: int, parent: QObject | None = None) -> QThreadPool:
    pool = QThreadPool(parent)
    pool.setObjectName(name)
    pool.setMaxThreadCount(threads)
    pool.setExpiryTimeout(5_000)
    _pools.add(pool)
    return pool


_stoppers: "list[weakref.WeakMethod]" = []


def on_shutdown(stop: Callable[[], Any]) -> None:
    """Register a bound method that shutdown() calls first: it drops queued work and refuses new
    work, without waiting (shutdown waits for every pool and thread afterwards, within its budget).
    Held weakly: an object that is gone is left out."""
    _stoppers.append(weakref.WeakMethod(stop))


def _under(obj: QObject | None, root: QObject) -> bool:
    """obj is root or one of its descendants (an object already deleted is nobody's)."""
    from shiboken6 import isValid

    while obj is not None and isValid(obj):
        if obj is root:
            return True
        obj = obj.parent()
    return False


def shutdown(root: QObject, budget_ms: int) -> bool:
    """Stop everything started under root (its children's pools, threads and registered stoppers):
    ask each to stop, then wait for them, all within budget_ms. True when every one ended in time."""
    from shiboken6 import isValid

    deadline = time.monotonic() + budget_ms / 1000
    live = [(ref, ref()) for ref in list(_stoppers)]
    _stoppers[:] = [ref for ref, stop in live if stop is not None]
    for _ref, stop in live:
        if stop is not None and isValid(stop.__self__) and _under(stop.__self__, root):
            stop()
    pools = [p for p in list(_pools) if isValid(p) and _under(p, root)]
    def owner(t: QThread) -> QObject | None:
        ref = _thread_owners.get(t)
        return ref() if ref is not None else None

    threads = [t for t in list(_threads) if isValid(t) and (_under(t, root) or _under(owner(t), root))]
    for pool in pools:
        pool.clear()

    def left() -> int:
        return max(0, int((deadline - time.monotonic()) * 1000))

    ok = True
    for thread in threads:
        ok = (not thread.isRunning() or thread.wait(left())) and ok
    for pool in pools:
        ok = pool.waitForDone(left()) and ok
    return ok


def running_threads() -> list[str]:
    """Names of app threads still running: QThreads and busy pool threads."""
    from shiboken6 import isValid  # a deleted pool waited for its threads in its destructor

    out = [t.objectName() or "QThread" for t in list(_threads) if isValid(t) and t.isRunning()]
    out += [f"{p.objectName()} pool ({p.activeThreadCount()} busy)" for p in list(_pools)
            if isValid(p) and p.activeThreadCount()]
    return out


class _Relay(QObject):
    """Lives in the GUI thread; its slots run there, whatever thread emitted."""

    done = Signal(object)
    failed = Signal(object)

    def __init__(self, on_done: Callable[[Any], None] | None, on_error: Callable[[BaseException], None] | None):
        super().__init__()
        self.on_done = on_done
        self.on_error = on_error
        self.done.connect(self._deliver_done)
        self.failed.connect(self._deliver_error)

    @Slot(object)
    def _deliver_done(self, result: Any) -> None:
        _live.discard(self)
        if self.on_done is not None:
            self.on_done(result)

    @Slot(object)
    def _deliver_error(self, exc: BaseException) -> None:
        _live.discard(self)
        if self.on_error is not None:
            self.on_error(exc)
        elif isinstance(exc, AestheteError):
            # No one shows it to the user: the log is the only place it can be found.
            log.error("background task failed: %s", exc, exc_info=exc)
        # A bug was logged with its traceback where it happened (Task.run); once is enough.


_live: set[_Relay] = set()  # relays waiting for their task; kept alive until it reports


class Task(QRunnable):
    def __init__(self, fn: Callable[..., Any], args: tuple, kwargs: dict, relay: _Relay):
        super().__init__()
        self.fn, self.args, self.kwargs, self.relay = fn, args, kwargs, relay
        self.setAutoDelete(True)

    def run(self) -> None:
        try:
            result = self.fn(*self.args, **self.kwargs)
        except AestheteError as exc:
            self.relay.failed.emit(exc)
        except Exception as exc:  # a bug: logged with its traceback, reported to the caller
            log.exception("background task %s failed", getattr(self.fn, "__qualname__", self.fn))
            self.relay.failed.emit(exc)
        else:
            self.relay.done.emit(result)


def run_task(pool: QThreadPool, fn: Callable[..., Any], *args: Any,
             on_done: Callable[[Any], None] | None = None,
             on_error: Callable[[BaseException], None] | None = None, **kwargs: Any) -> Task:
    """Run fn(*args, **kwargs) on pool; on_done(result) or on_error(exc) run in the GUI thread."""
    relay = _Relay(on_done, on_error)
    _live.add(relay)
    task = Task(fn, args, kwargs, relay)
    pool.start(task)
    return task
