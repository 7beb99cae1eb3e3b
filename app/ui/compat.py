"""Work-arounds for bugs in the Qt binding, each detected at run time rather than by version.

PySide6 6.12.0 on CPython 3.11 drops one reference to None on every call of a Qt method that
returns void (setText, drawRect, processEvents...). None is immortal from CPython 3.12, so there
the bug is harmless; on 3.11 a painting GUI runs None's count down to zero within a minute and
the interpreter aborts ("none_dealloc: deallocating None"). 6.11 does not have the bug.
"""
from __future__ import annotations

import ctypes
import logging
import sys

log = logging.getLogger(__name__)

CUSHION = 1 << 48  # references: more void calls than a process makes in its lifetime
_shielded = False


def leaks_none() -> bool:
    """True when a void Qt method call loses a reference to None."""
    if sys.version_info >= (3, 12) or not hasattr(sys, "getrefcount"):
        return False
    from PySide6.QtCore import QObject

    probe = QObject()
    calls = 64
    before = sys.getrefcount(None)
    for _ in range(calls):
        probe.setObjectName("probe")
    return before - sys.getrefcount(None) >= calls // 2


def shield_none_refcount() -> bool:
    """Give None enough spare references that the leak can never free it; True when applied."""
    global _shielded
    if _shielded:
        return True
    if not leaks_none():
        return False
    # ob_refcnt is the first field of every object in CPython's standard (non-debug) builds.
    ctypes.c_ssize_t.from_address(id(None)).value += CUSHION
    _shielded = True
    from PySide6 import __version__ as pyside_version

    log.warning("PySide6 %s leaks references to None on Python %d.%d; worked around. "
                "Use PySide6 6.11 or Python 3.12+ to avoid it.", pyside_version, *sys.version_info[:2])
    return True
