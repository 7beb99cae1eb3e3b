"""A generated burst for the best-shots and cull views: five frames of one scene 0.2 s apart (sharp,
shifted, blurred, dark, blown), a different scene an hour later, all analysed with the tiny model
before the window opens."""
from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from PIL import Image

from conftest import settled
from tests.unit import imagegen

SIZE = (1280, 960)
BURST = ("IMG_01.jpg", "IMG_02.jpg", "IMG_03.jpg", "IMG_04.jpg", "IMG_05.jpg")


def exif_at(clock: str, subsec: str | None = None) -> bytes:
    exif = Image.Exif()
    ifd = exif.get_ifd(0x8769)
    ifd[0x9003] = f"2024:06:01 {clock}"
    if subsec is not None:
        ifd[0x9291] = subsec
    return exif.tobytes()


def _jpeg(im: Image.Image, exif: bytes) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=90, exif=exif)
    return buf.getvalue()


@pytest.fixture(scope="session")
def burst_files() -> dict[str, bytes]:
    """The files' bytes, drawn once per session."""
    base = imagegen.scene(1, SIZE)
    frames = [base, imagegen.shifted(base, 8, 4), imagegen.blurred(base, 4), imagegen.exposed(base, -3),
              imagegen.exposed(base, 2.5)]
    out = {name: _jpeg(im, exif_at("10:00:00", f"{i * 2}0")) for i, (name, im) in enumerate(zip(BURST, frames))}
    out["OTHER.jpg"] = _jpeg(imagegen.scene(50, SIZE), exif_at("11:30:00"))
    return out


@pytest.fixture
def shoot(tmp_path, burst_files) -> Path:
    folder = tmp_path / "shoot"
    folder.mkdir()
    for name, data in burst_files.items():
        (folder / name).write_bytes(data)
    return folder


@pytest.fixture
def analysed(engine, settings, shoot) -> Path:
    """The shoot scanned and analysed (scores, quality, scene hashes) into the test's library."""
    from app import library
    from app.library import ModelHolder, analyse, scan_folders

    scan_folders(engine, settings, [shoot])
    holder = ModelHolder(settings)
    result = analyse(engine, holder, library.pending(engine, holder))
    assert result.scored == len(BURST) + 1
    return shoot


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def start(qtbot, window) -> None:
    """Open the window on the analysed library and wait for its first rescan."""
    window.show()
    qtbot.waitExposed(window)
    with qtbot.waitSignal(window.library.changed, timeout=30_000):
        window.start([])
    settled(qtbot, window.model)
