"""Technical quality of a photo (focus, motion blur, lost highlights and shadows, noise, size) and a
scene hash that survives exposure changes.

Focus is measured as a ratio of fine to coarse detail over the same pixels, so it does not change
with exposure or contrast: a darker frame, a foggy scene or a low-key photo is not read as softer.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields

import imagehash
import numpy as np
from PIL import Image, ImageChops, ImageOps
from scipy import ndimage

ANALYSIS_SIZE = 1024  # long side the metrics are computed at, so values compare across resolutions

_TILES = 16  # per side; 64 px tiles at ANALYSIS_SIZE are small enough to isolate a subject or a flat patch
_SHARPEST_FRACTION = 0.03  # a subject covering ~3% of the frame is enough to call the photo focused
_FLATTEST_FRACTION = 0.10  # texture inflates the noise estimate, so trust only the flattest tiles
_CLIP_HIGH = 250  # JPEG rounding and tone curves keep blown areas a few levels under 255
_CLIP_LOW = 5
_LOST_BLOCK = 8  # px at ANALYSIS_SIZE: clipped pixels count as lost detail in blocks this wide...
_LOST_FILL = 0.9  # ...that are at least this full of them (a specular glint or a lamp is not a patch)
_CLIP_MARGIN = 3  # px around clipped pixels left out of focus: the kink where clipping starts is no edge
_KEPT_TILE = 0.5  # a tile judges the photo's own focus when at least half of it is left after clipping
# ...and joins the tiles frames of a scene are compared on only when (nearly) none of it is clipped: which
# tiles clip differs between exposures, and a comparison must leave them out of both frames.
_CLEAN_TILE = 0.98
_REBLUR = 2.0  # px: the second look at each tile, blurred this much, that focus is measured against
_ANGLES = np.linspace(0.0, np.pi, 8, endpoint=False)  # directions the smear of motion blur is looked for in
_WELL_EXPOSED = np.exp(-((np.arange(256) / 255.0 - 0.5) ** 2) / (2 * 0.2**2))  # sigma 0.2, as in exposure fusion
_HASH_SIZE = 256  # long side for hashing: enough detail for the 32x32 DCT, cheap to equalise


@dataclass(frozen=True)
class TechnicalQuality:
    # Fine detail over coarse detail on the same tiles (dimensionless; higher is sharper). Exposure and
    # contrast scale both alike, so frames of one scene compare on it whatever their exposure.
    focus: float
    # Blur width in pixels at ANALYSIS_SIZE where the photo is sharpest (3% of its detailed tiles);
    # None when nothing in the frame has detail to judge (a blank wall, a black frame).
    blur_px: float | None
    motion_px: float  # extra blur along the worst direction over the best (a smear), in px at ANALYSIS_SIZE
    motion_angle: float  # direction of that smear in degrees anticlockwise, 0 = horizontal
    motion_ratio: float  # blur along the worst direction over the best (1 = no direction stands out)
    clipped_highlights: float  # fraction of the frame in white patches with no detail left
    crushed_shadows: float  # fraction of the frame in black patches with no detail left
    brightness: float  # mean luminance, 0..1
    # Mean closeness of each pixel to middle grey (Mertens, Kautz and Van Reeth's well-exposedness, 0..1):
    # frames of one scene compare on it, where a dark or bright photo alone is no fault.
    exposedness: float
    noise: float  # noise sigma in 0..255 units (Immerkaer), over the flattest tiles
    width: int  # full-resolution pixel size
    height: int
    # Focus of each tile (see _encode_tiles), so frames of one scene compare on the tiles both can judge.
    focus_tiles: bytes | None = field(default=None, repr=False)

    @property
    def megapixels(self) -> float:
        return self.width * self.height / 1e6

    def to_dict(self) -> dict:
        d = asdict(self)
        d["focus_tiles"] = None if self.focus_tiles is None else self.focus_tiles.hex()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> TechnicalQuality:
        values: dict = {}
        for f in fields(cls):
            v = d.get(f.name)
            if f.name == "focus_tiles":
                values[f.name] = bytes.fromhex(v) if isinstance(v, str) else (None if v is None else bytes(v))
            elif v is None:
                if f.name != "blur_px":
                    raise KeyError(f.name)
                values[f.name] = None
            else:
                values[f.name] = int(v) if f.name in ("width", "height") else float(v)
        return cls(**values)


@dataclass(frozen=True)
class Fault:
    """Something wrong with a photo, in the user's words, under the cull rule it belongs to."""

    rule: str  # "blur" | "exposure"
    text: str


@dataclass(frozen=True)
class QualityThresholds:
    """Where a measurement spoils a photo on its own (no better frame of the scene to compare with).

    The defaults are the settings' (app.config.settings), measured with tests/bench/bench_judgement.py on
    the real photos of ../shared/real (GoPro blurred/sharp pairs, a tripod exposure bracket, under- and
    over-exposed photos, scikit-image's photos with a real camera shake) and on the 13 sample photos
    (1600 px) with Gaussian blur, box motion blur and exposure changes; tests/unit/test_quality.py
    repeats them.
    """

    # Sharpest part of sharp real photos: 0.0-0.54 px (the samples 1 EV over or 2 under too); a 3 px
    # Gaussian blur of the 1600 px sample photos 0.59-1.82. Only photos with nothing sharp anywhere are
    # out of focus alone.
    out_of_focus_px: float = 0.7
    # Smear beyond the sharpest direction, measured on the sharper half of the photo's tiles: sharp real
    # photos 0.0-0.58 px (a yellow flower before a soft background; window blinds 0.33), the samples 1 EV
    # over or 2 under at most 0.68; real camera shakes 0.96 (a GoPro frame) and 4.1 (a clock); a 15 px
    # box smear of the sample photos 0.8-2.4.
    motion_px: float = 0.9
    # ...with the worst direction at least this much blurrier than the best (an even blur measures 1.0-1.2).
    motion_ratio: float = 1.5
    # White patches with no detail, as a share of the frame: normal exposures 0-3%, a real +4 EV bracket
    # frame 12%, real over-exposed photos 10-46%. An overcast sky that keeps its grey is not clipped.
    lost_highlights: float = 0.10
    # Mean luminance: a real -4.7 EV bracket frame 0.01; dark but readable night and low-key photos 0.07-0.15.
    nearly_black: float = 0.03
    nearly_white: float = 0.97


def _analysis_images(image: Image.Image) -> tuple[Image.Image, Image.Image]:
    """The photo at ANALYSIS_SIZE as luminance, and as its brightest channel (where clipping shows first:
    a red flower whose red channel is blown has lost its texture though its luminance has not)."""
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    factor = max(rgb.size) // ANALYSIS_SIZE
    if factor > 1:
        rgb = rgb.reduce(factor)  # a box filter: cheap on large decodes, and it antialiases
    scale = ANALYSIS_SIZE / max(rgb.size)
    if scale < 1.0:
        size = (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale)))
        rgb = rgb.resize(size, Image.Resampling.BILINEAR)
    r, g, b = rgb.split()
    return rgb.convert("L"), ImageChops.lighter(ImageChops.lighter(r, g), b)


def _analysis_grey(image: Image.Image) -> Image.Image:
    return _analysis_images(image)[0]


def _grid(shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """Tiles per side (at most _TILES, at least 8 px wide) and their size."""
    h, w = shape
    ny, nx = max(1, min(_TILES, h // 8)), max(1, min(_TILES, w // 8))
    return ny, nx, h // ny, w // nx


def _tile_means(values: np.ndarray, grid: tuple[int, int, int, int]) -> np.ndarray:
    ny, nx, th, tw = grid
    sums = values[: ny * th, : nx * tw].reshape(ny, th, nx, tw).sum(axis=3).sum(axis=1)
    return sums.ravel().astype(np.float64) / (th * tw)


def _tile_halves(values: np.ndarray, interleaved: bool) -> tuple[np.ndarray, np.ndarray]:
    """Means of `values` over two halves of each tile of the grid: even and odd rows, or upper and lower."""
    ny, nx, th, tw = _grid(values.shape)
    th = th // 2 * 2
    tiles = values[: ny * th, : nx * tw].reshape(ny, th, nx, tw)
    a, b = (tiles[:, 0::2], tiles[:, 1::2]) if interleaved else (tiles[:, : th // 2], tiles[:, th // 2 :])
    return a.mean(axis=(1, 3)).ravel(), b.mean(axis=(1, 3)).ravel()


def _ranked_mean(rank_by: np.ndarray, measure: np.ndarray, fraction: float, largest: bool) -> float:
    """Mean of `measure` over the tiles that rank highest (or lowest) in `rank_by`."""
    k = max(1, round(rank_by.size * fraction))
    order = np.argsort(-rank_by if largest else rank_by, kind="stable")[:k]
    return float(measure[order].mean())


def _noise_sigma(g: np.ndarray) -> float:
    """Immerkaer's noise estimate over the flattest unclipped tiles, chosen on one half of each tile and
    measured on the other (choosing and measuring the same pixels would count the noise's own luck)."""
    dxx = g[:, :-2] - 2.0 * g[:, 1:-1] + g[:, 2:]
    immerkaer = np.abs(dxx[:-2, :] - 2.0 * dxx[1:-1, :] + dxx[2:, :])
    centre = g[1:-1, 1:-1]
    imm_a, imm_b = _tile_halves(immerkaer, interleaved=False)
    # Clipped tiles are flat because the signal is gone, not because the sensor is clean.
    unclipped = ((centre > _CLIP_LOW) & (centre < _CLIP_HIGH)).astype(np.float32)
    unclipped_a, unclipped_b = _tile_halves(unclipped, interleaved=False)
    usable = (unclipped_a > 0.9) & (unclipped_b > 0.9)
    if not usable.any():
        return 0.0
    ia, ib = imm_a[usable], imm_b[usable]
    flat = 0.5 * (_ranked_mean(ia, ib, _FLATTEST_FRACTION, False) + _ranked_mean(ib, ia, _FLATTEST_FRACTION, False))
    # sigma = sqrt(pi/2) / 6 * mean|I * M|  (Immerkaer 1996, M = outer([1,-2,1], [1,-2,1]))
    return float(np.sqrt(np.pi / 2.0) / 6.0 * flat)


def _reblur_gains() -> tuple[float, float, float]:
    """What white noise of unit variance adds to the coarse gradient products (xx, yy, xy)."""
    impulse = np.zeros((25, 25), np.float64)
    impulse[12, 12] = 1.0
    kx, ky = _gradient(ndimage.gaussian_filter(impulse, _REBLUR, truncate=3.0))
    return float((kx * kx).sum()), float((ky * ky).sum()), float((kx * ky).sum())


def _gradient(g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Differences across each 2x2 block, both centred on the block's middle, so every direction between
    them is measured alike (forward differences from one corner see one diagonal sharper than the other).
    Cropped to line up with the second differences' centre pixels."""
    g = g[:-1, :-1]
    diagonal = g[1:, 1:] - g[:-1, :-1]  # fx = ((b - a) + (d - c)) / 2 = (diagonal + anti) / 2, fy alike
    anti = g[:-1, 1:] - g[1:, :-1]
    return 0.5 * (diagonal + anti), 0.5 * (diagonal - anti)


_REBLUR_GAIN = _reblur_gains()
_COS, _SIN = np.cos(_ANGLES)[:, None], np.sin(_ANGLES)[:, None]


def _along(xx: np.ndarray, yy: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """A 2x2 tensor's energy along each of _ANGLES: one row per angle, one column per tile."""
    return _COS**2 * xx + 2.0 * _COS * _SIN * xy + _SIN**2 * yy


def _blur_width(fine: np.ndarray, coarse: np.ndarray) -> np.ndarray:
    # An edge blurred by s px has gradient energy ~ 1/s; blurred again by _REBLUR it has ~ 1/sqrt(s^2 + R^2).
    # So s = R / sqrt(ratio^2 - 1) with ratio = fine / coarse energy (Zhuo & Sim's re-blur idea,
    # in energies summed over a tile instead of at single edges).
    ratio = np.maximum(fine, 1e-12) / np.maximum(coarse, 1e-12)
    # Fine energy at or under the coarse one: no detail finer than the reblur at all (capped at 16 px).
    return np.minimum(_REBLUR / np.sqrt(np.maximum(ratio * ratio - 1.0, 1e-6)), 16.0)


@dataclass(frozen=True)
class _Focus:
    focus: float
    blur_px: float | None
    motion_px: float
    motion_angle: float
    motion_ratio: float
    tiles: bytes | None = None


# A tile's focus and weight are kept as one byte each on a log scale: focus from 2^-8 to 2^8 in steps of
# 2^(1/16) (4%), weight from 2^-24 to 2^8 in steps of 2^(1/8); 0 marks a tile that judges nothing.
def _encode_tiles(ratio: np.ndarray, weight: np.ndarray, valid: np.ndarray) -> bytes:
    ok = valid & (ratio > 0) & (weight > 0)
    r = np.clip(np.round((np.log2(np.where(ok, ratio, 1.0)) + 8.0) * 16.0), 1, 255)
    w = np.clip(np.round((np.log2(np.where(ok, weight, 1.0)) + 24.0) * 8.0), 1, 255)
    return np.concatenate([np.where(ok, r, 0), np.where(ok, w, 0)]).astype(np.uint8).tobytes()


def _decode_tiles(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    raw = np.frombuffer(data, dtype=np.uint8)
    half = raw.size // 2
    r, w = raw[:half].astype(np.float64), raw[half:].astype(np.float64)
    valid = (r > 0) & (w > 0)
    return np.where(valid, 2.0 ** (r / 16.0 - 8.0), 0.0), np.where(valid, 2.0 ** (w / 8.0 - 24.0), 0.0)


# Tiles both frames judge, as a share of either frame's judged weight, needed to compare their focus.
_COMMON_SHARE = 0.2
_SAME_SHAPE = 0.05  # aspect ratios further apart than this (log) are not compared tile by tile


def relative_focus(reference: TechnicalQuality, other: TechnicalQuality) -> float | None:
    """`other`'s focus as a share of `reference`'s, over the tiles both can judge (a darker frame's
    shadows and a brighter one's clipped highlights are left out of both); None when too few tiles are
    judged by both to say. Without tiles (older measurements) the whole-frame focus is compared."""
    if reference.focus_tiles is None or other.focus_tiles is None or \
            len(reference.focus_tiles) != len(other.focus_tiles):
        return other.focus / reference.focus if reference.focus > 0 else None
    if abs(math.log(max(reference.width, 1) * max(other.height, 1) /
                    (max(reference.height, 1) * max(other.width, 1)))) > _SAME_SHAPE:
        return None  # a crop or the other orientation: tile i covers another part of the scene
    ra, wa = _decode_tiles(reference.focus_tiles)
    rb, wb = _decode_tiles(other.focus_tiles)
    common = np.minimum(wa, wb)
    both = common > 0
    if not both.any() or common.sum() < _COMMON_SHARE * min(wa.sum(), wb.sum()):
        return None
    base = float((common * ra).sum())
    return float((common * rb).sum()) / base if base > 0 else None


def _measure_focus(g: np.ndarray, noise: float, brightest: np.ndarray | None = None) -> _Focus:
    var = noise * noise + 1.0 / 12.0  # 8-bit rounding adds its own noise, which darker frames show as contouring
    centre = g[1:-1, 1:-1]
    grid = _grid(centre.shape)
    # Fine detail: first and second differences at full size.
    fx, fy = _gradient(g)
    dxx = g[1:-1, :-2] - 2.0 * centre + g[1:-1, 2:]
    dyy = g[:-2, 1:-1] - 2.0 * centre + g[2:, 1:-1]
    dxy = 0.25 * (g[2:, 2:] - g[2:, :-2] - g[:-2, 2:] + g[:-2, :-2])
    smooth = ndimage.gaussian_filter(g, _REBLUR, truncate=3.0)
    cx, cy = _gradient(smooth)
    # Clipped pixels and their neighbours say nothing about focus: the kink where a clipped patch
    # begins would read as a sharp edge in any frame, and the patch itself as no detail at all.
    clipped = ((g if brightest is None else brightest) >= _CLIP_HIGH) | (g <= _CLIP_LOW)
    keep = None
    if clipped.any():
        near = ndimage.maximum_filter(clipped.view(np.uint8), size=2 * _CLIP_MARGIN + 1)[1:-1, 1:-1]
        keep = (near == 0).astype(np.float32)
        fx, fy, dxx, dyy, dxy, cx, cy = (a * keep for a in (fx, fy, dxx, dyy, dxy, cx, cy))
    t = {name: _tile_means(a, grid) for name, a in (
        ("fxx", fx * fx), ("fyy", fy * fy), ("fxy", fx * fy),
        ("xxxx", dxx * dxx), ("yyyy", dyy * dyy), ("xyxy", dxy * dxy), ("xxyy", dxx * dyy),
        ("cxx", cx * cx), ("cyy", cy * cy), ("cxy", cx * cy))}
    kept = _tile_means(keep, grid) if keep is not None else np.ones(grid[0] * grid[1])
    level = _tile_means(centre * keep if keep is not None else centre, grid)
    share = np.maximum(kept, 1e-6)
    t = {name: v / share for name, v in t.items()}  # means over the pixels kept
    level = level / share
    c, s = _COS, _SIN
    gx, gy, gxy = _REBLUR_GAIN
    # Energies along each direction less what noise alone puts there (white noise of variance var: the
    # 2x2 differences var in every direction; [1,-2,1] 6 var, two of them 4 var together; the cross
    # difference var/4).
    fine = np.maximum(_along(t["fxx"], t["fyy"], t["fxy"]) - var, 0.0)
    coarse = np.maximum(_along(t["cxx"], t["cyy"], t["cxy"]) - var * (c * c * gx + 2 * c * s * gxy + s * s * gy), 0.0)
    # The second derivative's energy averaged over all directions (the odd cross terms average out).
    second = np.maximum(0.375 * (t["xxxx"] + t["yyyy"]) + 0.5 * t["xyxy"] + 0.25 * t["xxyy"] - 5.625 * var, 0.0)
    # A tile judges focus when it has detail above the noise and no clipped patch (whose hard border
    # with the rest would read as a sharp edge in any frame).
    detail = coarse.mean(axis=0)
    detailed = detail > 0.01 + 4.0 * var * (gx + gy) / 2.0
    valid = (kept >= _KEPT_TILE) & detailed
    if not valid.any():
        return _Focus(0.0, None, 0.0, 0.0, 1.0)
    # Tiles weigh by their contrast relative to their own brightness (Weber), which a change of exposure
    # leaves alone in gamma-encoded pixels; weighing by raw contrast would let a darker frame's bright
    # tiles decide its focus and a brighter frame's dark ones.
    weber = 1.0 / (level[valid] + 8.0) ** 2
    ratio = second / np.maximum(detail, 1e-12)
    weight = detail * (1.0 / (level + 8.0) ** 2)
    focus = float((second[valid] * weber).sum() / (detail[valid] * weber).sum())
    widths = _blur_width(fine[:, valid].sum(axis=0), coarse[:, valid].sum(axis=0))
    k = max(2, round(widths.size * _SHARPEST_FRACTION)) if widths.size >= 2 else 1
    blur_px = float(np.sort(widths)[:k].mean())
    # The direction of a smear shows best where the photo is sharpest: a shake smears every tile alike,
    # while a soft background (bokeh behind a sharp flower) only adds its own uneven blur.
    sharpest = np.flatnonzero(valid)[widths <= np.median(widths)]
    along = _blur_width(fine[:, sharpest].sum(axis=1), coarse[:, sharpest].sum(axis=1))
    worst, best = int(np.argmax(along)), float(along.min())
    smear = math.sqrt(max(float(along[worst]) ** 2 - best * best, 0.0))
    # Gradients are weak along the smear: the direction with the widest blur is the motion's (rows run
    # down the image, so the angle is turned to count anticlockwise from the horizontal as usual).
    angle = (180.0 - float(np.degrees(_ANGLES[worst]))) % 180.0
    return _Focus(focus, blur_px, smear, angle, float(along[worst] / max(best, 1e-6)),
                  _encode_tiles(ratio, weight, (kept >= _CLEAN_TILE) & detailed))


def region_focus(grey: np.ndarray) -> tuple[float, float | None] | None:
    """Focus of one region (a face's box) with the photo's own measure: the exposure-independent fine to
    coarse ratio and the blur width in px at the region's size; None when it is too small to judge."""
    g = np.asarray(grey, dtype=np.float32)
    if g.ndim != 2 or min(g.shape) < 32:
        return None
    f = _measure_focus(g, _noise_sigma(g))
    return f.focus, f.blur_px


def _lost_fraction(mask: np.ndarray) -> float:
    """Fraction of the frame in clipped patches: blocks of _LOST_BLOCK px nearly all clipped, so a lamp
    or a glint (detail no photographer misses) does not count."""
    if not mask.any():
        return 0.0
    h, w = mask.shape[0] // _LOST_BLOCK * _LOST_BLOCK, mask.shape[1] // _LOST_BLOCK * _LOST_BLOCK
    if h == 0 or w == 0:
        return float(mask.mean())
    blocks = mask[:h, :w].reshape(h // _LOST_BLOCK, _LOST_BLOCK, w // _LOST_BLOCK, _LOST_BLOCK).mean(axis=(1, 3))
    return float(np.where(blocks >= _LOST_FILL, blocks, 0.0).mean())


def measure_quality(image: Image.Image, full_size: tuple[int, int]) -> TechnicalQuality:
    grey, brightest = _analysis_images(image)
    hist = np.asarray(grey.histogram(), dtype=np.float64)
    brightness = float(hist @ np.arange(256) / hist.sum() / 255.0)
    exposedness = float(hist @ _WELL_EXPOSED / hist.sum())
    width, height = int(full_size[0]), int(full_size[1])
    pixels = np.asarray(grey)
    lost_high = _lost_fraction(pixels >= _CLIP_HIGH)
    lost_low = _lost_fraction(pixels <= _CLIP_LOW)
    g = pixels.astype(np.float32)
    if min(g.shape) < 32:
        return TechnicalQuality(0.0, None, 0.0, 0.0, 1.0, lost_high, lost_low, brightness, exposedness, 0.0,
                                width, height)
    noise = _noise_sigma(g)
    f = _measure_focus(g, noise, np.asarray(brightest))
    return TechnicalQuality(f.focus, f.blur_px, f.motion_px, f.motion_angle, f.motion_ratio,
                            lost_high, lost_low, brightness, exposedness, noise, width, height, f.tiles)


def _percent(fraction: float) -> str:
    return f"{max(1, round(fraction * 100))}%"


def exposure_faults(q: TechnicalQuality, t: QualityThresholds = QualityThresholds()) -> list[Fault]:
    if q.brightness < t.nearly_black:
        return [Fault("exposure", "nearly black")]
    if q.brightness > t.nearly_white:
        return [Fault("exposure", "nearly white")]
    if q.clipped_highlights >= t.lost_highlights:
        return [Fault("exposure", f"highlights lost on {_percent(q.clipped_highlights)} of the frame")]
    return []


def is_motion_blurred(q: TechnicalQuality, t: QualityThresholds = QualityThresholds()) -> bool:
    """A smear in one direction, much more than across it (an even blur is defocus)."""
    return q.motion_px >= t.motion_px and q.motion_ratio >= t.motion_ratio


def blur_faults(q: TechnicalQuality, t: QualityThresholds = QualityThresholds()) -> list[Fault]:
    if _blank(q, t):
        return []
    if is_motion_blurred(q, t):
        return [Fault("blur", "motion blur")]
    if q.blur_px is not None and q.blur_px >= t.out_of_focus_px:
        return [Fault("blur", "out of focus")]
    return []


def faults(q: TechnicalQuality, t: QualityThresholds = QualityThresholds()) -> list[Fault]:
    """Faults that spoil a photo on its own: blur over the whole frame, nearly black or white, large
    areas of lost highlights. Size and grain are shown, never faults; dark or bright alone is no fault."""
    return blur_faults(q, t) + exposure_faults(q, t)


def _blank(q: TechnicalQuality, t: QualityThresholds) -> bool:
    # In a nearly black or white frame the little left is 8-bit steps and noise, and where large areas
    # are clipped the rest is too little of the scene: its exposure is what is wrong, not its focus.
    return bool(exposure_faults(q, t))


def scene_hash(image: Image.Image) -> int:
    """64-bit pHash of the equalised greyscale image, so exposure variants of a scene hash alike."""
    grey = image.convert("L")
    grey.thumbnail((_HASH_SIZE, _HASH_SIZE), Image.Resampling.BILINEAR, reducing_gap=2.0)
    bits = imagehash.phash(ImageOps.equalize(grey)).hash.ravel()
    return int("".join("1" if b else "0" for b in bits), 2)


def hamming(a: int, b: int) -> int:
    # Masking makes hashes stored as signed 64-bit integers (SQLite) compare the same as unsigned ones.
    return ((a ^ b) & 0xFFFF_FFFF_FFFF_FFFF).bit_count()
