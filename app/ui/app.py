"""Start the desktop app: `aesthete` or `aesthete gui [FOLDER...]` (see app.cli.cmd_gui).

Opens the library database, shows the main window (adding FOLDERs as roots and scanning them at
once), and quits cleanly on Ctrl+Q, window close, Ctrl+C or SIGTERM: staged shutdown within two
seconds, exit status 0. A second Ctrl+C quits at once.
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading

from app.config import paths
from app.config.settings import Settings, flags_given
from app.errors import AestheteError

log = logging.getLogger(__name__)

APP_ID = "io.github.aesthete.Aesthete"
EXIT_OK, EXIT_SETUP, EXIT_INTERRUPTED = 0, 2, 130
# How long a thread that wants the GIL waits for a thread running Python to hand it over. The GUI
# thread gives the GIL up in nearly every Qt call it makes, dozens per painted tile, and takes it
# back after each; with Python's 5 ms, a scanner or scorer thread running Python between its
# native calls stretched a grid repaint to 50-100 ms (measured in tests/bench/bench_gui.py).
GIL_SWITCH_S = 0.001


def make_application():
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    from app.ui import art
    from app.ui.compat import shield_none_refcount

    shield_none_refcount()
    sys.setswitchinterval(GIL_SWITCH_S)
    app = QApplication.instance()
    if app is None:
        QApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
        app = QApplication(sys.argv[:1])
    app.setApplicationName("Aesthete")
    app.setApplicationDisplayName("Aesthete")
    app.setOrganizationName("Aesthete")
    app.setDesktopFileName(APP_ID)
    app.setWindowIcon(art.icon())
    return app


def _install_crash_dialog(window) -> None:
    """Unexpected errors in the GUI thread: logged with a traceback (logsetup) and shown once."""
    from PySide6.QtWidgets import QMessageBox

    previous = sys.excepthook
    shown = threading.Event()

    def hook(exc_type, exc, tb):
        previous(exc_type, exc, tb)
        if issubclass(exc_type, KeyboardInterrupt) or shown.is_set():
            return
        shown.set()
        QMessageBox.critical(window, "Aesthete hit a bug",
                             f"{exc_type.__name__}: {exc}\n\nThe app keeps running, but something may not work. "
                             f"Details are in {paths.log_path()}.")

    sys.excepthook = hook


def _install_signals(window, app) -> None:
    """Ctrl+C and SIGTERM close the window (staged shutdown); a second Ctrl+C exits at once."""
    from PySide6.QtCore import QTimer

    state = {"asked": False}

    def handle(signum, _frame):
        if state["asked"] and signum == signal.SIGINT:
            os._exit(EXIT_INTERRUPTED)
        state["asked"] = True
        QTimer.singleShot(0, window.close)

    signal.signal(signal.SIGINT, handle)
    if hasattr(signal, "SIGTERM"):
        signal.signal(signal.SIGTERM, handle)
    # Python runs signal handlers only between bytecodes: let it in every 200 ms.
    ticker = QTimer(app)
    ticker.timeout.connect(lambda: None)
    ticker.start(200)


def run_gui(args: argparse.Namespace, settings: Settings) -> int:
    from app.ui import display

    # Before Qt starts: without a screen it aborts the process (exit 134) blaming xcb-cursor.
    problem = display.problem()
    if problem:
        print(f"aesthete: {problem}", file=sys.stderr, flush=True)
        log.error("the window cannot open: %s", problem)
        return EXIT_SETUP

    from PySide6.QtWidgets import QMessageBox

    from app.storage import db
    from app.ui.main_window import MainWindow

    logging.getLogger("watchdog").setLevel(logging.INFO)  # its DEBUG lines are one per inotify event
    app = make_application()
    try:
        engine = db.open_db(getattr(args, "db", None) or paths.default_db_path())
    except AestheteError as exc:
        QMessageBox.critical(None, "Aesthete cannot open its library", str(exc))
        raise
    window = MainWindow(engine, settings, flags_given(args))
    finished = {"ok": True}
    window.shutdownFinished.connect(lambda ok: finished.update(ok=ok))
    _install_crash_dialog(window)
    _install_signals(window, app)
    window.show()
    window.start([os.fspath(f) for f in getattr(args, "folders", None) or []])
    log.info("window open")
    code = app.exec()
    window.shutdown()
    engine.dispose()  # closes every connection: SQLite checkpoints the WAL, nothing is pending
    log.info("closed (exit status %d)%s", code, "" if finished["ok"] else " with background work unfinished")
    # Everything is saved and every thread we own has ended (or, when one could not be
    # interrupted, is holding no transaction). Tearing down the interpreter with torch loaded
    # takes a second or more on a busy machine, so leave now: the quit stays under two seconds.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
