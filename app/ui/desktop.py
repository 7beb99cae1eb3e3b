"""Hand photos to the desktop: open in the system viewer, show in the file manager."""
from __future__ import annotations

import logging
import os
import subprocess
import sys

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices

log = logging.getLogger(__name__)

MAX_OPEN = 20  # opening more at once floods the desktop with windows


def open_files(paths: list[str]) -> list[str]:
    """Open in the default apps; returns the paths that could not be opened."""
    failed = []
    for path in paths[:MAX_OPEN]:
        if not os.path.exists(path) or not QDesktopServices.openUrl(QUrl.fromLocalFile(path)):
            failed.append(path)
    return failed


def reveal(paths: list[str]) -> bool:
    """Show the files selected in the file manager (or, failing that, open their folder)."""
    paths = [p for p in paths if os.path.exists(p)][:MAX_OPEN]
    if not paths:
        return False
    try:
        if sys.platform == "darwin":
            subprocess.Popen(["open", "-R", *paths])
            return True
        if sys.platform == "win32":
            subprocess.Popen(["explorer", "/select,", os.path.normpath(paths[0])])
            return True
        if _freedesktop_show(paths):
            return True
    except OSError as exc:
        log.info("file manager not reachable: %s", exc)
    folder = paths[0] if os.path.isdir(paths[0]) else os.path.dirname(paths[0])
    return QDesktopServices.openUrl(QUrl.fromLocalFile(folder))


def _freedesktop_show(paths: list[str]) -> bool:
    try:
        from PySide6.QtDBus import QDBusConnection, QDBusInterface
    except ImportError:
        return False
    bus = QDBusConnection.sessionBus()
    if not bus.isConnected():
        return False
    iface = QDBusInterface("org.freedesktop.FileManager1", "/org/freedesktop/FileManager1",
                           "org.freedesktop.FileManager1", bus)
    if not iface.isValid():
        return False
    reply = iface.call("ShowItems", [QUrl.fromLocalFile(p).toString() for p in paths], "")
    return not reply.errorName()
