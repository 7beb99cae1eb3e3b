"""Scores match the upstream pipeline and never depend on batch-mates."""
import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from app.core import decode, preprocess
from app.core.scorer import Scorer, locate


@pytest.fixture(scope="module")
def scorer(tiny_encoder, head_file):
    return Scorer(locate(str(tiny_encoder), str(head_file)), device="cpu", precision="fp32")


def upstream_processor():
    try:
        from transformers import SiglipImageProcessorPil as Proc  # transformers 5
    except ImportError:  # transformers 4
        from transformers import SiglipImageProcessor as Proc
    return Proc(size={"height": 384, "width": 384}, image_mean=[0.5] * 3, image_std=[0.5] * 3,
                resample=3, do_rescale=True, rescale_factor=1 / 255, do_normalize=True)


def upstream_score(image: Image.Image, encoder_dir, head_path) -> float:
    """The upstream loop: PIL SigLIP processor, SiglipVisionModel, pooler_output, L2 norm, head."""
    from transformers import SiglipVisionModel

    from app.core.model import load_head

    enc = SiglipVisionModel.from_pretrained(str(encoder_dir)).eval()
    head = load_head(head_path)
    pixels = upstream_processor()(images=image.convert("RGB"), return_tensors="pt")["pixel_values"]
    with torch.no_grad():
        emb = enc(pixel_values=pixels).pooler_output
        emb = emb / emb.norm(dim=-1, keepdim=True)
        return float(head(emb).item())


def test_preprocessing_matches_upstream_processor(make_photo):
    path = make_photo("a.jpg", seed=3, size=(900, 500))
    im = Image.open(path).convert("RGB")
    ours = preprocess.pixel_values(decode.decode(path, min_side=None).image)
    ref = upstream_processor()(images=im, return_tensors="np")["pixel_values"][0]
    assert ours.shape == ref.shape == (3, 384, 384)
    assert np.abs(ours - ref).max() < 1e-5


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_exif_orientation_is_applied_before_preprocessing(make_photo, orientation):
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = make_photo(f"rot{orientation}.jpg", seed=5, size=(800, 400), exif=exif.tobytes())
    d = decode.decode(path, min_side=None)
    upright = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
    assert d.orientation == orientation
    assert (d.width, d.height) == upright.size
    ref = upstream_processor()(images=upright, return_tensors="np")["pixel_values"][0]
    assert np.abs(preprocess.pixel_values(d.image) - ref).max() < 1e-5
    if orientation in (6, 8):
        assert d.width < d.height  # a portrait photo stays portrait


def test_fp32_scores_match_upstream_loop(scorer, tiny_encoder, head_file, make_photo):
    for seed in range(3):
        path = make_photo(f"p{seed}.jpg", seed=seed, size=(700, 520))
        ours = scorer.score_batch(preprocess.pixel_values(decode.decode(path, min_side=None).image)[None])[0][0]
        ref = upstream_score(Image.open(path), tiny_encoder, head_file)
        assert abs(ours - ref) < 0.02, (seed, ours, ref)


def test_reduced_size_decode_stays_within_parity(scorer, tiny_encoder, head_file, make_photo):
    path = make_photo("big.jpg", seed=11, size=(4000, 3000), quality=92)
    reduced = decode.decode(path)  # default: draft-mode decode for large JPEGs
    assert max(reduced.image.size) < 4000 and min(reduced.image.size) >= 768
    assert (reduced.width, reduced.height) == (4000, 3000)
    ours = scorer.score_batch(preprocess.pixel_values(reduced.image)[None])[0][0]
    ref = upstream_score(Image.open(path), tiny_encoder, head_file)
    assert abs(ours - ref) < 0.02


def test_score_does_not_depend_on_batch(scorer, make_photo):
    pixels = np.stack([preprocess.pixel_values(decode.decode(make_photo(f"b{i}.jpg", seed=20 + i)).image)
                       for i in range(5)])
    alone = np.array([scorer.score_batch(pixels[i:i + 1])[0][0] for i in range(5)])
    together = scorer.score_batch(pixels)[0]
    pairs = np.concatenate([scorer.score_batch(pixels[:2])[0], scorer.score_batch(pixels[2:])[0]])
    assert np.abs(alone - together).max() < 1e-3
    assert np.abs(alone - pairs).max() < 1e-3
    assert np.ptp(alone) > 0  # different photos, different scores
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        one_thread = scorer.score_batch(pixels)[0]
    finally:
        torch.set_num_threads(threads)
    assert np.abs(alone - one_thread).max() < 1e-3


def test_embeddings_are_normalised_float16(scorer, make_photo):
    pixels = preprocess.pixel_values(decode.decode(make_photo("e.jpg")).image)[None]
    scores, emb = scorer.score_batch(pixels)
    assert emb.shape == (1, 1152) and emb.dtype == np.float16
    assert abs(float(np.linalg.norm(emb.astype(np.float32))) - 1.0) < 1e-2


def test_cancel_stops_between_encoder_layers(scorer, make_photo):
    from app.errors import Cancelled

    pixels = preprocess.pixel_values(decode.decode(make_photo("c.jpg")).image)[None]
    scorer.cancel_event.set()
    try:
        with pytest.raises(Cancelled):
            scorer.score_batch(pixels)
    finally:
        scorer.cancel_event.clear()
    assert scorer.score_batch(pixels)[0].shape == (1,)


@pytest.mark.parametrize("runtime", ["torch", "onnx"])
def test_int8_scores_stay_close_and_ignore_batch_mates(tiny_encoder, head_file, scorer, make_photo, runtime):
    from app.core.scorer import pick_precision

    assert pick_precision("auto", torch.device("cpu")) == "int8"
    int8 = Scorer(locate(str(tiny_encoder), str(head_file)), device="cpu", precision="int8", runtime=runtime)
    assert int8.runtime == runtime
    pixels = np.stack([preprocess.pixel_values(decode.decode(make_photo(f"q{i}.jpg", seed=40 + i)).image)
                       for i in range(4)])
    alone = np.array([int8.score_batch(pixels[i:i + 1])[0][0] for i in range(4)])
    together = int8.score_batch(pixels)[0]
    assert np.abs(alone - together).max() < 1e-3
    exact = scorer.score_batch(pixels)[0]
    assert np.abs(alone - exact).max() < 0.1  # quantised, but close to fp32
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert np.abs(int8.score_batch(pixels)[0] - alone).max() < 1e-3
    finally:
        torch.set_num_threads(threads)
