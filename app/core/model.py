"""Load an aesthetic model under PyTorch: the Aesthetic Predictor V2.5 (a SigLIP vision encoder plus
a small head) or the LAION aesthetic predictor V2 (CLIP ViT-L/14's image embedding into an MLP).

Finding and checking the weights (and the model key they make) is torch-free, in app.core.weights;
its names are repeated here for the callers that load what they find.
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path

import torch
from torch import nn

from app.errors import ModelInvalidError
from app.config.models import LAION_V2, MODELS, V2_5
from app.core.weights import (  # noqa: F401  (the names callers reach through this module)
    EMBED_DIM, ENCODER_FILES, HEAD_SHA256, HUB_OFFLINE, NOT_DOWNLOADED, OFFLINE, EncoderSource, HeadSource,
    Progress, _short, download, download_problem, file_sha256, head_cache_path, resolve_encoder, resolve_head,
)

log = logging.getLogger(__name__)

HEAD_SHAPES = {
    "scoring_head.0.weight": (1024, EMBED_DIM), "scoring_head.0.bias": (1024,),
    "scoring_head.2.weight": (128, 1024), "scoring_head.2.bias": (128,),
    "scoring_head.4.weight": (64, 128), "scoring_head.4.bias": (64,),
    "scoring_head.6.weight": (16, 64), "scoring_head.6.bias": (16,),
    "scoring_head.8.weight": (1, 16), "scoring_head.8.bias": (1,),
}
LAION_HEAD_SHAPES = {
    "layers.0.weight": (1024, LAION_V2.embed_dim), "layers.0.bias": (1024,),
    "layers.2.weight": (128, 1024), "layers.2.bias": (128,),
    "layers.4.weight": (64, 128), "layers.4.bias": (64,),
    "layers.6.weight": (16, 64), "layers.6.bias": (16,),
    "layers.7.weight": (1, 16), "layers.7.bias": (1,),
}


def library_logs_to_logging() -> None:
    """What transformers, huggingface_hub and torch report goes through Python logging (so to the
    log file, and to the terminal only with --debug) instead of their own stderr handlers.
    File descriptor 2 itself is never redirected: a fatal message a library prints there while a
    model loads must reach the terminal, and faulthandler's trace the log file (see logsetup)."""
    if "transformers" in sys.modules:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()  # unused text-tower weights are expected, not news
        hf_logging.disable_default_handler()
        hf_logging.enable_propagation()
        hf_logging.disable_progress_bar()
    own = (sys.stderr, sys.__stderr__)
    for name, lib in list(logging.root.manager.loggerDict.items()):
        if not isinstance(lib, logging.Logger) or name.split(".")[0] not in ("torch", "huggingface_hub"):
            continue
        talkers = [h for h in lib.handlers if type(h) is logging.StreamHandler and h.stream in own]
        for handler in talkers:
            lib.removeHandler(handler)
        if talkers:
            lib.propagate = True


class AestheticHead(nn.Module):
    """Upstream's MLP: Linear layers with dropouts and no activations."""

    def __init__(self, dim: int = EMBED_DIM):
        super().__init__()
        self.scoring_head = nn.Sequential(
            nn.Linear(dim, 1024), nn.Dropout(0.5),
            nn.Linear(1024, 128), nn.Dropout(0.5),
            nn.Linear(128, 64), nn.Dropout(0.5),
            nn.Linear(64, 16), nn.Dropout(0.2),
            nn.Linear(16, 1),
        )

    def forward(self, embedding: torch.Tensor) -> torch.Tensor:
        return self.scoring_head(embedding)


class LaionHead(nn.Module):
    """improved-aesthetic-predictor's MLP (its state dict's keys are layers.{0,2,4,6,7}); it reads
    the L2-normalised CLIP image embedding, as upstream's inference script feeds it."""

    def __init__(self, dim: int = LAION_V2.embed_dim):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(dim, 1024), nn.Dropout(0.2),
            nn.Linear(1024, 128), nn.Dropout(0.2),
            nn.Linear(128, 64), nn.Dropout(0.1),
            nn.Linear(64, 16),
            nn.Linear(16, 1),
        )

    def forward(self, embedding: torch.Tensor) -> torch.Tensor:
        return self.layers(embedding)


HEADS = {V2_5.name: (AestheticHead, HEAD_SHAPES), LAION_V2.name: (LaionHead, LAION_HEAD_SHAPES)}


def load_head(path: Path, model: str = V2_5.name) -> nn.Module:
    """Load and check the head's state dict (saved on CUDA upstream, so mapped to the CPU)."""
    spec = MODELS[model]
    head_class, shapes = HEADS[model]
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        # torch's own words (an unpickling error code, a paragraph on weights_only) tell a user nothing
        raise ModelInvalidError(
            f"{path} is not a PyTorch weights file (damaged, or another kind of file under this name); "
            f"the head is {spec.head_file}") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ModelInvalidError(f"{path} does not hold a state dict")
    missing = sorted(set(shapes) - set(state))
    if missing:
        raise ModelInvalidError(
            f"{path} is not an {spec.title} head: missing {', '.join(missing[:4])}")
    for key, shape in shapes.items():
        got = tuple(getattr(state[key], "shape", ()))
        if got != shape:
            raise ModelInvalidError(f"{path}: {key} has shape {got}, expected {shape}")
    for key in shapes:
        bad = int((~torch.isfinite(state[key].float())).sum())
        if bad:
            # Such a head scores every photo NaN or infinity: refused here, before anything is scored.
            raise ModelInvalidError(
                f"the head {path} is damaged: {key} holds {bad} NaN or infinite value{'s' if bad != 1 else ''}. "
                f"Get a good copy of {spec.head_file} (leave --head unset to download it).")
    head = head_class()
    head.load_state_dict({k: state[k].float() for k in shapes})
    return head.eval()


def load_encoder(folder: Path, dtype: torch.dtype = torch.float32, model: str = V2_5.name) -> nn.Module:
    """The vision tower from a checked folder (a full SigLIP or CLIP checkpoint works too): SigLIP's
    for V2.5, CLIP's with its projection for LAION V2."""
    from transformers import CLIPVisionModelWithProjection, SiglipVisionModel

    library_logs_to_logging()
    spec = MODELS[model]
    loader = SiglipVisionModel if spec is V2_5 else CLIPVisionModelWithProjection
    try:
        encoder = loader.from_pretrained(str(folder), attn_implementation="sdpa")
    except Exception as exc:
        raise ModelInvalidError(f"cannot load the {spec.encoder_kind} encoder from {folder}: {_short(exc)}") from None
    if dtype != torch.float32:
        encoder = encoder.to(dtype)
    return encoder.eval()


def image_embedding(output, model: str = V2_5.name) -> torch.Tensor:
    """The embedding a model's head reads, before normalisation: SigLIP's pooled output for V2.5,
    CLIP's projected image embedding (get_image_features) for LAION V2."""
    return output.pooler_output if model == V2_5.name else output.image_embeds
