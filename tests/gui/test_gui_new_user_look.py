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


# --- 2. offline, and the download's size --------------------------------------------------------

def _offline_hub(monkeypatch):
    """The hub as a computer without a network sees it: the error huggingface_hub really raises."""
    import huggingface_hub
    from huggingface_hub.errors import LocalEntryNotFoundError

    class ConnectError(Exception):  # httpx's, which huggingface_hub uses when it has it
        pass

    def snapshot_download(repo_id, *args, local_files_only=False, **kwargs):
        if local_files_only:
            raise LocalEntryNotFoundError("Cannot find an appropriate cached snapshot folder")
        try:
            raise ConnectError("[Errno -2] Name or service not known")
        except ConnectError as exc:
            raise LocalEntryNotFoundError(
                "Got: ConnectError: [Errno -2] Name or service not known\nAn error happened while trying to "
                "locate the files on the Hub, and we cannot find the appropriate snapshot folder for the "
                "specified revision on the local disk. Please check your internet connection and try again."
            ) from exc

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)


def test_offline_banner_and_download_say_offline_and_what_to_do(qtbot, make_window, photos, tmp_path,
                                                                 monkeypatch):
    from conftest import make_settings
    from PySide6.QtCore import Qt

    _offline_hub(monkeypatch)
    settings = make_settings(tmp_path, encoder="aesthete-tests/no-such-encoder", head=str(tmp_path / "none.pth"))
    window = make_window(settings)
    with qtbot.waitSignal(window.scoring.modelUnavailable, timeout=30_000):
        with qtbot.waitSignal(window.library.changed, timeout=30_000):
            window.start([str(photos)])
    window.show()
    first = window.banner.message.text()
    assert "downloads are off" not in first and "not downloaded yet" in first.replace("has not been", "not")
    with qtbot.waitSignal(window.downloadEnded, timeout=30_000) as ended:
        qtbot.mouseClick(window.banner.download, Qt.MouseButton.LeftButton)
    shown = window.banner.message.text()
    for text in (ended.args[0], shown):
        assert "offline" in text and "cannot be reached" in text
        assert "ConnectError" not in text and "Errno" not in text and "Got:" not in text
        assert "Settings" in text and "--encoder DIR --head FILE" in text


def test_download_problem_words():
    import socket
    import urllib.error

    from app.core import model

    assert model.download_problem(urllib.error.URLError(socket.gaierror(-2, "Name or service not known"))) \
        == model.OFFLINE
    assert model.download_problem(OSError("network is unreachable")) == model.OFFLINE
    assert model.download_problem(ValueError("Got: HfHubHTTPError: 401 Unauthorized")) == "401 Unauthorized"


def test_download_size_is_one_number_in_the_banner_and_the_readme(qapp):
    from app.ui.banner import ModelBanner
    from app.workers import download

    size = download.download_size_text()
    assert 3.4e9 < download.DOWNLOAD_BYTES < 3.6e9 and size == "about 3.5 GB"
    banner = ModelBanner()
    try:
        assert size in banner.download.toolTip().lower().replace("gb", "GB")
    finally:
        banner.deleteLater()
    readme = (ROOT / "README.md").read_text()
    weights = readme.split("## Model weights", 1)[1].split("\n## ", 1)[0]
    assert size in weights


# --- 8. a dark desktop ---------------------------------------------------------------------------

def _dark_palette():
    from PySide6.QtGui import QColor, QPalette

    palette = QPalette()
    for role, colour in [("Window", "#2b2b2b"), ("WindowText", "white"), ("Base", "#1e1e1e"),
                         ("AlternateBase", "#333333"), ("Text", "white"), ("Button", "#3c3c3c"),
                         ("ButtonText", "white"), ("ToolTipBase", "#3c3c3c"), ("ToolTipText", "white"),
                         ("Highlight", "#2a82da"), ("HighlightedText", "white"), ("PlaceholderText", "#a0a0a0")]:
        palette.setColor(getattr(QPalette.ColorRole, role), QColor(colour))
    return palette


@pytest.fixture
def dark_app(qapp):
    before = qapp.palette()
    qapp.setPalette(_dark_palette())
    yield qapp
    qapp.setPalette(before)


def _median_lightness(image, rect=None):
    from PySide6.QtGui import QColor

    rect = rect or image.rect()
    values = sorted(QColor(image.pixel(x, y)).lightness()
                    for x in range(rect.left(), rect.right() + 1, 3) for y in range(rect.top(), rect.bottom() + 1, 3))
    return values[len(values) // 2]


def test_banner_follows_a_dark_palette(qtbot, dark_app):
    from PySide6.QtGui import QColor, QPalette

    from app.ui import art
    from app.ui.banner import ModelBanner

    banner = ModelBanner()
    qtbot.addWidget(banner)
    banner.show_problem("The encoder is not on this computer")
    banner.resize(700, 100)
    image = banner.grab().toImage()
    background = _median_lightness(image)
    assert background < 128
    bg = QColor(image.pixel(image.width() // 2, image.height() - 6))
    assert bg.lightness() < 128
    text = banner.message.palette().color(QPalette.ColorRole.WindowText)
    assert art.contrast(bg, text) >= 4.5
    # and a light desktop keeps a light banner with dark text
    dark_app.setPalette(QPalette(QColor("#efefef")))
    dark_app.processEvents()
    image = banner.grab().toImage()
    bg = QColor(image.pixel(image.width() // 2, image.height() - 6))
    assert bg.lightness() > 160
    assert art.contrast(bg, banner.message.palette().color(QPalette.ColorRole.WindowText)) >= 4.5


def test_failed_tile_and_error_count_follow_a_dark_palette(qtbot, dark_app):
    from PySide6.QtCore import QAbstractListModel, QModelIndex, QRect, Qt
    from PySide6.QtGui import QColor, QImage, QPainter, QPalette
    from PySide6.QtWidgets import QStyleOptionViewItem

    from app.ui import art
    from app.ui.delegate import MARGIN, TileDelegate
    from app.ui.photo_model import Roles, Tile
    from app.ui.statusbar import ScoringStatus

    class Model(QAbstractListModel):
        def rowCount(self, parent=QModelIndex()):
            return 1

        def data(self, index, role=Qt.ItemDataRole.DisplayRole):
            if role == Roles.Tile:
                return Tile(1, "broken.jpg", "failed", None, 0, "", None, True)
            return None

    model = Model()
    delegate = TileDelegate(200)
    option = QStyleOptionViewItem()
    option.rect = QRect(0, 0, 212, 182)
    option.palette = dark_app.palette()
    option.font = dark_app.font()
    image = QImage(212, 182, QImage.Format.Format_ARGB32)
    image.fill(dark_app.palette().color(QPalette.ColorRole.Base))
    painter = QPainter(image)
    delegate.paint(painter, option, model.index(0))
    painter.end()
    picture = QRect(MARGIN, MARGIN, 200, delegate.picture_height())
    assert _median_lightness(image, picture) < 100  # no light plate behind the badge
    light = sum(QColor(image.pixel(x, y)).lightness() > 200
                for x in range(picture.left(), picture.right(), 2) for y in range(picture.top(), picture.bottom(), 2))
    assert light < 50

    status = ScoringStatus()
    qtbot.addWidget(status)
    status.set_errors(3)
    colour = status.errors.palette().color(QPalette.ColorRole.ButtonText)
    assert art.contrast(colour, dark_app.palette().color(QPalette.ColorRole.Button)) >= 4.5


def test_secondary_text_reads_on_a_dark_palette_that_leaves_placeholder_text_alone(qtbot, dark_app):
    """Key hints and folder lines come from the palette's own window and text colours: a dark theme
    that never set PlaceholderText (Qt's default is a dark grey) still gets hints that read."""
    from PySide6.QtGui import QColor, QPalette
    from PySide6.QtWidgets import QApplication

    from app.ui import art, keys, labels

    palette = _dark_palette()
    palette.setColor(QPalette.ColorRole.PlaceholderText, QColor("#404040"))  # as a theme that forgot it
    dark_app.setPalette(palette)
    label = labels.DimLabel(keys.hint_text("cull"))
    qtbot.addWidget(label)
    label.show()
    colour = label.palette().color(QPalette.ColorRole.WindowText)
    window = palette.color(QPalette.ColorRole.Window)
    assert art.contrast(colour, window) >= 4.5
    assert colour != palette.color(QPalette.ColorRole.WindowText)  # dimmer than the main text
    # the desktop turns light: the hint turns dark, still readable and still dimmer
    dark_app.setPalette(QPalette(QColor("#efefef")))
    dark_app.processEvents()
    light = QApplication.palette()
    colour = label.palette().color(QPalette.ColorRole.WindowText)
    assert colour.lightness() < 128
    assert art.contrast(colour, light.color(QPalette.ColorRole.Window)) >= 4.5
    assert colour != light.color(QPalette.ColorRole.WindowText)
