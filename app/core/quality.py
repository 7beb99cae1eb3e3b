"""Technical quality of a photo (focus, exposure, noise, size) and a scene hash that survives exposure changes."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import imagehash
import numpy as np
from PIL import Image, ImageOps

ANALYSIS_SIZE = 1024  # long side the metrics are computed at, so values compare across resolutions

_TILES = 16  # per side; 64 px tiles at ANALYSIS_SIZE are small enough to isolate a subject or a flat patch
_SHARPEST_FRACTION = 0.03  # a subject covering ~3% of the frame is enough to call the photo focused
_FLATTEST_FRACTION = 0.10  # texture inflates the noise estimate, so trust only the flattest tiles
_CLIP_HIGH = 250  # JPEG rounding and tone curves keep blown areas a few levels under 255
_CLIP_LOW = 5
_HASH_SIZE = 256  # long side for hashing: enough detail for the 32x32 DCT, cheap to equalise


@dataclass(frozen=True)
class TechnicalQuality:
    sharpness: float  # variance of the Laplacian at ANALYSIS_SIZE over the sharpest tiles, less the noise's share
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
    """Where a measurement becomes a fault.

    Chosen from measurements at ANALYSIS_SIZE on the 13 sample photos (1600 px) and on synthetic scenes
    (tests/unit/imagegen.py); the numbers are repeated in tests/unit/test_quality.py.
    """

    # Sharp sample photos measured 56-2200, a featureless storm sky 26, a sharp subject on a blurred
    # background 68+; a 3 px Gaussian blur of the samples 2.5-26.5 (12 of 13 under 25), a 2 px blur of a
    # synthetic scene at most 16. The measure cannot tell fog from blur: groups judge focus relatively.
    blur: float = 25.0
    # Normal exposures measured 0.34-0.58; three stops under, 0.19.
    dark: float = 0.20
    # Normal exposures up to 0.82 (light wood); two stops over, 0.85-1.0.
    bright: float = 0.85
    # Normal exposures clip at most 1.8% of pixels; two stops over, 13-20% (synthetic) and up to all (samples).
    clipped: float = 0.05
    # Normal exposures crush at most 5.5%; 2.5 stops under, up to 17%: only heavier than that is a fault.
    crushed: float = 0.25
    # Sample photos measure 0.1-1.6 (at 1024 px, noise shrinks with the downscale); sigma 3 is visible grain.
    noisy: float = 3.0
    # The sample photos are 1.6-1.7 MP; below 1 MP is smaller than a laptop screen.
    min_megapixels: float = 1.0


def _analysis_grey(image: Image.Image) -> Image.Image:
    grey = image.convert("L")
    scale = ANALYSIS_SIZE / max(grey.size)
    if scale < 1.0:
        size = (max(1, round(grey.width * scale)), max(1, round(grey.height * scale)))
        # reducing_gap keeps large decodes fast; BILINEAR still antialiases in Pillow's resize.
        grey = grey.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    return grey


def _tile_halves(values: np.ndarray, interleaved: bool) -> tuple[np.ndarray, np.ndarray]:
    """Means of `values` over two halves of each tile of the grid: even and odd rows, or upper and lower."""
    h, w = values.shape
    ny, nx = max(1, min(_TILES, h // 8)), max(1, min(_TILES, w // 8))
    th, tw = h // ny // 2 * 2, w // nx
    tiles = values[: ny * th, : nx * tw].reshape(ny, th, nx, tw)
    a, b = (tiles[:, 0::2], tiles[:, 1::2]) if interleaved else (tiles[:, : th // 2], tiles[:, th // 2 :])
    return a.mean(axis=(1, 3)).ravel(), b.mean(axis=(1, 3)).ravel()


def _tile_variances(lap: np.ndarray, interleaved: bool) -> tuple[np.ndarray, np.ndarray]:
    mean_a, mean_b = _tile_halves(lap, interleaved)
    square_a, square_b = _tile_halves(lap * lap, interleaved)
    return square_a - mean_a * mean_a, square_b - mean_b * mean_b


def _ranked_mean(rank_by: np.ndarray, measure: np.ndarray, fraction: float, largest: bool) -> float:
    """Mean of `measure` over the tiles that rank highest (or lowest) in `rank_by`."""
    k = max(1, round(rank_by.size * fraction))
    order = np.argsort(-rank_by if largest else rank_by, kind="stable")[:k]
    return float(measure[order].mean())


def _cross_mean(
    a: np.ndarray, b: np.ndarray, rank_a: np.ndarray, rank_b: np.ndarray, fraction: float, largest: bool
) -> float:
    # Tiles are chosen on one half and measured on the other: choosing the busiest (or quietest)
    # tiles and measuring them on the same pixels would count the noise's own luck.
    return 0.5 * (_ranked_mean(rank_a, b, fraction, largest) + _ranked_mean(rank_b, a, fraction, largest))


def measure_quality(image: Image.Image, full_size: tuple[int, int]) -> TechnicalQuality:
    grey = _analysis_grey(image)
    hist = np.asarray(grey.histogram(), dtype=np.float64)
    total = hist.sum()
    brightness = float(hist @ np.arange(256) / total / 255.0)
    clipped = float(hist[_CLIP_HIGH:].sum() / total)
    crushed = float(hist[: _CLIP_LOW + 1].sum() / total)
    width, height = int(full_size[0]), int(full_size[1])

    g = np.asarray(grey, dtype=np.float32)
    if min(g.shape) < 6:
        return TechnicalQuality(0.0, clipped, crushed, brightness, 0.0, width, height)
    # Second differences along each axis: their sum is the Laplacian, their product Immerkaer's kernel.
    dxx = g[:, :-2] - 2.0 * g[:, 1:-1] + g[:, 2:]
    dyy = g[:-2, :] - 2.0 * g[1:-1, :] + g[2:, :]
    lap = dxx[1:-1, :] + dyy[:, 1:-1]
    immerkaer = np.abs(dxx[:-2, :] - 2.0 * dxx[1:-1, :] + dxx[2:, :])
    centre = g[1:-1, 1:-1]

    imm_a, imm_b = _tile_halves(immerkaer, interleaved=False)
    # Clipped tiles are flat because the signal is gone, not because the sensor is clean.
    unclipped = ((centre > _CLIP_LOW) & (centre < _CLIP_HIGH)).astype(np.float32)
    unclipped_a, unclipped_b = _tile_halves(unclipped, interleaved=False)
    noise, floor = 0.0, 0.0
    usable = (unclipped_a > 0.9) & (unclipped_b > 0.9)
    if usable.any():
        ia, ib = imm_a[usable], imm_b[usable]
        # sigma = sqrt(pi/2) / 6 * mean|I * M|  (Immerkaer 1996, M = outer([1,-2,1], [1,-2,1]))
        noise = float(np.sqrt(np.pi / 2.0) / 6.0 * _cross_mean(ia, ib, ia, ib, _FLATTEST_FRACTION, largest=False))
        # Noise alone has Laplacian variance; where the image is flattest that is all there is. Upper and
        # lower halves share no kernel rows, so the flat tiles' own noise does not bias the floor low.
        var_a, var_b = _tile_variances(lap, interleaved=False)
        floor = _cross_mean(var_a[usable], var_b[usable], ia, ib, _FLATTEST_FRACTION, largest=False)
    # Shallow depth of field blurs most of the frame on purpose: judge focus where the image is sharpest.
    # Even and odd rows see the same edges, so a thin horizon counts in both.
    var_a, var_b = _tile_variances(lap, interleaved=True)
    top = _cross_mean(var_a, var_b, var_a, var_b, _SHARPEST_FRACTION, largest=True)
    return TechnicalQuality(max(0.0, top - floor), clipped, crushed, brightness, noise, width, height)


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
