"""Each model's preprocessing, as its upstream image processor does it.

V2.5 (SigLIP): resize to 384x384 with bicubic resampling (aspect ratio not kept), rescale by 1/255
and normalise with mean and std 0.5, channels first. LAION V2 (CLIP ViT-L/14, CLIPImageProcessor):
shortest side to 224 bicubic, centre crop 224x224, rescale, normalise with CLIP's mean and std.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

from app.config.models import V2_5

IMAGE_SIZE = 384
CLIP_SIZE = 224
CLIP_MEAN = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32)
CLIP_STD = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32)


def pixel_values(image: Image.Image, size: int = IMAGE_SIZE) -> np.ndarray:
    """A float32 array (3, size, size) ready for the SigLIP vision tower."""
    if image.mode != "RGB":
        image = image.convert("RGB")
    resized = image.resize((size, size), Image.Resampling.BICUBIC)
    arr = np.asarray(resized, dtype=np.float32)
    arr = arr * np.float32(1 / 255)
    arr = (arr - np.float32(0.5)) / np.float32(0.5)
    return np.ascontiguousarray(arr.transpose(2, 0, 1))


def clip_pixel_values(image: Image.Image, size: int = CLIP_SIZE) -> np.ndarray:
    """A float32 array (3, size, size) ready for CLIP's vision tower (as transformers'
    CLIPImageProcessor: the short side to `size`, the long one truncated, crop from the centre)."""
    if image.mode != "RGB":
        image = image.convert("RGB")
    w, h = image.size
    if w <= h:
        new_w, new_h = size, int(size * h / w)
    else:
        new_w, new_h = int(size * w / h), size
    resized = image.resize((new_w, new_h), Image.Resampling.BICUBIC)
    top, left = (new_h - size) // 2, (new_w - size) // 2
    arr = np.asarray(resized, dtype=np.float32)[top:top + size, left:left + size]
    arr = arr * np.float32(1 / 255)
    arr = (arr - CLIP_MEAN) / CLIP_STD
    return np.ascontiguousarray(arr.transpose(2, 0, 1))


def for_model(model: str):
    """The preprocessing function of a model (app.config.models names them)."""
    return pixel_values if model == V2_5.name else clip_pixel_values
