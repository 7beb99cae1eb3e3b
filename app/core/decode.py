"""Read one photo file into an oriented RGB image plus the facts the library keeps about it.

Every failure becomes a PhotoError with a one-line reason; the file is only ever read.
"""
from __future__ import annotations

import errno
import hashlib
import io
import logging
import os
import re
import stat
import struct
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from PIL.JpegImagePlugin import JpegImageFile

from app.core import formats
from app.errors import PhotoError

log = logging.getLogger(__name__)

try:  # HEIC/HEIF/AVIF through libheif
    import pillow_heif

    pillow_heif.register_heif_opener()
except Exception:  # pragma: no cover - optional at run time, a dependency at install time
    log.warning("pillow-heif is not available; HEIC photos will be reported as unsupported")

# Pillow's own guard: refuse images above twice this many pixels (decompression bombs). Large but
# plausible photos (100 MP medium format, panoramas) between the two limits are decoded, so the
# warning Pillow gives for them is not news. Set once: catch_warnings is not thread-safe.
MAX_PIXELS = Image.MAX_IMAGE_PIXELS
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
EXIF_IFD = 0x8769
TAG_ORIENTATION = 0x0112
TAG_DATETIME = 0x0132
TAG_DATETIME_ORIGINAL = 0x9003
TAG_SUBSEC_ORIGINAL = 0x9291
TAG_OFFSET_ORIGINAL = 0x9011


@dataclass
class DecodedPhoto:
    image: Image.Image  # RGB, EXIF-oriented, possibly decoded at reduced size
    width: int  # full-resolution size after orientation
    height: int
    orientation: int
    captured_at: float | None  # EXIF capture time as epoch seconds with sub-seconds
    content_hash: str
    file_size: int


def hash_bytes(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def hash_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def read_bytes(path: Path) -> bytes:
    """The file's bytes, or a PhotoError that says in plain words why they cannot be read."""
    try:
        # O_NONBLOCK: a FIFO named like a photo must not hang the run; fstat then refuses it.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with open(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise PhotoError("not a regular file (a pipe, device or socket)")
            data = fh.read()
    except FileNotFoundError:
        if os.path.islink(path):
            raise PhotoError("broken symbolic link (its target does not exist)") from None
        raise PhotoError("file vanished before it could be read", kind="vanished") from None
    except PermissionError:
        raise PhotoError("permission denied: the file cannot be read") from None
    except IsADirectoryError:
        raise PhotoError("is a folder, not a file") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise PhotoError("symbolic link loop") from None
        raise PhotoError(f"cannot read file: {exc.strerror or exc}") from None
    if not data:
        raise PhotoError("empty file (0 bytes)")
    return data


def to_rgb(im: Image.Image) -> Image.Image:
    """Any Pillow mode to 8-bit RGB, scaling high-bit-depth greys instead of clipping them."""
    if im.mode == "RGB":
        return im
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(im, dtype=np.float64)
        hi = float(arr.max()) if arr.size else 0.0
        if im.mode == "F" and hi <= 1.0:
            scale = 255.0
        elif hi > 255:
            scale = 255.0 / 65535.0
        else:
            scale = 1.0
        arr = np.clip(arr * scale + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(arr, mode="L").convert("RGB")
    if im.mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")
    return im.convert("RGB")


def _exif_time(exif: Image.Exif) -> float | None:
    sub = exif.get_ifd(EXIF_IFD)
    text = sub.get(TAG_DATETIME_ORIGINAL) or exif.get(TAG_DATETIME)
    if not text:
        return None
    try:
        stamp = datetime.strptime(str(text).strip("\x00 ")[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    offset = str(sub.get(TAG_OFFSET_ORIGINAL) or "").strip("\x00 ")
    tz = timezone.utc  # naive camera clock: stored as if UTC so bursts still compare
    if len(offset) == 6 and offset[0] in "+-":
        try:
            delta = timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6]))
            tz = timezone(delta if offset[0] == "+" else -delta)
        except ValueError:
            pass
    seconds = stamp.replace(tzinfo=tz).timestamp()
    subsec = str(sub.get(TAG_SUBSEC_ORIGINAL) or "").strip("\x00 ")
    if subsec.isdigit():
        seconds += int(subsec) / (10 ** len(subsec))
    return seconds


def _too_large(exc: Exception) -> PhotoError:
    """Pillow's decompression-bomb error in plain words: how many megapixels, and the limit."""
    numbers = [int(n) for n in re.findall(r"\d{6,}", str(exc))]
    if len(numbers) >= 2:
        return PhotoError(f"image too large to decode safely ({numbers[0] / 1e6:,.0f} megapixels; "
                          f"the limit is {numbers[1] / 1e6:,.0f})")
    return PhotoError("image too large to decode safely")


def _open(data: bytes, path: Path) -> Image.Image:
    suffix = path.suffix.lower()
    if suffix in formats.UNSUPPORTED:
        raise PhotoError(formats.UNSUPPORTED[suffix], kind="unsupported")
    if suffix in formats.RAW:
        return _open_raw_preview(data)
    try:
        return Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise _too_large(exc) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, struct.error) as exc:
        if not isinstance(exc, UnidentifiedImageError):
            raise PhotoError(f"corrupt {suffix.lstrip('.').upper() or 'image'} file ({exc})") from None
        if suffix in (".heic", ".heif", ".hif", ".avif") and "pillow_heif" not in globals():
            raise PhotoError("HEIC/HEIF support (pillow-heif) is not installed", kind="unsupported") from None
        raise PhotoError(f"not a readable {suffix.lstrip('.').upper() or 'image'} file "
                         "(corrupt, or another format under this name)") from None


def _open_raw_preview(data: bytes) -> Image.Image:
    try:
        import rawpy
    except ImportError:  # pragma: no cover
        raise PhotoError("camera RAW support (rawpy) is not installed", kind="unsupported") from None
    try:
        with rawpy.imread(io.BytesIO(data)) as raw:
            thumb = raw.extract_thumb()
            flip = raw.sizes.flip
    except Exception as exc:  # rawpy raises many LibRaw* types for unknown or damaged files
        raise PhotoError(f"camera RAW file without a usable preview ({type(exc).__name__})",
                         kind="unsupported") from None
    # LibRaw hands the preview over as the camera wrote it: one cut short (an interrupted copy)
    # or damaged fails only here, and is this photo's error like any other damaged file.
    try:
        if thumb.format == rawpy.ThumbFormat.JPEG:
            preview = Image.open(io.BytesIO(thumb.data))
            preview.load()
        else:
            preview = Image.fromarray(thumb.data)
        # The preview rarely carries an orientation tag of its own; LibRaw's flip says how the
        # camera was held (3: 180 degrees, 5: 90 counter-clockwise, 6: 90 clockwise).
        turn = {3: Image.Transpose.ROTATE_180, 5: Image.Transpose.ROTATE_90, 6: Image.Transpose.ROTATE_270}
        if flip in turn and int(preview.getexif().get(TAG_ORIENTATION, 1) or 1) == 1:
            preview = preview.transpose(turn[flip])
    except Image.DecompressionBombError as exc:
        raise _too_large(exc) from None
    except (OSError, SyntaxError, ValueError, TypeError, EOFError, IndexError, struct.error) as exc:
        raise PhotoError(f"camera RAW file with a damaged preview ({type(exc).__name__}: {exc})") from None
    return preview


def decode(path: Path, min_side: int | None = 768, data: bytes | None = None) -> DecodedPhoto:
    """Decode a photo. With min_side, JPEGs decode at the smallest DCT scale whose shorter side is
    still at least min_side pixels; None decodes at full size."""
    path = Path(path)
    if data is None:
        data = read_bytes(path)
    im = _open(data, path)
    try:
        width, height = im.size
        if width * height > 2 * MAX_PIXELS:
            raise PhotoError(f"image too large to decode safely ({width}x{height} pixels; "
                             f"the limit is {2 * MAX_PIXELS / 1e6:,.0f} megapixels)")
        exif = im.getexif()
        orientation = int(exif.get(TAG_ORIENTATION, 1) or 1)
        if orientation not in range(1, 9):
            orientation = 1
        captured_at = _exif_time(exif)
        if min_side and isinstance(im, JpegImageFile):  # MPO (many camera JPEGs) included
            scale = min(width, height) / min_side
            if scale >= 2:
                im.draft("RGB", (max(1, int(width / scale) + 1), max(1, int(height / scale) + 1)))
        im.load()
        # exif_transpose uses the EXIF of the decoded image; apply it through our own tag so a
        # draft-decoded image still rotates the same way.
        rotated = ImageOps.exif_transpose(im) if orientation != 1 else im
        if orientation in (5, 6, 7, 8):
            width, height = height, width
        rgb = to_rgb(rotated)
    except PhotoError:
        raise
    except Image.DecompressionBombError as exc:
        raise _too_large(exc) from None
    except OSError as exc:
        text = str(exc)
        if "truncated" in text:
            raise PhotoError("truncated file: the image data ends early (incomplete copy?)") from None
        raise PhotoError(f"corrupt image data ({text})") from None
    except (ValueError, SyntaxError, EOFError, IndexError, struct.error) as exc:
        raise PhotoError(f"corrupt image data ({type(exc).__name__}: {exc})") from None
    return DecodedPhoto(rgb, width, height, orientation, captured_at, hash_bytes(data), len(data))

