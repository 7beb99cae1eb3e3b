"""Camera RAW files are read through their embedded preview; a damaged one is that photo's PhotoError."""
import io

import numpy as np
import pytest
import rawpy
from PIL import Image

from app.core import decode
from app.errors import PhotoError


def test_a_file_that_is_no_raw_at_all_is_a_photo_error(tmp_path):
    path = tmp_path / "DSC_0001.NEF"
    path.write_bytes(b"II*\x00" + bytes(range(256)) * 8)  # a TIFF header, then noise
    with pytest.raises(PhotoError) as caught:
        decode.decode(path)
    assert "RAW" in caught.value.reason


class _RawWithPreview:
    """What rawpy.imread gives for a RAW that LibRaw reads: here with the preview bytes we choose
    (no damaged camera file can be made here, and none is shipped)."""

    def __init__(self, preview: bytes):
        self.preview = preview
        self.sizes = type("Sizes", (), {"flip": 0})()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def extract_thumb(self):
        return type("Thumb", (), {"format": rawpy.ThumbFormat.JPEG, "data": self.preview})()


def _jpeg(size=(320, 240)) -> bytes:
    out = io.BytesIO()
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (*size[::-1], 3), np.uint8)).save(out, "JPEG")
    return out.getvalue()


def test_a_raw_with_a_cut_short_preview_is_a_photo_error(tmp_path, monkeypatch):
    path = tmp_path / "IMG_0001.CR2"
    path.write_bytes(b"raw bytes as the camera wrote them")
    whole = _jpeg()
    monkeypatch.setattr(rawpy, "imread", lambda _: _RawWithPreview(whole))
    assert decode.decode(path).width == 320  # the preview itself is what is read

    for damaged in (whole[:len(whole) // 2], b"\xff\xd8 not a JPEG after all"):
        monkeypatch.setattr(rawpy, "imread", lambda _, data=damaged: _RawWithPreview(data))
        with pytest.raises(PhotoError) as caught:
            decode.decode(path)
        assert caught.value.kind == "error" and "preview" in caught.value.reason
    assert path.read_bytes() == b"raw bytes as the camera wrote them"
