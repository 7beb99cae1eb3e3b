"""Search by words and by example over the stored SigLIP image embeddings.

The encoder that scores photos is SigLIP's vision tower; its text tower puts a sentence in the same
space. A match is SigLIP's own logit, exp(logit_scale) * cosine + logit_bias, so its values mean
what they mean in SigLIP (above 0: the model thinks the text fits the picture). Ranking is one
matrix product over the float16 embeddings (figures in tests/bench/bench_search.py).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from app.errors import ModelInvalidError

log = logging.getLogger(__name__)

MAX_TOKENS = 64  # SigLIP was trained on text padded to 64 tokens (transformers' SigLIP docs)


@dataclass(frozen=True)
class Vectors:
    """Photo ids and their L2-normalised embeddings (N, D), float16 as stored."""

    ids: np.ndarray
    matrix: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)


def cosines(vectors: Vectors, query: np.ndarray) -> np.ndarray:
    """Cosine of every stored embedding with a unit vector: one float16 product under torch (numpy
    has no fast float16 product; converting 100,000 rows to float32 first costs more than the product)."""
    if not len(vectors):
        return np.zeros(0, np.float32)
    matrix = torch.from_numpy(vectors.matrix)
    q = torch.from_numpy(np.ascontiguousarray(query, dtype=np.float16))
    return (matrix @ q).float().numpy()


def ranked(values: np.ndarray, limit: int | None = None) -> np.ndarray:
    """Positions of the values, highest first (ties by position, so the order is stable)."""
    if limit is not None and limit < len(values):
        top = np.argpartition(-values, limit - 1)[:limit] if limit > 0 else np.zeros(0, np.int64)
        return top[np.lexsort((top, -values[top]))]
    return np.argsort(-values, kind="stable")


class TextTower:
    """SigLIP's text tower and tokenizer from the encoder's folder (the whole checkpoint), with the
    model's logit scale and bias. Loaded on the first search; call from one thread."""

    def __init__(self, folder: Path, int8: bool = False):
        from transformers import AutoTokenizer, SiglipTextModel

        from app.core.model import library_logs_to_logging

        library_logs_to_logging()
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(folder))
            self.model = SiglipTextModel.from_pretrained(str(folder), attn_implementation="sdpa").eval()
        except (ImportError, ValueError) as exc:
            if "sentencepiece" in str(exc).lower() or "SentencePiece" in str(exc):
                raise ModelInvalidError("text search needs the sentencepiece package: pip install sentencepiece") \
                    from None
            raise ModelInvalidError(f"cannot load SigLIP's text tower from {folder}: {exc}") from None
        except Exception as exc:
            raise ModelInvalidError(f"cannot load SigLIP's text tower from {folder}: {exc}") from None
        self.logit_scale, self.logit_bias = _logit_parameters(folder)
        self.int8 = int8
        if int8:
            quantize(self.model)

    @torch.inference_mode()
    def encode(self, texts: list[str]) -> np.ndarray:
        """L2-normalised float32 text embeddings (N, D), tokenised as SigLIP was trained."""
        tokens = self.tokenizer(texts, padding="max_length", max_length=MAX_TOKENS, truncation=True,
                                return_tensors="pt")
        out = self.model(input_ids=tokens["input_ids"])
        pooled = out.pooler_output.float()
        return (pooled / pooled.norm(dim=-1, keepdim=True)).numpy()

    def matches(self, cos: np.ndarray) -> np.ndarray:
        """SigLIP's logits for cosines: exp(logit_scale) * cosine + logit_bias."""
        return np.exp(self.logit_scale) * cos + self.logit_bias


def quantize(model: torch.nn.Module) -> None:
    """int8 weights for the Linear layers, activations quantized on the fly (the CPU's fast mode;
    one query is one batch, so its match never depends on another's). Figures in bench_search.py."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # quantize_dynamic is marked deprecated; it still works
        torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)


def _logit_parameters(folder: Path) -> tuple[float, float]:
    """logit_scale and logit_bias as the checkpoint stores them (read alone, not the vision tower)."""
    from safetensors import safe_open

    for weights in sorted(folder.glob("*.safetensors")):
        with safe_open(str(weights), framework="pt") as f:
            keys = set(f.keys())
            if "logit_scale" in keys and "logit_bias" in keys:
                return float(f.get_tensor("logit_scale").float().reshape(-1)[0]), \
                    float(f.get_tensor("logit_bias").float().reshape(-1)[0])
    raise ModelInvalidError(f"{folder} has a text tower but no logit_scale and logit_bias")
