"""Quitting while scoring: within two seconds, exit status 0, no thread left behind, and the next
start resumes where scoring stopped."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import write_photos
from PySide6.QtCore import Qt

from app.storage import browse, db
from app.workers.tasks import running_threads

REPO = Path(__file__).resolve().parents[2]


def test_ctrl_q_while_scoring(qtbot, make_window, settings, tmp_path):
    folder = tmp_path / "Many"
    write_photos(folder, 40)
    window = make_window(settings)
    window.show()
    qtbot.waitExposed(window)
    with qtbot.waitSignal(window.scoring.photoScored, timeout=60_000):
        window.start([str(folder)])
    assert window.scoring.thread.isRunning()
    t0 = time.monotonic()
    with qtbot.waitSignal(window.shutdownFinished, timeout=5000) as done:
        qtbot.keyClick(window, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)
    elapsed = time.monotonic() - t0
    assert done.args == [True]
    assert elapsed < 2.0, f"quitting took {elapsed:.2f} s"
    assert not window.isVisible()
    assert not running_threads()
    counts = browse.status_counts(window.engine)
    assert 0 < counts.scored < 40, "stopped part way"


def test_app_quits_cleanly_while_scoring(tmp_path, tiny_model, aesthete_home):
    """The real entry point: `aesthete gui FOLDER`, then SIGTERM (what closing a session sends)."""
    folder = tmp_path / "Photos"
    write_photos(folder, 60)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", AESTHETE_HOME=str(aesthete_home), PYTHONUNBUFFERED="1")
    dbfile = tmp_path / "lib.sqlite3"
    cmd = [sys.executable, "-m", "app", "--debug", "--db", str(dbfile), "--encoder", tiny_model["encoder"],
           "--head", tiny_model["head"], "--device", "cpu", "--batch-size", "2", "gui", str(folder)]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    lines = []
    try:
        for line in proc.stderr:  # wait for the first scored chunk, by the log, not by a sleep
            lines.append(line)
            if "chunk of" in line:
                break
        else:
            raise AssertionError("the app ended before scoring:\n" + "".join(lines[-30:]))
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, rest = proc.communicate(timeout=20)
        elapsed = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    output = "".join(lines) + rest
    assert proc.returncode == 0, output[-3000:]
    assert elapsed < 2.0, f"quitting took {elapsed:.2f} s"
    assert "QThread: Destroyed" not in output
    assert "Traceback" not in output, output[-3000:]
    engine = db.open_db(dbfile)
    try:
        counts = browse.status_counts(engine)
    finally:
        engine.dispose()
    assert 0 < counts.scored < 60 and counts.total == 60
