"""The "Aesthete score" node: ComfyUI's IMAGE batch (a float tensor [B, H, W, C] in 0..1) in,
one score per image (a FLOAT list) and a one-line summary (a STRING) out.

Everything but the tensor's conversion is Aesthete's: its settings file and AESTHETE_* variables
(weights, device, precision), its weights cache, preprocessing and engine, so an image's score here
equals `aesthete score` on the same image saved losslessly (as ComfyUI's Save Image writes a PNG).
Aesthete must be installed in ComfyUI's Python (pip install aesthete, or this repository).
"""
from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from PIL import Image

MODELS = ["v2.5", "laion-v2"]  # the first is the default
PRECISIONS = ["default", "fp32", "bf16", "fp16", "int8"]  # default: Aesthete's precision setting

_holders: dict = {}  # loaded models, kept between runs of the workflow (one per model and setting)
_lock = threading.Lock()


def to_pil(image) -> "Image.Image":
    """One image of a batch as 8-bit RGB, converted exactly as ComfyUI's Save Image converts it."""
    from PIL import Image

    arr = np.clip(255.0 * image.detach().cpu().float().numpy(), 0, 255).astype(np.uint8)
    if arr.ndim == 2:
        arr = np.stack([arr] * 3, axis=-1)
    if arr.shape[-1] == 1:
        arr = np.repeat(arr, 3, axis=-1)
    return Image.fromarray(arr[..., :3], "RGB")


def scorer_for(model: str, precision: str):
    """Aesthete's scorer for this model and precision, loaded once (the weights as the settings
    and AESTHETE_* variables name them, downloaded to Aesthete's cache when missing)."""
    from app.config import settings as settings_mod
    from app.library import ModelHolder

    overrides = {"model": model, "precision": None if precision == "default" else precision}
    settings = settings_mod.load(overrides=overrides)
    # One loaded model per value of the settings that reload it (weights, device, precision...).
    wanted = repr([(name, settings.values[name]) for name, s in settings_mod.REGISTRY.items()
                   if s.effect == settings_mod.MODEL])
    with _lock:
        holder = _holders.get(wanted)
        if holder is None:
            holder = _holders[wanted] = ModelHolder(settings)
        return holder.get()


def summary(model: str, label: str, scores: list[float]) -> str:
    if not scores:
        return f"Aesthete {model}: no image"
    text = ", ".join(f"{s:.2f}" for s in scores)
    return (f"Aesthete {model} ({label}): {text}"
            + (f" (mean {sum(scores) / len(scores):.2f})" if len(scores) > 1 else ""))


class AestheteScore:
    """Aesthetic scores of an image batch."""

    CATEGORY = "image/analysis"
    FUNCTION = "score"
    RETURN_TYPES = ("FLOAT", "STRING")
    RETURN_NAMES = ("scores", "summary")
    OUTPUT_IS_LIST = (True, False)
    DESCRIPTION = ("Aesthetic score of each image (Aesthetic Predictor V2.5 about 1-10, good above 5.5; "
                   "LAION aesthetic predictor V2 about 1-10), with Aesthete's settings and weights.")

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "images": ("IMAGE",),
            "model": (MODELS, {"default": MODELS[0]}),
            "precision": (PRECISIONS, {"default": PRECISIONS[0]}),
        }}

    def score(self, images, model: str = MODELS[0], precision: str = PRECISIONS[0]):
        if model not in MODELS:
            raise ValueError(f"unknown model {model!r} ({', '.join(MODELS)})")
        if precision not in PRECISIONS:
            raise ValueError(f"unknown precision {precision!r} ({', '.join(PRECISIONS)})")
        if images.ndim == 3:  # one image without its batch axis
            images = images[None]
        scorer = scorer_for(model, precision)
        scores = [float(s) for s in scorer.score_images([to_pil(im) for im in images])]
        return (scores, summary(model, scorer.label, scores))


NODE_CLASS_MAPPINGS = {"AestheteScore": AestheteScore}
NODE_DISPLAY_NAME_MAPPINGS = {"AestheteScore": "Aesthete score"}
