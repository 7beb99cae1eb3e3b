"""Technical quality of a photo (focus, exposure, noise, size) and a perceptual scene hash that survives exposure changes."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import imagehash
import numpy as np
from PIL import Image, ImageOps

ANALYSIS_SIZE = 1024  # long side the metrics are computed at, so values compare across resolutions

_TILES = 16  # per side; 64 px tiles at ANALYSIS_SIZE are small enough to isolate a subject or a flat patch
_SHARPEST_FRACTION = 0.03  # a subject covering ~6% of the frame is enough to call the photo focused
_FLATTEST_FRACTION = 0.10  # texture inflates the noise estimate, so trust only the flattest tiles
_CLIP_HIGH = 250  # JPEG rounding and tone curves keep blown areas a few levels under 255
_CLIP_LOW = 5
_HASH_SIZE = 256  # long side for hashing: enough detail for the 32x32 DCT, cheap to equalise


@dataclass(frozen=True)
class TechnicalQuality:
    sharpness: float  # variance of the Laplacian at ANALYSIS_SIZE, mean over the sharpest tiles
    clipped_highlights: float  # fraction of pixels at luminance >= 250
    crushed_shadows: float  # fraction of pixels at luminance <= 5
    brightness: float  # mean luminance, 0..1
    noise: float  # noise sigma in 0..255 units (Immerkaer), over the flattest tiles
    width: int  # full-resolution pixel size
    height: int

    @property
    def megapixels(self) -> float:
        return self.width * self.height / 1e6

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> TechnicalQuality:
        return cls(
            sharpness=float(d["sharpness"]),
            clipped_highlights=float(d["clipped_highlights"]),
            crushed_shadows=float(d["crushed_shadows"]),
            brightness=float(d["brightness"]),
            noise=float(d["noise"]),
            width=int(d["width"]),
            height=int(d["height"]),
        )


@dataclass(frozen=True)
class QualityThresholds:
    """Where a measurement becomes a fault; see tests/unit/test_quality.py for the measurements behind them."""

    blur: float = 60.0  # sharpness below this is blurry
    dark: float = 0.15  # mean luminance below this is too dark
    bright: float = 0.80  # mean luminance above this is too bright
    clipped: float = 0.05  # more blown pixels than this is blown highlights
    crushed: float = 0.25  # more black pixels than this is crushed shadows
    noisy: float = 8.0  # noise sigma above this is noisy
    min_megapixels: float = 1.0  # smaller photos are low resolution


def _analysis_grey(image: Image.Image) -> Image.Image:
    grey = image.convert("L")
    scale = ANALYSIS_SIZE / max(grey.size)
    if scale < 1.0:
        size = (max(1, round(grey.width * scale)), max(1, round(grey.height * scale)))
        # reducing_gap keeps large decodes fast; BILINEAR still antialiases in Pillow's resize.
        grey = grey.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    return grey


def _tile_means(values: np.ndarray) -> np.ndarray:
    """Mean of `values` over a _TILES x _TILES grid (fewer tiles for tiny images)."""
    h, w = values.shape
    ny, nx = max(1, min(_TILES, h // 8)), max(1, min(_TILES, w // 8))
    th, tw = h // ny, w // nx
    return values[: ny * th, : nx * tw].reshape(ny, th, nx, tw).mean(axis=(1, 3)).ravel()


def _top_mean(values: np.ndarray, fraction: float) -> float:
    k = max(1, round(values.size * fraction))
    return float(np.partition(values, values.size - k)[-k:].mean())


def measure_quality(image: Image.Image, full_size: tuple[int, int]) -> TechnicalQuality:
    grey = _analysis_grey(image)
    hist = np.asarray(grey.histogram(), dtype=np.float64)
    total = hist.sum()
    brightness = float(hist @ np.arange(256)) / total / 255.0
    clipped = float(hist[_CLIP_HIGH:].sum() / total)
    crushed = float(hist[: _CLIP_LOW + 1].sum() / total)

    g = np.asarray(grey, dtype=np.float32)
    if min(g.shape) < 3:
        return TechnicalQuality(0.0, clipped, crushed, brightness, 0.0, full_size[0], full_size[1])
    # Second differences along each axis: their sum is the Laplacian, their product-filter Immerkaer's kernel.
    dxx = g[:, :-2] - 2.0 * g[:, 1:-1] + g[:, 2:]
    dyy = g[:-2, :] - 2.0 * g[1:-1, :] + g[2:, :]
    lap = dxx[1:-1, :] + dyy[:, 1:-1]
    lap_mean = _tile_means(lap)
    lap_var = _tile_means(lap * lap) - lap_mean * lap_mean

    tile_abs = _tile_means(np.abs(dxx[:-2, :] - 2.0 * dxx[1:-1, :] + dxx[2:, :]))
    # Clipped tiles are flat because the signal is gone, not because the sensor is clean.
    centre = g[1:-1, 1:-1]
    usable = _tile_means(((centre > _CLIP_LOW) & (centre < _CLIP_HIGH)).astype(np.float32)) > 0.9
    noise, floor = 0.0, 0.0
    if usable.any():
        k = max(1, round(int(usable.sum()) * _FLATTEST_FRACTION))
        flattest = np.flatnonzero(usable)[np.argsort(tile_abs[usable], kind="stable")[:k]]
        # sigma = sqrt(pi/2) / 6 * mean|I * M|  (Immerkaer 1996, M = outer([1,-2,1], [1,-2,1]))
        noise = float(np.sqrt(np.pi / 2.0) / 6.0 * tile_abs[flattest].mean())
        # Noise alone has Laplacian variance; where the image is flattest that is all there is.
        floor = float(lap_var[flattest].mean())
    # Shallow depth of field blurs most of the frame on purpose: judge focus where the image is sharpest.
    sharpness = max(0.0, _top_mean(lap_var, _SHARPEST_FRACTION) - floor)
    return TechnicalQuality(sharpness, clipped, crushed, brightness, noise, int(full_size[0]), int(full_size[1]))


def faults(q: TechnicalQuality, t: QualityThresholds = QualityThresholds()) -> list[str]:
    found = []
    if q.sharpness < t.blur:
        found.append("blurry")
    if q.brightness < t.dark:
        found.append("too dark")
    elif q.brightness > t.bright:
        found.append("too bright")
    if q.clipped_highlights > t.clipped:
        found.append("blown highlights")
    if q.crushed_shadows > t.crushed:
        found.append("crushed shadows")
    if q.noise > t.noisy:
        found.append("noisy")
    if q.megapixels < t.min_megapixels:
        found.append("low resolution")
    return found


def scene_hash(image: Image.Image) -> int:
    """64-bit pHash of the equalised greyscale image, so exposure variants of a scene hash alike."""
    grey = image.convert("L")
    grey.thumbnail((_HASH_SIZE, _HASH_SIZE), Image.Resampling.BILINEAR, reducing_gap=2.0)
    bits = imagehash.phash(ImageOps.equalize(grey)).hash.ravel()
    return int("".join("1" if b else "0" for b in bits), 2)


def hamming(a: int, b: int) -> int:
    # Masking makes hashes stored as signed 64-bit integers (SQLite) compare the same as unsigned ones.
    return ((a ^ b) & 0xFFFF_FFFF_FFFF_FFFF).bit_count()
