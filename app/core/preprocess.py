"""SigLIP preprocessing, bit for bit as the upstream image processor does it.

Resize to 384x384 with bicubic resampling (aspect ratio not kept), rescale by 1/255 and
normalise with mean and std 0.5, channels first.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

IMAGE_SIZE = 384


def pixel_values(image: Image.Image, size: int = IMAGE_SIZE) -> np.ndarray:
    """A float32 array (3, size, size) ready for the SigLIP vision tower."""
    if image.mode != "RGB":
        image = image.convert("RGB")
    resized = image.resize((size, size), Image.Resampling.BICUBIC)
    arr = np.asarray(resized, dtype=np.float32)
    arr = arr * np.float32(1 / 255)
    arr = (arr - np.float32(0.5)) / np.float32(0.5)
    return np.ascontiguousarray(arr.transpose(2, 0, 1))
