"""Shared fixtures: a private AESTHETE_HOME, a tiny random SigLIP and a head, image factories."""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

if TYPE_CHECKING:
    from PIL import Image

SHARED = Path(__file__).resolve().parents[2] / "shared"
REAL_HEAD = SHARED / "models" / "aesthetic_predictor_v2_5.pth"
SHARED_PHOTOS = SHARED / "photos"
ROOT = Path(__file__).resolve().parents[1]


def python_path() -> str:
    """PYTHONPATH for the app run in a subprocess: this checkout first, then the caller's own
    (packages installed aside, as on a machine where pip installs to a separate folder)."""
    return os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))


@pytest.fixture(scope="session")
def onnx_cache(tmp_path_factory) -> Path:
    """One folder of ONNX-converted encoders for the whole session: the default CPU path converts
    the tiny encoder once per precision, not once per test."""
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.fixture(autouse=True)
def aesthete_home(tmp_path_factory, monkeypatch, onnx_cache):
    """Keep settings, database, caches and logs of every test out of the real home."""
    home = tmp_path_factory.mktemp("home")
    (home / "cache").mkdir()
    (home / "cache" / "onnx").symlink_to(onnx_cache, target_is_directory=True)
    monkeypatch.setenv("AESTHETE_HOME", str(home))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for var in [v for v in os.environ if v.startswith("AESTHETE_") and v != "AESTHETE_HOME"]:
        monkeypatch.delenv(var)
    return home


@pytest.fixture(scope="session")
def tiny_encoder(tmp_path_factory) -> Path:
    """A SigLIP vision tower with the so400m width (1152) but one small layer, random weights."""
    import torch
    from transformers import SiglipVisionConfig, SiglipVisionModel

    out = tmp_path_factory.mktemp("tiny-siglip")
    torch.manual_seed(1234)
    cfg = SiglipVisionConfig(hidden_size=1152, intermediate_size=64, num_hidden_layers=2,
                             num_attention_heads=16, image_size=384, patch_size=14)
    SiglipVisionModel(cfg).eval().save_pretrained(out, safe_serialization=True)
    return out


@pytest.fixture(scope="session")
def head_file(tmp_path_factory) -> Path:
    """The real upstream head when ../shared has it, else a seeded random head of the same shape."""
    if REAL_HEAD.is_file():
        return REAL_HEAD
    import torch

    from app.core.model import AestheticHead

    torch.manual_seed(99)
    head = AestheticHead()
    with torch.no_grad():
        head.scoring_head[-1].bias.fill_(5.0)  # centre scores where real ones live
    out = tmp_path_factory.mktemp("head") / "random_head.pth"
    torch.save(head.state_dict(), out)
    return out


REAL_LAION_HEAD = SHARED / "models" / "sac+logos+ava1-l14-linearMSE.pth"


def write_random_clip(out: Path, tiny: bool = True) -> Path:
    """A CLIP model with ViT-L/14's widths (1024 vision, 768 embeddings) and seeded random weights,
    laid out as openai/clip-vit-large-patch14 is (both towers, preprocessor settings); tiny: one
    layer per tower with a narrow MLP. (../shared/tools/make_random_clip.py writes the same.)"""
    import json

    import torch
    from transformers import CLIPConfig, CLIPModel

    torch.manual_seed(20241219)
    vision = dict(hidden_size=1024, intermediate_size=64 if tiny else 4096, num_hidden_layers=1 if tiny else 24,
                  num_attention_heads=16, image_size=224, patch_size=14, projection_dim=768)
    text = dict(hidden_size=768, intermediate_size=64 if tiny else 3072, num_hidden_layers=1 if tiny else 12,
                num_attention_heads=12, max_position_embeddings=77, projection_dim=768)
    CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=768)).eval().save_pretrained(
        out, safe_serialization=True)
    (out / "preprocessor_config.json").write_text(json.dumps({
        "crop_size": {"height": 224, "width": 224}, "do_center_crop": True, "do_convert_rgb": True,
        "do_normalize": True, "do_rescale": True, "do_resize": True,
        "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_std": [0.26862954, 0.26130258, 0.27577711],
        "image_processor_type": "CLIPImageProcessor", "resample": 3, "rescale_factor": 1 / 255,
        "size": {"shortest_edge": 224}}))
    return out


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory) -> Path:
    """LAION V2's encoder stand-in: a one-layer random CLIP ViT-L/14 (768-wide embeddings)."""
    return write_random_clip(tmp_path_factory.mktemp("tiny-clip"))


@pytest.fixture(scope="session")
def laion_head_file(tmp_path_factory) -> Path:
    """The real LAION V2 head when ../shared has it, else a seeded random head of its shape."""
    if REAL_LAION_HEAD.is_file():
        return REAL_LAION_HEAD
    import torch

    from app.core.model import LaionHead

    torch.manual_seed(98)
    head = LaionHead()
    with torch.no_grad():
        head.layers[-1].bias.fill_(5.0)
    out = tmp_path_factory.mktemp("laion-head") / "random_laion_head.pth"
    torch.save(head.state_dict(), out)
    return out


@pytest.fixture
def model_settings(tiny_encoder, head_file):
    from app.config import settings

    return settings.load(overrides={"encoder": str(tiny_encoder), "head": str(head_file), "device": "cpu"})


def scene(seed: int = 0, size: tuple[int, int] = (640, 480)) -> Image.Image:
    """A deterministic textured picture with shapes, so photos differ from one another."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    w, h = size
    base = rng.integers(0, 255, size=(h // 16 + 1, w // 16 + 1, 3), dtype=np.uint8)
    im = Image.fromarray(base).resize((w, h), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(im)
    for _ in range(12):
        x0, y0 = int(rng.integers(0, w)), int(rng.integers(0, h))
        x1, y1 = x0 + int(rng.integers(10, w // 3)), y0 + int(rng.integers(10, h // 3))
        color = tuple(int(c) for c in rng.integers(0, 255, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)([x0, y0, x1, y1], fill=color)
    return im


def scene_pixels(folder: Path, count: int, seed: int, size: tuple[int, int] = (640, 480)) -> np.ndarray:
    """SigLIP pixel arrays (count, 3, 384, 384) of `count` generated JPEGs written to folder."""
    from app.core import decode, preprocess

    out = []
    for i in range(count):
        path = folder / f"s{seed + i}.jpg"
        scene(seed + i, size).save(path, quality=90)
        out.append(preprocess.pixel_values(decode.decode(path).image))
    return np.stack(out)


@pytest.fixture
def make_photo(tmp_path):
    """Write a generated JPEG (or other format) and return its path."""

    def _make(name: str, seed: int = 0, size=(640, 480), folder: Path | None = None, **save_kw) -> Path:
        path = (folder or tmp_path) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        scene(seed, size).save(path, **save_kw)
        return path

    return _make


@pytest.fixture
def trash(tmp_path, monkeypatch):
    """A private home and XDG trash under tmp_path, so the real trash is never touched."""
    import send2trash
    from send2trash import plat_other

    home = tmp_path / "home"
    data = home / ".local" / "share"
    data.mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(data))
    # send2trash reads XDG_DATA_HOME once, at import; point its copy at ours too.
    monkeypatch.setattr(plat_other, "XDG_DATA_HOME", os.fsencode(data))
    monkeypatch.setattr(plat_other, "HOMETRASH_B", os.fsencode(data / "Trash"))
    monkeypatch.setattr(plat_other, "HOMETRASH", str(data / "Trash"))
    # Never the gio backend in tests: it would use the real trash.
    monkeypatch.setattr(send2trash, "send2trash", plat_other.send2trash)
    return data / "Trash"


def write_full_siglip(out: Path, seed: int = 20241218) -> Path:
    """The whole SigLIP model (vision and text towers, logit scale and bias) with tiny random
    layers and a small SentencePiece tokenizer, laid out as google/siglip-so400m-patch14-384 is
    (as ../shared/tools/make_random_siglip.py --tiny --full writes it; here so tests need no ../shared)."""
    import io
    import json
    import random

    import sentencepiece as spm
    import torch
    from transformers import SiglipConfig, SiglipModel, SiglipTokenizer

    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    words = ("a the of on in at with and photo beach sunset sea sky dog cat child people face mountain "
             "forest tree city street night light dark portrait landscape food flower car river snow "
             "birthday cake wedding family red blue green white black old young man woman baby bird").split()
    rng = random.Random(1)
    lines = [" ".join(rng.choice(words) for _ in range(rng.randint(3, 12))) for _ in range(2000)]
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_writer=buf, vocab_size=128, hard_vocab_limit=False,
        model_type="unigram", character_coverage=1.0, pad_id=0, eos_id=1, unk_id=2, bos_id=-1,
        pad_piece="<pad>", eos_piece="</s>", unk_piece="<unk>", normalization_rule_name="nmt_nfkc_cf",
        minloglevel=2)
    (out / "spiece.model").write_bytes(buf.getvalue())
    tokenizer = SiglipTokenizer(vocab_file=str(out / "spiece.model"), model_max_length=64)
    tokenizer.save_pretrained(out)
    small = dict(hidden_size=1152, intermediate_size=64, num_hidden_layers=1, num_attention_heads=16)
    model = SiglipModel(SiglipConfig(
        text_config=dict(vocab_size=tokenizer.vocab_size, max_position_embeddings=64, **small),
        vision_config=dict(image_size=384, patch_size=14, **small))).eval()
    with torch.no_grad():  # the trained so400m's values, so matches have their real range
        model.logit_scale.fill_(4.7185)  # exp() = 112
        model.logit_bias.fill_(-16.5)
    model.save_pretrained(out, safe_serialization=True)
    (out / "preprocessor_config.json").write_text(json.dumps({
        "do_normalize": True, "do_rescale": True, "do_resize": True, "image_mean": [0.5] * 3,
        "image_std": [0.5] * 3, "image_processor_type": "SiglipImageProcessor", "resample": 3,
        "rescale_factor": 1 / 255, "size": {"height": 384, "width": 384}}))
    return out


@pytest.fixture(scope="session")
def full_siglip(tmp_path_factory) -> Path:
    """A whole tiny SigLIP (text tower included) with random weights: see write_full_siglip."""
    return write_full_siglip(tmp_path_factory.mktemp("full-siglip"))
