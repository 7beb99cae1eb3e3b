"""Deterministic synthetic photos and their flawed variants, drawn with Pillow and numpy for the core tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SAMPLE_PHOTOS = Path(__file__).resolve().parents[3] / "shared" / "photos"  # beside the checkout, when there


def scene(seed: int, size: tuple[int, int] = (1200, 800)) -> Image.Image:
    """A textured RGB 'photo': smooth light, multi-scale texture, hard-edged shapes, thin lines."""
    rng = np.random.default_rng(seed)
    w, h = size
    # Low-frequency colour field stands in for sky/ground light falloff.
    coarse = rng.uniform(0.25, 0.75, size=(4, 6, 3)).astype(np.float32)
    base = np.asarray(
        Image.fromarray((coarse * 255).astype(np.uint8)).resize((w, h), Image.Resampling.BICUBIC),
        dtype=np.float32,
    )
    # Texture at several scales gives the roughly 1/f spectrum of real scenes (foliage, fabric).
    for cells, amp in ((24, 22.0), (96, 14.0), (300, 8.0)):
        noise = rng.normal(0.0, 1.0, size=(max(2, cells * h // w), cells)).astype(np.float32)
        layer = np.asarray(
            Image.fromarray(((noise * 40) + 128).clip(0, 255).astype(np.uint8)).resize(
                (w, h), Image.Resampling.BICUBIC
            ),
            dtype=np.float32,
        )
        base += (layer[..., None] - 128.0) / 40.0 * amp
    img = Image.fromarray(base.clip(0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(14, 22))):
        x0, y0 = rng.uniform(-0.1, 1.0) * w, rng.uniform(-0.1, 1.0) * h
        x1 = x0 + rng.uniform(0.05, 0.35) * w
        y1 = y0 + rng.uniform(0.05, 0.35) * h
        colour = tuple(int(c) for c in rng.integers(20, 236, size=3))
        kind = int(rng.integers(0, 3))
        if kind == 0:
            draw.ellipse((x0, y0, x1, y1), fill=colour)
        elif kind == 1:
            draw.rectangle((x0, y0, x1, y1), fill=colour)
        else:
            pts = [(float(rng.uniform(x0, x1)), float(rng.uniform(y0, y1))) for _ in range(5)]
            draw.polygon(pts, fill=colour)
    for _ in range(40):
        x0, y0 = rng.uniform(0, w), rng.uniform(0, h)
        x1, y1 = x0 + rng.normal(0, 80), y0 + rng.normal(0, 80)
        grey = int(rng.integers(0, 256))
        draw.line((x0, y0, x1, y1), fill=(grey, grey, grey), width=int(rng.integers(1, 4)))
    # Mild sensor-like grain so flat shapes are not unnaturally clean.
    arr = np.asarray(img, dtype=np.float32) + rng.normal(0.0, 1.5, size=(h, w, 1)).astype(np.float32)
    return Image.fromarray(arr.clip(0, 255).astype(np.uint8), "RGB")


def shifted(img: Image.Image, dx: int, dy: int) -> Image.Image:
    """The frame a hand-held camera takes a moment later: framing moved by (dx, dy) pixels."""
    w, h = img.size
    return img.crop((max(dx, 0), max(dy, 0), w + min(dx, 0), h + min(dy, 0)))


def cropped(img: Image.Image, keep: float) -> Image.Image:
    """A centred crop keeping `keep` of each side."""
    w, h = img.size
    cw, ch = int(w * keep), int(h * keep)
    left, top = (w - cw) // 2, (h - ch) // 2
    return img.crop((left, top, left + cw, top + ch))


def blurred(img: Image.Image, radius: float) -> Image.Image:
    return img.filter(ImageFilter.GaussianBlur(radius))


def exposed(img: Image.Image, stops: float) -> Image.Image:
    """Exposure changed by `stops` in linear light, clipping like a sensor does."""
    lin = (np.asarray(img, dtype=np.float32) / 255.0) ** 2.2 * (2.0**stops)
    out = lin.clip(0.0, 1.0) ** (1 / 2.2)
    return Image.fromarray((out * 255.0 + 0.5).astype(np.uint8), "RGB")


def black_point(img: Image.Image, level: int) -> Image.Image:
    """Shadows crushed the way a hard contrast curve does: everything under `level` goes black."""
    arr = (np.asarray(img, dtype=np.float32) - level) * (255.0 / (255 - level))
    return Image.fromarray(arr.clip(0, 255).astype(np.uint8), "RGB")


def noisy(img: Image.Image, sigma: float, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    arr = np.asarray(img, dtype=np.float32) + rng.normal(0.0, sigma, size=(img.height, img.width, 3))
    return Image.fromarray(arr.clip(0, 255).astype(np.uint8), "RGB")


def downscaled(img: Image.Image, factor: float) -> Image.Image:
    w, h = img.size
    return img.resize((max(1, round(w * factor)), max(1, round(h * factor))), Image.Resampling.LANCZOS)


def shallow_dof(img: Image.Image, subject: float = 0.3, radius: float = 8.0) -> Image.Image:
    """Background thrown out of focus, a centred subject `subject` of each side wide kept sharp."""
    out = blurred(img, radius)
    w, h = img.size
    box = cropped(img, subject)
    out.paste(box, ((w - box.width) // 2, (h - box.height) // 2))
    return out


def sample_photos() -> list[Path]:
    """Real photos shared with the project, or an empty list where the folder is absent."""
    if not SAMPLE_PHOTOS.is_dir():
        return []
    return sorted(SAMPLE_PHOTOS.glob("*.jpg"))


def motion_blurred(img: Image.Image, length: int, angle: float = 0.0) -> Image.Image:
    """A smear of `length` pixels along `angle` degrees (0 = horizontal): a hand-held camera that moved."""
    from scipy import ndimage

    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2, :] = 1.0
    kernel = ndimage.rotate(kernel, angle, reshape=False, order=1)
    kernel /= kernel.sum()
    arr = np.asarray(img, dtype=np.float32)
    out = np.stack([ndimage.convolve(arr[..., c], kernel, mode="nearest") for c in range(arr.shape[2])], -1)
    return Image.fromarray(out.clip(0, 255).round().astype(np.uint8), "RGB")


def fogged(img: Image.Image, amount: float = 0.6, level: int = 200) -> Image.Image:
    """Fog or haze: the scene faded towards a light grey, detail and edges intact but low in contrast."""
    arr = np.asarray(img, dtype=np.float32) * (1.0 - amount) + level * amount
    return Image.fromarray(arr.clip(0, 255).round().astype(np.uint8), "RGB")


REAL = SAMPLE_PHOTOS.parent / "real"  # labelled real photos beside the checkout, when there


def real_photo(folder: str, name: str) -> Image.Image | None:
    """One of the shared real photos as RGB, or None where the folder is absent."""
    path = REAL / folder / name
    return Image.open(path).convert("RGB") if path.is_file() else None


def real_quality(folder: str, name: str):
    """The technical quality of one of the shared real photos, measured at its own size."""
    from app.core.quality import measure_quality

    img = real_photo(folder, name)
    return measure_quality(img, img.size)
