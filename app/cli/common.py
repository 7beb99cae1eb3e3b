"""What every command shares: settings and the library opened from the options, exit codes,
progress, Ctrl+C, printing paths safely."""
from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from app.config import paths, settings as settings_mod
from app.errors import AestheteError
from app.storage import db


EXIT_OK, EXIT_FAILED, EXIT_SETUP, EXIT_INTERRUPTED = 0, 1, 2, 130


def say(message: str) -> None:
    """A one-time step the user should know about (it takes minutes), on stderr."""
    print(f"{message}…", file=sys.stderr, flush=True)


def load_settings(args: argparse.Namespace) -> settings_mod.Settings:
    return settings_mod.load(getattr(args, "config", None), settings_mod.flags_given(args))


def open_library(args: argparse.Namespace):
    from app import curation

    db_path = getattr(args, "db", None) or paths.default_db_path()
    if os.path.isdir(db_path):
        raise AestheteError(f"--db {db_path} is a folder; give the library database's file name")
    engine = db.open_db(db_path)
    repaired = curation.repair(engine)  # a removal interrupted by a crash is finished first
    if repaired:
        print(f"finished the record of an interrupted removal: {repaired.text()}", file=sys.stderr)
    return engine


class Interrupts:
    """First Ctrl+C asks the work to stop at the next safe point; a second one quits at once."""

    def __init__(self, cancel: threading.Event):
        self.cancel = cancel
        self._old = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, *_):
        if self.cancel.is_set():
            os._exit(EXIT_INTERRUPTED)
        self.cancel.set()
        print("\nstopping after the current photo... (Ctrl+C again to quit at once)", file=sys.stderr)

    def __exit__(self, *exc):
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)


class Progress:
    """A progress bar on stderr (images/s and ETA) when stderr is a terminal."""

    def __init__(self, total: int, label: str):
        from tqdm import tqdm

        self.bar = tqdm(total=total, desc=label, unit="photo", file=sys.stderr, disable=None,
                        dynamic_ncols=True, smoothing=0.1)
        self.failures: list[tuple[str, str]] = []  # (path, reason) of the photos that failed

    def step(self, result, _item) -> None:
        if result.error is not None:
            self.failures.append((str(result.path), result.error.reason))
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


SHOWN_FAILURES = 10


def count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


CONTROL_ESCAPES = {c: f"\\x{c:02x}" for c in [*range(32), 127]} | {10: "\\n", 13: "\\r", 9: "\\t"}


def printable(path: str) -> str:
    """A name as text on one line: undecodable bytes replaced, control characters escaped
    (a newline in a file name must not read as two photos)."""
    return os.fsencode(path).decode("utf-8", "replace").translate(CONTROL_ESCAPES)


def print_table(rows) -> None:
    for score, note, path in rows:
        left = f"{score:6.2f}" if score is not None else "     -"
        print(f"{left}  {printable(path)}" + (f"  ({note})" if note else ""))


def confirm(question: str) -> bool:
    if not sys.stdin.isatty():
        return False
    try:
        return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")
    except EOFError:
        return False
