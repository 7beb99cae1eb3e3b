"""Load the Aesthetic Predictor V2.5: a SigLIP vision encoder plus a small head, under PyTorch.

Finding and checking the weights (and the model key they make) is torch-free, in app.core.weights;
its names are repeated here for the callers that load what they find.
"""
from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from pathlib import Path

import torch
from torch import nn

from app.core.errors import ModelInvalidError
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


@contextlib.contextmanager
def library_noise_to_log():
    """Send what torch, transformers and torchao print while loading (C-level messages and their
    own stderr handlers included) to the log file instead of the user's terminal."""
    if logging.getLogger().isEnabledFor(logging.DEBUG):
        yield  # --debug: let the user see everything
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            noise = sink.read().decode("utf-8", "replace").strip()
            if noise:
                log.info("while loading the model, libraries said:\n%s", noise)


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
    with library_noise_to_log():
        from transformers import SiglipVisionModel
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()  # unused text-tower weights are expected, not news
        hf_logging.disable_progress_bar()
        try:
            model = SiglipVisionModel.from_pretrained(str(folder), attn_implementation="sdpa")
        except Exception as exc:
            raise ModelInvalidError(f"cannot load the SigLIP encoder from {folder}: {_short(exc)}") from None
    if dtype != torch.float32:
        model = model.to(dtype)
    return model.eval()
