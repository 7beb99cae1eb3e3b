"""Logging for every front end: a rotating log file in the state dir, a crash handler, --debug.

LibRaw, libheif, torch and ONNX Runtime run in this process on files we did not make: when one of
them crashes, faulthandler writes the Python traceback of every thread into the log file.
"""
from __future__ import annotations

import faulthandler
import logging
import logging.handlers
import sys
import threading

from app.config import paths


def setup(debug: bool = False) -> None:
    root = logging.getLogger()
    if getattr(root, "_aesthete_configured", False):
        return
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s")
    try:
        paths.state_dir().mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = _LogFile(paths.log_path(), maxBytes=5_000_000, backupCount=3, encoding="utf-8")
        faulthandler.enable(handler.stream)
    except OSError:
        handler = logging.NullHandler()
        try:  # no log file: the terminal, when there is one, gets the trace
            faulthandler.enable(sys.stderr)
        except (AttributeError, ValueError, OSError):
            pass  # no stderr with a file descriptor (a windowed app)
    handler.setFormatter(fmt)
    root.addHandler(handler)
    if debug:
        console = logging.StreamHandler(sys.stderr)
        console.setFormatter(fmt)
        root.addHandler(console)
    # Libraries talk a lot at INFO; their warnings still reach the file.
    for noisy in ("urllib3", "filelock", "PIL", "huggingface_hub", "transformers", "httpx", "watchdog", "torchao"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.captureWarnings(True)

    def excepthook(exc_type, exc, tb):
        logging.getLogger("app.crash").critical("uncaught exception", exc_info=(exc_type, exc, tb))
        sys.__excepthook__(exc_type, exc, tb)

    sys.excepthook = excepthook
    threading.excepthook = lambda a: logging.getLogger("app.crash").critical(
        "uncaught exception in thread %s", a.thread, exc_info=(a.exc_type, a.exc_value, a.exc_traceback))
    root._aesthete_configured = True  # type: ignore[attr-defined]


class _LogFile(logging.handlers.RotatingFileHandler):
    """The log file; a rollover closes the file faulthandler writes to, so it follows the new one."""

    def doRollover(self) -> None:
        super().doRollover()
        if self.stream is not None:
            faulthandler.enable(self.stream)
