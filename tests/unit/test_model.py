"""Model files: head loading and checks, encoder lookup, clear errors when offline."""
import json

import pytest
import torch

from app.core import model, weights
from app.errors import ModelInvalidError, ModelMissingError
from tests.conftest import REAL_HEAD


def test_head_loads_and_has_upstream_shape(head_file):
    head = model.load_head(head_file)
    assert [tuple(head.scoring_head[i].weight.shape) for i in (0, 2, 4, 6, 8)] == \
        [(1024, 1152), (128, 1024), (64, 128), (16, 64), (1, 16)]
    assert all(p.dtype == torch.float32 for p in head.parameters())
    assert not head.training


@pytest.mark.skipif(not REAL_HEAD.is_file(), reason="needs ../shared/models (the upstream head)")
def test_real_head_checksum_matches_the_pinned_one():
    assert model.file_sha256(REAL_HEAD) == model.HEAD_SHA256


def test_head_with_wrong_keys_or_shapes_is_rejected(tmp_path):
    wrong = tmp_path / "wrong.pth"
    torch.save({"layers.0.weight": torch.zeros(2, 2)}, wrong)
    with pytest.raises(ModelInvalidError, match="not an Aesthetic Predictor V2.5 head"):
        model.load_head(wrong)
    state = model.AestheticHead().state_dict()
    state["scoring_head.0.weight"] = torch.zeros(1024, 768)
    torch.save(state, wrong)
    with pytest.raises(ModelInvalidError, match=r"shape \(1024, 768\)"):
        model.load_head(wrong)
    wrong.write_bytes(b"not a pickle at all")
    with pytest.raises(ModelInvalidError, match="not a PyTorch weights file"):
        model.load_head(wrong)


def test_missing_head_file_names_the_flag(tmp_path):
    with pytest.raises(ModelMissingError, match="--head FILE"):
        model.resolve_head(str(tmp_path / "nope.pth"))


def test_offline_head_download_is_a_clear_error(monkeypatch):
    def refuse(*a, **k):
        raise OSError("network is unreachable")

    monkeypatch.setattr(weights.urllib.request, "urlopen", refuse)
    with pytest.raises(ModelMissingError, match="aesthete download.*--head FILE"):
        weights.resolve_head(weights.HEAD_URL)


def test_downloaded_head_with_wrong_checksum_is_not_kept(monkeypatch, tmp_path):
    import io

    class Resp(io.BytesIO):
        headers = {"Content-Length": "5"}

    monkeypatch.setattr(weights.urllib.request, "urlopen", lambda *a, **k: Resp(b"hello"))
    with pytest.raises(ModelInvalidError, match="SHA-256"):
        weights.resolve_head(weights.HEAD_URL)
    assert not weights.head_cache_path().exists()


def test_encoder_not_in_cache_offline_says_how_to_fix(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelMissingError) as err:
        model.resolve_encoder("google/siglip-so400m-patch14-384")
    assert "--encoder DIR" in str(err.value) and "aesthete download" in str(err.value)


def test_encoder_folder_that_is_not_siglip(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert", "hidden_size": 1152}))
    with pytest.raises(ModelInvalidError, match="not a SigLIP encoder"):
        model.resolve_encoder(str(tmp_path))
    with pytest.raises(ModelInvalidError, match="no config.json"):
        model.resolve_encoder(str(tmp_path.parent))
    with pytest.raises(ModelMissingError, match="does not exist"):
        model.resolve_encoder(str(tmp_path / "missing"))


def test_encoder_folder_key_is_stable_and_content_based(tiny_encoder):
    a = model.resolve_encoder(str(tiny_encoder))
    b = model.resolve_encoder(str(tiny_encoder))
    assert a.key == b.key and a.key.startswith("local:")


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_head_with_non_finite_weights_is_rejected(tmp_path, bad):
    """A damaged head whose weights hold NaN or infinity would score every photo NaN or infinity."""
    state = model.AestheticHead().state_dict()
    state["scoring_head.4.weight"][3, 7] = bad
    path = tmp_path / "damaged.pth"
    torch.save(state, path)
    with pytest.raises(ModelInvalidError, match="NaN or infinit") as err:
        model.load_head(path)
    assert str(path) in str(err.value) and "scoring_head.4.weight" in str(err.value)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_a_non_finite_score_is_that_photos_error(tmp_path, bad):
    """Second guard (the head may be fine and the encoder overflow): a NaN or infinite score
    becomes the photo's error, never a score."""
    import threading

    import numpy as np

    from app.core import pipeline
    from tests.conftest import scene

    paths = []
    for i in range(3):
        paths.append(tmp_path / f"p{i}.jpg")
        scene(i).save(paths[-1])

    class Scorer:
        def embed(self, pixels):
            return torch.ones(len(pixels), 1152)

        def head_scores(self, emb):
            return np.array([5.0, bad, 6.0][:len(emb)])

    results = list(pipeline.score_stream(list(enumerate(paths)), Scorer, 3, 1, threading.Event()))
    assert [r.score for r in results] == [5.0, None, 6.0]
    assert results[1].embedding is None
    assert "no usable score" in results[1].error.reason
