"""Load the Aesthetic Predictor V2.5: a SigLIP vision encoder plus a small head, under PyTorch.

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



def load_head(path: Path) -> AestheticHead:
    """Load and check the head's state dict (saved on CUDA upstream, so mapped to the CPU)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        # torch's own words (an unpickling error code, a paragraph on weights_only) tell a user nothing
        raise ModelInvalidError(
            f"{path} is not a PyTorch weights file (damaged, or another kind of file under this name); "
            "the head is aesthetic_predictor_v2_5.pth") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ModelInvalidError(f"{path} does not hold a state dict")
    missing = sorted(set(HEAD_SHAPES) - set(state))
    if missing:
        raise ModelInvalidError(
            f"{path} is not an Aesthetic Predictor V2.5 head: missing {', '.join(missing[:4])}")
    for key, shape in HEAD_SHAPES.items():
        got = tuple(getattr(state[key], "shape", ()))
        if got != shape:
            raise ModelInvalidError(f"{path}: {key} has shape {got}, expected {shape}")
    for key in HEAD_SHAPES:
        bad = int((~torch.isfinite(state[key].float())).sum())
        if bad:
            # Such a head scores every photo NaN or infinity: refused here, before anything is scored.
            raise ModelInvalidError(
                f"the head {path} is damaged: {key} holds {bad} NaN or infinite value{'s' if bad != 1 else ''}. "
                "Get a good copy of aesthetic_predictor_v2_5.pth (leave --head unset to download it).")
    head = AestheticHead()
    head.load_state_dict({k: state[k].float() for k in HEAD_SHAPES})
    return head.eval()


def load_encoder(folder: Path, dtype: torch.dtype = torch.float32) -> nn.Module:
    """The SigLIP vision tower from a checked folder (a full SigLIP checkpoint works too)."""
    from transformers import SiglipVisionModel

    library_logs_to_logging()
    try:
        model = SiglipVisionModel.from_pretrained(str(folder), attn_implementation="sdpa")
    except Exception as exc:
        raise ModelInvalidError(f"cannot load the SigLIP encoder from {folder}: {_short(exc)}") from None
    if dtype != torch.float32:
        model = model.to(dtype)
    return model.eval()
