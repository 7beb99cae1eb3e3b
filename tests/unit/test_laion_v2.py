"""The LAION aesthetic predictor V2 as a second model: its weights, preprocessing and scores against
an upstream-style pipeline (transformers' CLIP + CLIPImageProcessor + the MLP), and its settings."""
import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from app.config import models, settings
from app.core import decode, preprocess, weights
from app.errors import ModelInvalidError, SettingsError
from tests.conftest import REAL_LAION_HEAD, SHARED_PHOTOS

SAMPLES = sorted(SHARED_PHOTOS.glob("*.jpg"))[:4] if SHARED_PHOTOS.is_dir() else []


@pytest.fixture(scope="module")
def laion_fp32(tiny_clip, laion_head_file):
    from app.core.scorer import Scorer

    return Scorer(weights.locate(str(tiny_clip), str(laion_head_file), model="laion-v2"), device="cpu",
                  precision="fp32")


def clip_processor():
    try:
        from transformers import CLIPImageProcessorPil as Proc  # transformers 5
    except ImportError:  # transformers 4
        from transformers import CLIPImageProcessor as Proc
    return Proc(size={"shortest_edge": 224}, crop_size={"height": 224, "width": 224}, resample=3)


def upstream_scores(images: list[Image.Image], clip_dir, head_path) -> np.ndarray:
    """improved-aesthetic-predictor's inference: CLIP image features, L2-normalised, into its MLP
    (written out here from upstream's layer list, not taken from the app)."""
    from transformers import CLIPModel

    clip = CLIPModel.from_pretrained(str(clip_dir)).eval()
    mlp = torch.nn.Sequential(
        torch.nn.Linear(768, 1024), torch.nn.Dropout(0.2), torch.nn.Linear(1024, 128), torch.nn.Dropout(0.2),
        torch.nn.Linear(128, 64), torch.nn.Dropout(0.1), torch.nn.Linear(64, 16), torch.nn.Linear(16, 1)).eval()
    state = torch.load(head_path, map_location="cpu", weights_only=True)
    mlp.load_state_dict({k.removeprefix("layers."): v.float() for k, v in state.items()})
    pixels = clip_processor()(images=[im.convert("RGB") for im in images], return_tensors="pt")["pixel_values"]
    with torch.no_grad():
        feats = clip.get_image_features(pixel_values=pixels)
        if not isinstance(feats, torch.Tensor):  # transformers 5 may answer with an output object
            feats = feats.pooler_output
        feats = feats / feats.norm(dim=-1, keepdim=True)
        return mlp(feats).squeeze(-1).numpy().astype(np.float64)


def sample_paths(make_photo) -> list:
    """The sample photos of ../shared, else generated ones (landscape and portrait)."""
    if SAMPLES:
        return SAMPLES
    return [make_photo(f"s{i}.jpg", seed=60 + i, size=(900, 600) if i % 2 else (500, 800)) for i in range(4)]


@pytest.mark.parametrize("size", [(900, 500), (500, 901), (224, 224), (1000, 223)])
def test_preprocessing_matches_clip_image_processor(make_photo, size):
    path = make_photo("c.png", seed=3, size=size)
    im = Image.open(path).convert("RGB")
    ours = preprocess.clip_pixel_values(im)
    ref = clip_processor()(images=im, return_tensors="np")["pixel_values"][0]
    assert ours.shape == ref.shape == (3, 224, 224)
    assert np.abs(ours - ref).max() < 1e-4


def test_fp32_scores_match_upstream_pipeline(laion_fp32, tiny_clip, laion_head_file, make_photo):
    paths = sample_paths(make_photo)
    ours = laion_fp32.score_batch(np.stack([preprocess.clip_pixel_values(decode.decode(p).image) for p in paths]))[0]
    ref = upstream_scores([ImageOps.exif_transpose(Image.open(p)) for p in paths], tiny_clip, laion_head_file)
    assert np.abs(ours - ref).max() < 0.02, (ours, ref)
    assert np.ptp(ours) > 0  # different photos, different scores


def test_embeddings_are_768_wide_and_normalised(laion_fp32, make_photo):
    scores, emb = laion_fp32.score_batch(preprocess.clip_pixel_values(decode.decode(make_photo("e.jpg")).image)[None])
    assert emb.shape == (1, 768) and emb.dtype == np.float16
    assert abs(float(np.linalg.norm(emb.astype(np.float32))) - 1.0) < 1e-2


def test_int8_mean_drift_is_small(laion_fp32, tiny_clip, laion_head_file, make_photo):
    from app.core.scorer import Scorer

    int8 = Scorer(weights.locate(str(tiny_clip), str(laion_head_file), model="laion-v2"), device="cpu",
                  precision="auto")
    assert (int8.precision, int8.runtime) == ("int8", "torch")  # the CPU default; ONNX converts V2.5 only
    pixels = np.stack([preprocess.clip_pixel_values(decode.decode(make_photo(f"q{i}.jpg", seed=40 + i)).image)
                       for i in range(4)])
    drift = np.abs(int8.score_batch(pixels)[0] - laion_fp32.score_batch(pixels)[0])
    assert drift.mean() <= 0.05, drift


def test_onnx_runtime_is_refused_for_laion(tiny_clip, laion_head_file):
    from app.core.scorer import Scorer

    with pytest.raises(SettingsError, match="V2.5 model only"):
        Scorer(weights.locate(str(tiny_clip), str(laion_head_file), model="laion-v2"), device="cpu",
               precision="int8", runtime="onnx")


def test_laion_head_loads_and_the_v25_head_is_refused(laion_head_file, head_file):
    from app.core.model import LaionHead, load_head

    assert isinstance(load_head(laion_head_file, "laion-v2"), LaionHead)
    with pytest.raises(ModelInvalidError, match="not an LAION aesthetic predictor V2 head"):
        load_head(head_file, "laion-v2")
    with pytest.raises(ModelInvalidError, match="not an Aesthetic Predictor V2.5 head"):
        load_head(laion_head_file, "v2.5")


@pytest.mark.skipif(not REAL_LAION_HEAD.is_file(), reason="needs ../shared/models (the upstream LAION head)")
def test_real_laion_head_matches_the_pinned_checksum():
    assert weights.file_sha256(REAL_LAION_HEAD) == models.LAION_V2.head_sha256
    assert weights.resolve_head(str(REAL_LAION_HEAD), model=models.LAION_V2).sha256 == models.LAION_V2.head_sha256


def test_encoder_of_the_other_model_is_a_clear_error(tiny_clip, tiny_encoder):
    with pytest.raises(ModelInvalidError, match="not a CLIP encoder"):
        weights.resolve_encoder(str(tiny_encoder), model=models.LAION_V2)
    with pytest.raises(ModelInvalidError, match="not a SigLIP encoder"):
        weights.resolve_encoder(str(tiny_clip))


def test_missing_laion_weights_say_how_to_get_them(monkeypatch):
    from app.errors import ModelMissingError

    with pytest.raises(ModelMissingError, match="--model laion-v2"):
        weights.resolve_encoder(models.LAION_V2.default_encoder, allow_download=False, model=models.LAION_V2)
    with pytest.raises(ModelMissingError, match="sac\\+logos\\+ava1-l14-linearMSE.pth"):
        weights.resolve_head(models.LAION_V2.head_url, allow_download=False, model=models.LAION_V2)


def test_keys_tell_the_models_apart(tiny_clip, laion_head_file, tiny_encoder, head_file):
    laion = str(weights.locate(str(tiny_clip), str(laion_head_file), model="laion-v2").key)
    v25 = str(weights.locate(str(tiny_encoder), str(head_file)).key)
    assert laion.startswith("laion-v2:") and not v25.startswith("laion-v2:")
    assert models.model_of_key(laion) == "laion-v2" and models.model_of_key(v25) == "v2.5"


def test_encoder_and_head_flags_name_the_chosen_models_files(tmp_path):
    file = tmp_path / "s.toml"
    file.write_text('encoder = "/siglip"\nlaion_head = "/file-head.pth"\n')
    s = settings.load(file, overrides={"model": "laion-v2", "encoder": "/clip", "head": None}, environ={})
    assert (s.model, s.laion_encoder, s.laion_head, s.encoder) == ("laion-v2", "/clip", "/file-head.pth", "/siglip")
    assert s.head == settings.HEAD_URL and s.sources["laion_encoder"] == "flag"
    default = settings.load(file, overrides={"encoder": "/other"}, environ={})
    assert (default.model, default.encoder, default.laion_encoder) == ("v2.5", "/other", models.LAION_V2.default_encoder)
    by_env = settings.load(file, overrides={"head": "/h.pth"}, environ={"AESTHETE_MODEL": "laion-v2"})
    assert (by_env.laion_head, by_env.head) == ("/h.pth", settings.HEAD_URL)
    with pytest.raises(SettingsError, match="model must be one of"):
        settings.load(file, overrides={"model": "v3"}, environ={})


def test_cancel_stops_between_clip_layers(laion_fp32, make_photo):
    from app.errors import Cancelled

    pixels = preprocess.clip_pixel_values(decode.decode(make_photo("c.jpg")).image)[None]
    laion_fp32.cancel_event.set()
    try:
        with pytest.raises(Cancelled):
            laion_fp32.score_batch(pixels)
    finally:
        laion_fp32.cancel_event.clear()
    assert laion_fp32.score_batch(pixels)[0].shape == (1,)
