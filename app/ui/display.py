"""Is there a screen to open the window on? Asked before Qt starts, which aborts the process
(exit 134, after a misleading word about xcb-cursor) when there is none.

`problem()` returns one plain line saying what is wrong, or None when the window can open (or
when we cannot tell: Qt then has its say). Only Linux and the like are checked; Windows and macOS
always have a display for a desktop session.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

# Qt platforms that need no screen (tests, remote frame buffers, consoles).
HEADLESS = {"offscreen", "minimal", "minimalegl", "vnc", "linuxfb", "eglfs", "vkkhrdisplay", "directfb"}
CLI_HINT = "use the command line instead, e.g. `aesthete scan FOLDER` (see `aesthete --help`)"
XCB_CURSOR_PACKAGE = "libxcb-cursor0"


def _platform() -> str:
    """The platform Qt was asked for, lower case, without its options ("xcb", "wayland", "" for none)."""
    return os.environ.get("QT_QPA_PLATFORM", "").split(";")[0].split(":")[0].strip().lower()


def _x_connects(display: str) -> bool | None:
    """Whether the X server `display` accepts a connection (None: libxcb is missing, cannot tell)."""
    try:
        xcb = ctypes.CDLL(ctypes.util.find_library("xcb") or "libxcb.so.1")
    except OSError:
        return None
    xcb.xcb_connect.restype = ctypes.c_void_p
    xcb.xcb_connect.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    xcb.xcb_connection_has_error.restype = ctypes.c_int
    xcb.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
    xcb.xcb_disconnect.argtypes = [ctypes.c_void_p]
    conn = xcb.xcb_connect(os.fsencode(display), None)
    if not conn:
        return False
    try:
        return xcb.xcb_connection_has_error(conn) == 0
    finally:
        xcb.xcb_disconnect(conn)


def _has_xcb_cursor() -> bool:
    try:
        ctypes.CDLL("libxcb-cursor.so.0")
        return True
    except OSError:
        return ctypes.util.find_library("xcb-cursor") is not None


def problem() -> str | None:
    """One line saying why the window cannot open, or None."""
    if not sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        return None
    platform = _platform()
    if platform in HEADLESS:
        return None
    if platform and not platform.startswith(("xcb", "wayland")):
        return None  # a platform we do not know: let Qt try it
    x_display = os.environ.get("DISPLAY", "").strip()
    wayland = os.environ.get("WAYLAND_DISPLAY", "").strip()
    if platform.startswith("wayland"):
        if wayland:
            return None
        return f"no display to open a window on (WAYLAND_DISPLAY is not set); {CLI_HINT}"
    if not platform and wayland:
        return None  # Qt takes Wayland (or falls back to X when DISPLAY is set)
    if not x_display:
        what = "DISPLAY is not set" if platform == "xcb" else "neither DISPLAY nor WAYLAND_DISPLAY is set"
        return f"no display to open a window on ({what}); {CLI_HINT}"
    if _x_connects(x_display) is False:
        return f"no display to open a window on (the X display {x_display} cannot be reached); {CLI_HINT}"
    if not _has_xcb_cursor():
        return (f"the window cannot open: Qt needs the xcb-cursor library, which is not installed; "
                f"install the package {XCB_CURSOR_PACKAGE} (Debian/Ubuntu; xcb-util-cursor elsewhere), "
                f"or {CLI_HINT}")
    return None
