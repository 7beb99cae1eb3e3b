"""The CUDA path: bf16/fp16/fp32 scoring on a GPU agrees with the CPU's fp32 and ignores
batch-mates; a whole analysis runs there. Skipped on machines without a CUDA GPU (CI has none);
run on one with `python -m pytest tests/unit/test_gpu.py tests/integration/test_cli.py`."""
from pathlib import Path

import numpy as np
import pytest
import torch

from app.core import decode, preprocess
from app.core.scorer import Scorer, default_batch_size, locate, pick_device, pick_precision
from tests.conftest import scene, scene_pixels

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.fixture(scope="module")
def pixels(tmp_path_factory):
    return scene_pixels(tmp_path_factory.mktemp("gpu-photos"), 6, seed=40, size=(800, 600))


@pytest.fixture(scope="module")
def cpu_scores(tiny_encoder, head_file, pixels):
    cpu = Scorer(locate(str(tiny_encoder), str(head_file)), device="cpu", precision="fp32")
    return cpu.score_batch(pixels)[0]


def test_auto_chooses_the_gpu_at_half_precision_in_batches():
    device = pick_device("auto")
    assert device.type == "cuda"
    assert pick_precision("auto", device) in ("bf16", "fp16")
    assert default_batch_size(device) == 32


@pytest.mark.parametrize("precision,tolerance", [("fp32", 0.005), ("bf16", 0.05), ("fp16", 0.05)])
def test_gpu_scores_agree_with_cpu_fp32_and_ignore_batch_mates(tiny_encoder, head_file, pixels, cpu_scores,
                                                               precision, tolerance):
    gpu = Scorer(locate(str(tiny_encoder), str(head_file)), device="cuda", precision=precision)
    assert gpu.device.type == "cuda" and gpu.label == precision
    together, emb = gpu.score_batch(pixels)
    assert np.abs(together - cpu_scores).max() < tolerance, (together, cpu_scores)
    assert emb.dtype == np.float16 and emb.shape == (len(pixels), 1152)
    assert np.allclose(np.linalg.norm(emb.astype(np.float32), axis=1), 1.0, atol=1e-2)
    alone = np.array([gpu.score_batch(pixels[i:i + 1])[0][0] for i in range(len(pixels))])
    assert np.abs(alone - together).max() < tolerance / 2
    assert np.ptp(together) > 0


def test_cancel_stops_a_gpu_batch(tiny_encoder, head_file, pixels):
    from app.errors import Cancelled

    gpu = Scorer(locate(str(tiny_encoder), str(head_file)), device="cuda", precision="bf16")
    gpu.cancel_event.set()
    with pytest.raises(Cancelled):
        gpu.score_batch(pixels)
    gpu.cancel_event.clear()
    assert gpu.score_batch(pixels)[0].shape == (len(pixels),)


def test_analysis_on_the_gpu_scores_and_stores_every_photo(tmp_path, tiny_encoder, head_file, cpu_scores):
    from app import library
    from app.config import settings
    from app.library import ModelHolder, analyse, scan_folders
    from app.storage import db, repo

    folder = tmp_path / "shoot"
    folder.mkdir()
    for i in range(70):  # several batches of 32 and a partial one
        scene(100 + i).save(folder / f"p{i:03d}.jpg", quality=88)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff not a jpeg")
    s = settings.load(overrides={"encoder": str(tiny_encoder), "head": str(head_file), "device": "auto"})
    engine = db.open_db(tmp_path / "lib.sqlite3")
    scan_folders(engine, s, [folder])
    holder = ModelHolder(s)
    result = analyse(engine, holder, library.pending(engine, holder))
    assert (result.scored, result.failed, result.cancelled) == (70, 1, False)
    rows = repo.list_photos(engine, sort="name")
    scored = [p for p in rows if p.score is not None]
    assert len(scored) == 70 and holder.loaded.device.type == "cuda"
    assert all(p.error for p in rows if p.score is None)
    # The same photos scored alone on the CPU in fp32 agree within the precision's drift.
    cpu = Scorer(locate(str(tiny_encoder), str(head_file)), device="cpu", precision="fp32")
    sample = scored[::10]
    px = np.stack([preprocess.pixel_values(decode.decode(Path(p.path)).image)
                   for p in sample])
    assert np.abs(cpu.score_batch(px)[0] - np.array([p.score for p in sample])).max() < 0.05
