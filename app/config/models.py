"""The aesthetic models Aesthete can score with, one description each (no torch, no files read).

A score is stored under its model key (app.core.weights.ModelKey); the key of every model but
V2.5 starts with the model's name and a colon, so the library tells which model a score is from
without loading anything. V2.5 keys carry no prefix: libraries scored before a second model
existed keep their scores.
"""
from __future__ import annotations

from dataclasses import dataclass

DEFAULT_MODEL = "v2.5"


@dataclass(frozen=True)
class ModelSpec:
    name: str  # what --model takes, and the name in `list --json`'s "scores"
    title: str  # the model in words
    encoder_setting: str  # the settings naming its encoder (hub id or folder) and head (file or URL)
    head_setting: str
    default_encoder: str
    head_url: str  # pinned upstream copy, checked against head_sha256 when downloaded
    head_sha256: str
    head_file: str  # upstream's file name, for messages
    encoder_kind: str  # "SigLIP" or "CLIP", for messages
    encoder_types: tuple[str, ...]  # config.json model_type values accepted
    embed_dim: int  # width of the image embedding the head reads
    image_size: int  # the square the encoder sees

    @property
    def key_prefix(self) -> str:
        return "" if self.name == DEFAULT_MODEL else f"{self.name}:"


V2_5 = ModelSpec(
    name="v2.5", title="Aesthetic Predictor V2.5",
    encoder_setting="encoder", head_setting="head",
    default_encoder="google/siglip-so400m-patch14-384",
    head_url="https://github.com/discus0434/aesthetic-predictor-v2-5/raw/main/models/aesthetic_predictor_v2_5.pth",
    head_sha256="a6caf256b3dc434273c98dcb12f6bf17c5d4fc647d8df11f038386923dd06220",
    head_file="aesthetic_predictor_v2_5.pth", encoder_kind="SigLIP",
    encoder_types=("siglip", "siglip_vision_model"), embed_dim=1152, image_size=384,
)

LAION_V2 = ModelSpec(
    name="laion-v2", title="LAION aesthetic predictor V2",
    encoder_setting="laion_encoder", head_setting="laion_head",
    default_encoder="openai/clip-vit-large-patch14",
    head_url="https://github.com/christophschuhmann/improved-aesthetic-predictor/raw/main/"
             "sac+logos+ava1-l14-linearMSE.pth",
    head_sha256="21dd590f3ccdc646f0d53120778b296013b096a035a2718c9cb0d511bff0f1e0",
    head_file="sac+logos+ava1-l14-linearMSE.pth", encoder_kind="CLIP",
    encoder_types=("clip", "clip_vision_model"), embed_dim=768, image_size=224,
)

MODELS: dict[str, ModelSpec] = {m.name: m for m in (V2_5, LAION_V2)}


def spec(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        from app.errors import SettingsError

        raise SettingsError(f"unknown model {name!r} ({', '.join(MODELS)})") from None


def model_of_key(key: str | None) -> str | None:
    """Which model a stored score's key is from (None for None)."""
    if key is None:
        return None
    for m in MODELS.values():
        if m.key_prefix and key.startswith(m.key_prefix):
            return m.name
    return DEFAULT_MODEL
