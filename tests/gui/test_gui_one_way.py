"""One way for each job (issue 16): every setting takes effect in the running window through the
registry's announcements (command-line options kept), marks go through the curation service off
the GUI thread (a write lock held by another process does not freeze the window), and shutdown
stops what the task registry knows."""
from __future__ import annotations

import subprocess
import sys
import time

from conftest import make_settings, settled, write_photos
from PySide6.QtCore import QTimer

from app import cli
from app.config import settings as settings_mod
from app.storage import browse
from app.workers import tasks


def _no_model(tmp_path, **overrides):
    return make_settings(tmp_path, encoder=str(tmp_path / "no-encoder"), head=str(tmp_path / "none.pth"), **overrides)


def _start(qtbot, window, folder):
    with qtbot.waitSignals([window.library.changed, window.scoring.modelUnavailable], timeout=30_000):
        window.start([str(folder)])
    settled(qtbot, window.model)


def _new_value(setting: settings_mod.Setting, current, tmp_path):
    """A valid value different from the current one."""
    if setting.name in ("encoder", "head"):
        return str(tmp_path / f"other-{setting.name}")
    if setting.name == "rejects_folder":
        return str(tmp_path / "Rejects")
    if setting.type is bool:
        return not current
    if setting.type is list:
        return [c for c in setting.choices if c not in current][:1] + list(current)[:1] if setting.choices \
            else ["*.tmp"]
    if setting.choices:
        return next(c for c in setting.choices if c != current)
    low = setting.minimum if setting.minimum is not None else 0
    value = setting.type(current) + setting.type(1 if setting.type is int else 0.5)
    if setting.maximum is not None and value > setting.maximum:
        value = setting.type(low)
    return value


def test_every_setting_takes_effect_in_the_running_window(qtbot, make_window, tmp_path, monkeypatch):
    folder = tmp_path / "Camera"
    write_photos(folder, 2)
    window = make_window(_no_model(tmp_path))
    _start(qtbot, window, folder)
    assert window.settings_ui.changes.unhandled() == []  # every kind of change has a handler
    assert {s.effect for s in settings_mod.REGISTRY.values()} <= set(settings_mod.EFFECTS)

    seen: dict[str, list] = {"model": [], "rescan": []}
    real_reconfigure = window.scoring.reconfigure
    monkeypatch.setattr(window.scoring, "reconfigure",
                        lambda s: (seen["model"].append(s), real_reconfigure(s)))
    monkeypatch.setattr(window.library, "rescan", lambda roots=None: seen["rescan"].append(roots))

    def took_effect(name: str, value) -> bool:
        effect = settings_mod.REGISTRY[name].effect
        if effect == settings_mod.MODEL:
            return bool(seen["model"]) and getattr(seen["model"][-1], name) == value
        if effect == settings_mod.RESCAN:
            return bool(seen["rescan"])
        if effect == settings_mod.REGROUP:
            return window.best.stale and window.cull.stale
        if effect == settings_mod.THRESHOLDS:
            return (window.delegate.good, window.delegate.cull) == (window.settings.good_threshold,
                                                                     window.settings.cull_threshold)
        if effect == settings_mod.CULL_RULES:
            return sorted(window.cull.rules) == sorted(value)
        if effect == settings_mod.THUMBNAILS:
            return window.tile == value and window.model.thumb_pixels == value
        return effect == settings_mod.WHEN_USED and window.curation.settings.write_xmp == value

    for name, setting in settings_mod.REGISTRY.items():
        seen["model"].clear()
        seen["rescan"].clear()
        window.best.stale = window.cull.stale = False
        value = _new_value(setting, getattr(window.settings, name), tmp_path)
        window.settings_ui.apply_settings({name: value})
        assert getattr(window.settings, name) == setting.parse(value, name), name
        assert took_effect(name, setting.parse(value, name)), f"{name} ({setting.effect}) did not take effect"


def test_command_line_options_stay_after_a_change_in_the_dialog(qtbot, make_window, tmp_path):
    args = cli.build_parser().parse_args(["gui", "--runtime", "torch", "--batch-size", "3", "--precision", "fp32"])
    given = settings_mod.flags_given(args)
    assert {k: v for k, v in given.items() if v is not None} == {"runtime": "torch", "batch_size": 3,
                                                                  "precision": "fp32"}
    assert set(given) == set(settings_mod.FLAG_SETTINGS)
    window = make_window(_no_model(tmp_path, runtime="torch", precision="fp32"),
                         overrides={**given, "encoder": str(tmp_path / "no-encoder")})
    window.settings_ui.apply_settings({"good_threshold": 6.5})
    assert window.settings.good_threshold == 6.5
    assert (window.settings.runtime, window.settings.batch_size, window.settings.precision) == ("torch", 3, "fp32")


def test_every_settings_option_of_the_cli_comes_from_the_registry():
    parser = cli.build_parser()
    options = {a.dest: a for a in parser._actions}
    for name in settings_mod.FLAG_SETTINGS:
        setting = settings_mod.REGISTRY[name]
        assert name in options and options[name].option_strings == [setting.option]
        assert options[name].help == setting.flag
        if setting.choices:
            assert list(options[name].choices) == list(setting.choices)


_HOLD_LOCK = """
import sqlite3, sys, time
con = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)
con.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
con.execute("COMMIT")
"""


def test_marking_while_another_process_holds_the_write_lock_keeps_the_window_responsive(
        qtbot, make_window, engine, tmp_path):
    folder = tmp_path / "Camera"
    write_photos(folder, 3)
    window = make_window(_no_model(tmp_path))
    _start(qtbot, window, folder)
    window.show()
    qtbot.waitExposed(window)
    window.grid.setCurrentIndex(window.model.index(0))
    pid = window.grid.selected_ids()[0]
    holder = subprocess.Popen([sys.executable, "-c", _HOLD_LOCK, str(engine.url.database), "2.5"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        ticks: list[float] = []
        timer = QTimer()
        timer.setInterval(20)
        timer.timeout.connect(lambda: ticks.append(time.monotonic()))
        timer.start()
        asked = time.monotonic()
        with qtbot.waitSignal(window.curation.marksChanged, timeout=20_000):
            window.commands.rate_selected(4)
            window.commands.flag_selected("pick")
            assert time.monotonic() - asked < 0.5  # the GUI thread did not wait for the lock
        qtbot.waitUntil(lambda: browse.photos_by_id(engine, [pid])[pid].flag == "pick", timeout=20_000)
        timer.stop()
        gaps = [b - a for a, b in zip(ticks, ticks[1:])]
        assert ticks and max(gaps) < 0.5, max(gaps)  # the event loop kept running while the lock was held
        photo = browse.photos_by_id(engine, [pid])[pid]
        assert (photo.rating, photo.flag) == (4, "pick")  # both marks landed, in order
    finally:
        holder.wait(10)


def test_shutdown_stops_every_pool_and_thread_the_registry_knows(qtbot, make_window, tmp_path):
    folder = tmp_path / "Camera"
    write_photos(folder, 3)
    window = make_window(_no_model(tmp_path))
    _start(qtbot, window, folder)
    from shiboken6 import isValid

    pools = [p for p in list(tasks._pools) if isValid(p) and tasks._under(p, window)]
    names = {p.objectName() for p in pools}
    assert {"thumbnails", "library", "curation-reads", "curation-writes", "photo-query", "preview",
            "cull-preview", "compare", "io"} <= names
    assert window.shutdown(5.0)
    assert not tasks.running_threads()
    assert not window.scoring.thread.isRunning()
    assert window.library._stopped and window.curation._stopped  # and they refuse new work


def test_without_a_face_model_the_window_says_face_checks_are_off(qtbot, make_window, tmp_path, tiny_model):
    """Scoring works without the face model; the status bar says face checks are off and why."""
    folder = tmp_path / "Camera"
    write_photos(folder, 2)
    window = make_window(make_settings(tmp_path, faces_model=str(tmp_path / "no-face-model.task"), **tiny_model))
    with qtbot.waitSignal(window.scoring.facesOff, timeout=120_000) as off:
        window.start([str(folder)])
    assert "Face checks are off" in off.args[0] and "--faces-model" in off.args[0]
    label = window.scoring_status.faces
    assert not label.isHidden() and label.text() == "Face checks off" and label.toolTip() == off.args[0]
    qtbot.waitUntil(lambda: browse.status_counts(window.engine).scored == 2, timeout=120_000)  # scored all the same
