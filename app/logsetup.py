"""Logging for every front end: a rotating log file in the state dir, a crash handler, --debug."""
from __future__ import annotations

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
        handler: logging.Handler = logging.handlers.RotatingFileHandler(
            paths.log_path(), maxBytes=5_000_000, backupCount=3, encoding="utf-8")
    except OSError:
        handler = logging.NullHandler()
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
