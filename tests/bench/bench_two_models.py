"""The second model beside the first: LAION aesthetic predictor V2's parity with its upstream
pipeline, its int8 drift, and its per-photo time against V2.5's, on the CPU default, in one run.

    python tests/bench/bench_two_models.py                 # full-size random encoders, sample photos
    python tests/bench/bench_two_models.py --siglip DIR --clip DIR --photos DIR

Speed does not depend on the weights, so random encoders of the real size stand in (written by
../shared/tools/make_random_siglip.py and make_random_clip.py into a temp folder unless given);
the heads are the real ones from ../shared/models. Parity: our fp32 pipeline (decode, CLIP
preprocessing, CLIPVisionModelWithProjection, L2 norm, head) against transformers' CLIPModel +
CLIPImageProcessor + upstream's MLP on each full-size photo. Times: the whole per-photo pipeline
(decode, preprocess, encode, head) at each model's CPU default (--precision auto --runtime auto:
V2.5 int8 under ONNX Runtime when installed, LAION V2 int8 under PyTorch), after a warm-up photo.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
sys.path.insert(0, str(ROOT))


def make(tool: str, out: Path) -> Path:
    if not (out / "config.json").is_file():
        print(f"writing a full-size random encoder with {tool} ...", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, str(SHARED / "tools" / tool), str(out)], check=True,
                       stdout=subprocess.DEVNULL)
    return out


def per_photo_seconds(scorer, model: str, photos: list[Path], repeats: int) -> tuple[float, dict]:
    from app.core import preprocess
    from app.core.pipeline import StageTimes, default_workers, score_stream

    jobs = list(enumerate(photos[:1]))  # warm-up: first-run costs (kernels, caches) stay out
    list(score_stream(jobs, lambda: scorer, scorer.batch_size, 1, threading.Event(),
                      pixels_of=preprocess.for_model(model)))
    times = StageTimes()
    jobs = [(i, p) for i, p in enumerate(photos * repeats)]
    t0 = time.perf_counter()
    results = list(score_stream(jobs, lambda: scorer, scorer.batch_size, default_workers("cpu"), threading.Event(),
                                times=times, pixels_of=preprocess.for_model(model)))
    wall = time.perf_counter() - t0
    assert all(r.error is None for r in results), [r.error for r in results if r.error]
    n = len(results)
    return wall / n, {"decode": times.decode / n, "preprocess": times.preprocess / n, "encode": times.encode / n}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--siglip", type=Path, help="a SigLIP so400m folder (default: a random one)")
    parser.add_argument("--clip", type=Path, help="a CLIP ViT-L/14 folder (default: a random one)")
    parser.add_argument("--photos", type=Path, default=SHARED / "photos")
    parser.add_argument("--timed", type=int, default=6, help="photos timed per model")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()

    import torch
    from PIL import Image, ImageOps

    from app.config import models
    from app.core import decode, preprocess, weights
    from app.core.scorer import Scorer

    photos = sorted(p for p in args.photos.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if not photos:
        print(f"no photos in {args.photos}", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="bench-two-models-"))
    os.environ.setdefault("AESTHETE_HOME", str(tmp / "home"))  # keeps conversions out of the user's cache
    siglip = args.siglip or make("make_random_siglip.py", tmp / "siglip")
    clip = args.clip or make("make_random_clip.py", tmp / "clip")
    v25_head, laion_head = SHARED / "models" / models.V2_5.head_file, SHARED / "models" / models.LAION_V2.head_file
    print(f"{len(photos)} photos from {args.photos}; torch threads {torch.get_num_threads()}, "
          f"{os.cpu_count()} CPUs", flush=True)

    # Parity: fp32 against the upstream-style pipeline of the parity test, on the full-size photos.
    from tests.unit.test_laion_v2 import upstream_scores

    laion_files = weights.locate(str(clip), str(laion_head), model="laion-v2")
    fp32 = Scorer(laion_files, device="cpu", precision="fp32")
    ours = np.array([fp32.score_batch(preprocess.clip_pixel_values(decode.decode(p).image)[None])[0][0]
                     for p in photos])
    ref = upstream_scores([ImageOps.exif_transpose(Image.open(p)) for p in photos], clip, laion_head)
    diff = np.abs(ours - np.array(ref))
    print(f"LAION V2 fp32 vs upstream-style pipeline ({len(photos)} photos): max |diff| {diff.max():.4f}, "
          f"mean {diff.mean():.4f} (scores {ours.min():.2f} to {ours.max():.2f})", flush=True)

    # The CPU default of each model, and LAION V2's int8 drift against its fp32.
    laion = Scorer(laion_files, device="cpu", precision="auto")
    drift = np.abs(np.array([laion.score_batch(preprocess.clip_pixel_values(decode.decode(p).image)[None])[0][0]
                             for p in photos]) - ours)
    print(f"LAION V2 CPU default ({laion.label}, {laion.runtime}) vs fp32: mean |drift| {drift.mean():.4f}, "
          f"max {drift.max():.4f}", flush=True)
    del fp32
    timed = photos[:args.timed]
    laion_s, laion_stages = per_photo_seconds(laion, "laion-v2", timed, args.repeats)
    laion_label = f"{laion.label}, {laion.runtime}"
    del laion
    v25 = Scorer(weights.locate(str(siglip), str(v25_head)), device="cpu", precision="auto",
                 on_status=lambda m: print(m, file=sys.stderr, flush=True))
    v25_s, v25_stages = per_photo_seconds(v25, "v2.5", timed, args.repeats)
    print(f"\nper photo, CPU default, {len(timed) * args.repeats} photos each (decode and preprocess overlap):")
    for name, label, seconds, stages in (("V2.5", f"{v25.label}, {v25.runtime}", v25_s, v25_stages),
                                         ("LAION V2", laion_label, laion_s, laion_stages)):
        print(f"  {name:9s} ({label:15s}) {seconds:6.3f} s/photo  "
              + "  ".join(f"{k} {v:.3f}" for k, v in stages.items()))
    print(f"  LAION V2 / V2.5 time: {laion_s / v25_s:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
