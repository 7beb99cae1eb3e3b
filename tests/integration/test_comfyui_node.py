"""The ComfyUI node, without ComfyUI: its class imported from packaging/comfyui and called with an
IMAGE batch as ComfyUI passes it; its scores equal `aesthete score` on the same images saved as PNGs."""
import importlib.util
import json
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from tests.conftest import ROOT, scene
from tests.integration.test_cli import run


@pytest.fixture(scope="module")
def node_module():
    spec = importlib.util.spec_from_file_location(
        "aesthete_comfyui", ROOT / "packaging" / "comfyui" / "__init__.py",
        submodule_search_locations=[str(ROOT / "packaging" / "comfyui")])
    module = importlib.util.module_from_spec(spec)
    sys.modules["aesthete_comfyui"] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("aesthete_comfyui", None)
    sys.modules.pop("aesthete_comfyui.nodes", None)


def comfy_batch() -> torch.Tensor:
    """Two images as ComfyUI holds them: float32 [B, H, W, C] in 0..1, off the 8-bit grid."""
    arrays = [np.asarray(scene(70 + i, (320, 240)), dtype=np.float32) / 255 for i in range(2)]
    batch = torch.from_numpy(np.stack(arrays))
    return (batch + 0.3 / 255).clamp(0, 1)  # a generated image's values fall between 8-bit steps


def save_as_comfyui_does(batch: torch.Tensor, folder) -> list:
    """ComfyUI's Save Image: clip(255 * x).astype(uint8), written as PNG."""
    paths = []
    for i, image in enumerate(batch):
        path = folder / f"ComfyUI_{i:05d}_.png"
        Image.fromarray(np.clip(255.0 * image.numpy(), 0, 255).astype(np.uint8)).save(path)
        paths.append(path)
    return paths


def test_node_declares_comfyui_types(node_module):
    node = node_module.NODE_CLASS_MAPPINGS["AestheteScore"]
    inputs = node.INPUT_TYPES()["required"]
    assert inputs["images"] == ("IMAGE",)
    assert inputs["model"][0][0] == "v2.5" and inputs["model"][1]["default"] == "v2.5"
    assert "laion-v2" in inputs["model"][0]
    assert inputs["precision"][0][0] == "default" and inputs["precision"][1]["default"] == "default"
    assert node.RETURN_TYPES == ("FLOAT", "STRING") and node.OUTPUT_IS_LIST == (True, False)
    assert callable(getattr(node(), node.FUNCTION))
    assert node_module.NODE_DISPLAY_NAME_MAPPINGS["AestheteScore"]


@pytest.mark.parametrize("model, precision", [("v2.5", "default"), ("laion-v2", "fp32")])
def test_node_scores_equal_the_cli_on_saved_images(node_module, monkeypatch, tmp_path, aesthete_home, model,
                                                   precision, tiny_encoder, head_file, tiny_clip, laion_head_file):
    # Weights and device come from Aesthete's own variables, as a ComfyUI user would set them.
    for name, value in {"ENCODER": tiny_encoder, "HEAD": head_file, "LAION_ENCODER": tiny_clip,
                        "LAION_HEAD": laion_head_file, "DEVICE": "cpu"}.items():
        monkeypatch.setenv(f"AESTHETE_{name}", str(value))
    batch = comfy_batch()
    node = node_module.NODE_CLASS_MAPPINGS["AestheteScore"]()
    scores, summary = node.score(batch, model=model, precision=precision)
    assert len(scores) == 2 and all(isinstance(s, float) for s in scores) and scores[0] != scores[1]
    assert summary.startswith(f"Aesthete {model}") and f"{scores[0]:.2f}" in summary

    paths = save_as_comfyui_does(batch, tmp_path)
    args = ["score", "--json", *paths, "--model", model] + ([] if precision == "default" else ["--precision", precision])
    res = run(args, aesthete_home)
    assert res.returncode == 0, res.stderr
    cli = {json.loads(l)["path"]: json.loads(l)["score"] for l in res.stdout.decode().splitlines()}
    for path, score in zip(paths, scores):
        assert abs(cli[str(path)] - score) <= 1e-4, (path, cli[str(path)], score)  # the CLI rounds to 4 places

    loaded = dict(node_module.nodes._holders)
    again, _ = node.score(batch[:1], model=model, precision=precision)  # the loaded model is kept
    assert again == scores[:1]
    assert node_module.nodes._holders == loaded


def test_node_refuses_an_unknown_model(node_module):
    node = node_module.NODE_CLASS_MAPPINGS["AestheteScore"]()
    with pytest.raises(ValueError, match="unknown model"):
        node.score(comfy_batch(), model="v3")
