"""Fixtures for the desktop app's tests: offscreen Qt, a temporary AESTHETE_HOME, a tiny random
SigLIP with an aesthetic head, generated photos, and two guards on every test: no Qt warning
and no thread left running."""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import io  # noqa: E402
import threading  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402
from PySide6.QtCore import QtMsgType  # noqa: E402

SHARED_HEAD = Path("/work/shared/models/aesthetic_predictor_v2_5.pth")

# Messages the offscreen platform prints for things it cannot do; not the app's problem.
BENIGN_QT = ("This plugin does not support", "propagateSizeHints", "QFont::setPointSize",
             "offscreen plugin", "QStandardPaths: wrong permissions")


def pytest_configure(config):
    from app.ui.compat import shield_none_refcount

    shield_none_refcount()  # PySide6 6.12 on Python 3.11: see app/ui/compat.py


@pytest.fixture(autouse=True)
def aesthete_home(tmp_path, monkeypatch):
    """Every test gets its own config, data, cache and state folders."""
    home = tmp_path / "aesthete-home"
    monkeypatch.setenv("AESTHETE_HOME", str(home))
    for name in ("ENCODER", "HEAD", "DEVICE", "PRECISION", "BATCH_SIZE"):
        monkeypatch.delenv("AESTHETE_" + name, raising=False)
    return home


@pytest.fixture(autouse=True)
def fail_on_qt_warnings(request, qtlog):
    yield
    bad = [r.message for r in qtlog.records
           if r.type in (QtMsgType.QtWarningMsg, QtMsgType.QtCriticalMsg, QtMsgType.QtFatalMsg)
           and not any(b in r.message for b in BENIGN_QT)]
    assert not bad, f"Qt warnings: {bad}"


@pytest.fixture(autouse=True)
def no_threads_left():
    before = {t.ident for t in threading.enumerate()}
    yield
    from app.workers.tasks import running_threads

    left = running_threads()
    assert not left, f"threads still running after the test: {left}"
    strays = [t.name for t in threading.enumerate()
              if t.ident not in before and t.is_alive() and not t.daemon]
    assert not strays, f"Python threads still running after the test: {strays}"
    watchers = [t.name for t in threading.enumerate() if t.name == "folder-watcher" and t.is_alive()]
    assert not watchers, "a folder watcher was left running"


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """A one-layer random SigLIP with the real head's shape: fast, deterministic, offline."""
    import torch
    import transformers

    from app.core.model import AestheticHead

    folder = tmp_path_factory.mktemp("tiny-model")
    torch.manual_seed(0)
    cfg = transformers.SiglipVisionConfig(hidden_size=1152, intermediate_size=64, num_hidden_layers=1,
                                          num_attention_heads=16, image_size=384, patch_size=14)
    transformers.SiglipVisionModel(cfg).save_pretrained(folder / "encoder")
    if SHARED_HEAD.is_file():
        head = SHARED_HEAD
    else:
        torch.manual_seed(1)
        head = folder / "head.pth"
        torch.save(AestheticHead().state_dict(), head)
    return {"encoder": str(folder / "encoder"), "head": str(head)}


def make_settings(tmp_path: Path, **overrides):
    from app.config import settings as settings_mod

    return settings_mod.load(tmp_path / "settings.toml", overrides={"device": "cpu", "batch_size": 2, **overrides},
                             environ={})


@pytest.fixture
def settings(tmp_path, tiny_model):
    return make_settings(tmp_path, **tiny_model)


@pytest.fixture
def engine(tmp_path):
    from app.storage import db

    eng = db.open_db(tmp_path / "library.sqlite3")
    yield eng
    eng.dispose()


def photo_bytes(seed: int, size=(320, 240)) -> bytes:
    """A small textured JPEG, different for every seed."""
    rng = np.random.default_rng(seed)
    w, h = size
    base = rng.uniform(40, 220, size=(3, 4, 3)).astype(np.float32)
    img = Image.fromarray(base.astype(np.uint8)).resize((w, h), Image.Resampling.BICUBIC)
    arr = np.asarray(img, dtype=np.float32) + rng.normal(0, 12, size=(h, w, 3))
    buf = io.BytesIO()
    Image.fromarray(arr.clip(0, 255).astype(np.uint8)).save(buf, "JPEG", quality=88)
    return buf.getvalue()


def write_photos(folder: Path, count: int, start: int = 0, prefix: str = "photo") -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(start, start + count):
        path = folder / f"{prefix}_{i:03d}.jpg"
        path.write_bytes(photo_bytes(i))
        out.append(path)
    return out


@pytest.fixture
def photos(tmp_path) -> Path:
    folder = tmp_path / "Photos"
    write_photos(folder, 5)
    write_photos(folder / "trip", 3, start=100)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    return folder


def settled(qtbot, model, timeout: int = 10_000) -> None:
    """Until the grid model's queries and row refreshes (run in its query thread) have arrived."""
    qtbot.waitUntil(lambda: not model.is_busy(), timeout=timeout)


@pytest.fixture
def make_window(qtbot, engine):
    """Build a MainWindow (not started); it is shut down at the end of the test."""
    from app.ui.main_window import MainWindow

    windows = []

    def build(settings, **kwargs):
        kwargs.setdefault("debounce_ms", 150)
        window = MainWindow(engine, settings, **kwargs)
        qtbot.addWidget(window)
        windows.append(window)
        return window

    yield build
    for window in windows:
        assert window.shutdown(5.0), "the window did not shut down in time"
