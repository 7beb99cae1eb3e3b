"""A new user's first minutes: no display, no network, a dark desktop."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


# --- 1. no display ---------------------------------------------------------------------------

def _bare_env(tmp_path) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["AESTHETE_HOME"] = str(tmp_path / "home")
    env["PYTHONPATH"] = str(ROOT)
    return env


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the display check is for Linux")
@pytest.mark.parametrize("argv", [[], ["FOLDER"], ["gui", "FOLDER"]], ids=["bare", "folder", "gui-folder"])
def test_no_display_says_so_in_one_line_before_qt_aborts(tmp_path, argv):
    photos = tmp_path / "photos"
    photos.mkdir()
    argv = [str(photos) if a == "FOLDER" else a for a in argv]
    done = subprocess.run([sys.executable, "-m", "app", *argv], cwd=ROOT, env=_bare_env(tmp_path),
                          capture_output=True, text=True, timeout=120)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, done.stderr
    assert lines and "display" in lines[0], done.stderr
    assert "aesthete scan" in lines[0] and len(lines) == 1, done.stderr
    assert "xcb-cursor" not in done.stderr


def test_display_check_cases(monkeypatch):
    from app.ui import display

    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(display.sys, "platform", "linux")
    assert "DISPLAY" in display.problem()
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert display.problem() is None
    monkeypatch.setenv("QT_QPA_PLATFORM", "wayland")
    assert "WAYLAND_DISPLAY is not set" in display.problem()
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    assert display.problem() is None
    monkeypatch.delenv("QT_QPA_PLATFORM")
    monkeypatch.delenv("WAYLAND_DISPLAY")
    monkeypatch.setenv("DISPLAY", ":99")
    monkeypatch.setattr(display, "_x_connects", lambda d: False)
    assert "cannot be reached" in display.problem() and "display" in display.problem()
    monkeypatch.setattr(display, "_x_connects", lambda d: True)
    monkeypatch.setattr(display, "_has_xcb_cursor", lambda: False)
    assert "libxcb-cursor0" in display.problem()
    monkeypatch.setattr(display, "_has_xcb_cursor", lambda: True)
    assert display.problem() is None
    monkeypatch.setattr(display.sys, "platform", "win32")
    monkeypatch.delenv("DISPLAY")
    assert display.problem() is None
