"""Scoring benchmark: the upstream loop against Aesthete's pipeline configurations, in one run.

Prints per configuration: images/s, ratio to the upstream loop, per-stage seconds per image
(decode, preprocess, encode, head, store), peak memory, and score drift against our fp32 on a
set of small variant images (mean/max absolute difference, Spearman rank correlation).

    python tests/bench/bench_scoring.py --quick            # a few minutes
    python tests/bench/bench_scoring.py                    # the full run (well under an hour)

Defaults: the full-size random SigLIP made by ../shared/tools/make_random_siglip.py (created in
a temp folder when --encoder is not given) and the real head from ../shared/models.
"""
from __future__ import annotations

import argparse
import gc
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


class PeakMemory:
    """Peak resident memory of this process while the block runs (sampled every 20 ms)."""

    def __enter__(self):
        import psutil

        self.proc = psutil.Process()
        self.start = self.peak = self.proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self.proc.memory_info().rss)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)


def make_inputs(photos: list[Path], out: Path, sizes: list[float]) -> list[Path]:
    """The sample photos upscaled to the given megapixels, saved as camera-like JPEGs."""
    from PIL import Image

    files = []
    for src in photos:
        im = Image.open(src).convert("RGB")
        for mp in sizes:
            w = int((mp * 1e6 * 4 / 3) ** 0.5)
            h = int(w * 3 / 4)
            dest = out / f"{src.stem}-{mp:g}mp.jpg"
            im.resize((w, h), Image.Resampling.BICUBIC).save(dest, quality=92)
            files.append(dest)
    return files


def make_variants(photos: list[Path], out: Path, count: int) -> list[Path]:
    """Small crops, flips and exposure variants of the sample photos, for drift statistics."""
    from PIL import Image, ImageEnhance, ImageOps

    rng = np.random.default_rng(7)
    files = []
    for i in range(count):
        im = Image.open(photos[i % len(photos)]).convert("RGB")
        w, h = im.size
        cw, ch = int(w * rng.uniform(0.4, 1.0)), int(h * rng.uniform(0.4, 1.0))
        x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        im = im.crop((x, y, x + cw, y + ch))
        if rng.random() < 0.5:
            im = ImageOps.mirror(im)
        im = ImageEnhance.Brightness(im).enhance(float(rng.uniform(0.6, 1.4)))
        im.thumbnail((512, 512))
        dest = out / f"variant-{i:03d}.jpg"
        im.save(dest, quality=90)
        files.append(dest)
    return files


def upstream_loop(files, encoder_dir, head_path):
    """As upstream runs it: PIL open, the PIL SigLIP processor, fp32 model, one image at a time."""
    import torch
    from PIL import Image
    from transformers import SiglipVisionModel

    try:
        from transformers import SiglipImageProcessorPil as Proc
    except ImportError:
        from transformers import SiglipImageProcessor as Proc
    from app.core.model import load_head

    proc = Proc(size={"height": 384, "width": 384}, image_mean=[0.5] * 3, image_std=[0.5] * 3, resample=3)
    enc = SiglipVisionModel.from_pretrained(str(encoder_dir)).eval()
    head = load_head(head_path)
    t = dict(decode=0.0, preprocess=0.0, encode=0.0, head=0.0, store=0.0)
    scores = []
    start = time.perf_counter()
    for f in files:
        t0 = time.perf_counter()
        im = Image.open(f).convert("RGB")
        t1 = time.perf_counter()
        px = proc(images=im, return_tensors="pt")["pixel_values"]
        t2 = time.perf_counter()
        with torch.inference_mode():
            emb = enc(pixel_values=px).pooler_output
            emb = emb / emb.norm(dim=-1, keepdim=True)
            t3 = time.perf_counter()
            scores.append(float(head(emb).item()))
        t4 = time.perf_counter()
        t["decode"] += t1 - t0
        t["preprocess"] += t2 - t1
        t["encode"] += t3 - t2
        t["head"] += t4 - t3
    wall = time.perf_counter() - start
    del enc
    return np.array(scores), t, wall


def ours(files, encoder_dir, head_path, precision, batch_size, compile_model, db_dir, runtime="auto"):
    """Aesthete's pipeline: decode pool, reduced-size JPEG decode, batches, store to SQLite."""
    import torch

    from app.config import settings as settings_mod
    from app.core.scorer import Scorer, locate
    from app.library import ModelHolder, analyse
    from app.storage import db, repo

    s = settings_mod.load(overrides={"encoder": str(encoder_dir), "head": str(head_path), "device": "auto",
                                     "precision": precision, "runtime": runtime, "batch_size": batch_size})
    holder = ModelHolder(s)
    t_load = time.perf_counter()
    scorer = holder.get()
    if compile_model:
        scorer.compile()
        # warm-up so compile time is not counted as throughput (it is reported separately)
        from app.core import decode, preprocess

        px = np.stack([preprocess.pixel_values(decode.decode(files[0]).image)] * batch_size)
        scorer.score_batch(px)
    load_s = time.perf_counter() - t_load
    engine = db.open_db(Path(db_dir) / f"bench-{precision}-{batch_size}-{int(compile_model)}-{time.time_ns()}.sqlite3")
    root = repo.add_root(engine, os.path.dirname(files[0]))
    from app.core.scanner import scan

    repo.sync_root(engine, root, [e for e in scan(root.path).entries if e.path in {str(f) for f in files}])
    items = repo.pending(engine, holder.key(), rescore=True)
    order = {str(f): i for i, f in enumerate(files)}
    items.sort(key=lambda p: order[p.path])
    summary = analyse(engine, holder, items, batch_size=batch_size)
    rows = {p.path: p.score for p in repo.list_photos(engine, model_key=holder.key(), precision=scorer.label)}
    scores = np.array([rows[str(f)] for f in files])
    t = summary.times
    engine.dispose()
    device = f"{scorer.device_name} {scorer.runtime}"
    del scorer, holder
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return scores, t.as_dict(), t.wall, load_s, device


def spearman(a, b) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer photos and variants")
    ap.add_argument("--encoder", type=Path, help="SigLIP folder (default: make the full-size random one)")
    ap.add_argument("--head", type=Path, default=SHARED / "models" / "aesthetic_predictor_v2_5.pth")
    ap.add_argument("--photos", type=Path, default=SHARED / "photos")
    ap.add_argument("--configs", default=None,
                    help="comma-separated precision[@runtime]:batch[:compile], runtime torch or onnx "
                         "(default per device: CPU fp32:1,int8@torch:1,int8@onnx:1; "
                         "GPU fp32:32,bf16:32,fp16:32,bf16:64)")
    ap.add_argument("--sizes", default="12,24", help="megapixels of the throughput JPEGs")
    ap.add_argument("--drift-images", type=int, default=None)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = ap.parse_args()

    import torch

    if args.configs is None:
        args.configs = ("fp32:32,bf16:32,fp16:32,bf16:64" if torch.cuda.is_available()
                        else "fp32:1,int8@torch:1,int8@onnx:1")
    if args.threads:
        torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="aesthete-bench-"))
    os.environ.setdefault("AESTHETE_HOME", str(work / "home"))
    encoder = args.encoder
    if encoder is None:
        encoder = work / "siglip-random"
        print(f"# making the full-size random SigLIP in {encoder}", flush=True)
        subprocess.run([sys.executable, str(SHARED / "tools" / "make_random_siglip.py"), str(encoder)],
                       check=True, capture_output=True)
    photos = sorted(args.photos.glob("*.jpg"))
    n_photos = 4 if args.quick else len(photos)
    sizes = [float(s) for s in args.sizes.split(",")][: 1 if args.quick else None]
    (work / "big").mkdir()
    (work / "variants").mkdir()
    files = make_inputs(photos[:n_photos], work / "big", sizes)
    drift_n = args.drift_images or (24 if args.quick else 120)
    variants = make_variants(photos, work / "variants", drift_n)
    print(f"# {len(files)} throughput images ({', '.join(f'{s:g} MP' for s in sizes)} JPEGs from "
          f"{n_photos} photos), {len(variants)} drift images; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; encoder {encoder}", flush=True)

    with PeakMemory() as mem:
        base_scores, base_t, base_wall = upstream_loop(files, encoder, args.head)
    base_rate = len(files) / base_wall
    rows = [("upstream loop fp32 b1", base_rate, 1.0, base_t, len(files), mem.peak - mem.start, 0.0, None, "cpu")]
    print(f"# upstream loop: {base_rate:.3f} img/s", flush=True)
    ref_variant_scores = None
    drift = {}
    drift_by_kind: dict = {}
    for spec in args.configs.split(","):
        parts = spec.split(":")
        precision, _, runtime = parts[0].partition("@")
        runtime = runtime or "auto"
        batch = int(parts[1])
        comp = len(parts) > 2 and parts[2] == "compile"
        name = f"aesthete {parts[0]} b{batch}" + (" compiled" if comp else "")
        try:
            if runtime == "onnx":  # the one-time conversion is model loading: done (and timed) first
                t0 = time.perf_counter()
                ours(files[:1], encoder, args.head, precision, batch, comp, work, runtime)
                print(f"# {name}: one-time ONNX conversion and first load {time.perf_counter() - t0:.0f} s",
                      flush=True)
            with PeakMemory() as mem:
                scores, t, wall, load_s, device = ours(files, encoder, args.head, precision, batch, comp, work,
                                                       runtime)
            rate = len(files) / wall
            rows.append((name, rate, rate / base_rate, t, len(files), mem.peak - mem.start, load_s, scores, device))
            print(f"# {name}: {rate:.3f} img/s ({rate / base_rate:.2f}x); model load {load_s:.1f}s", flush=True)
            # A photo's score does not depend on its batch, so drift is measured once per
            # precision and compile setting.
            kind = (precision, runtime, comp)
            if kind not in drift_by_kind:
                drift_by_kind[kind], _, _, _, _ = ours(variants, encoder, args.head, precision, batch, comp, work,
                                                       runtime)
                if ref_variant_scores is None and precision == "fp32":
                    ref_variant_scores = drift_by_kind[kind]
            drift[name] = drift_by_kind[kind]
        except Exception as exc:  # report and go on: one configuration failing is a finding
            print(f"# {name}: FAILED {type(exc).__name__}: {exc}", flush=True)
    print()
    print(f"{'configuration':28s} {'img/s':>7s} {'x up':>6s} {'decode':>7s} {'prep':>6s} {'encode':>7s} "
          f"{'head':>6s} {'store':>6s} {'peakMB':>7s} {'drift mean':>10s} {'max':>6s} {'spearman':>8s}")
    for name, rate, ratio, t, n, peak, load_s, scores, device in rows:
        per = {k: t.get(k, 0.0) / n for k in ("decode", "preprocess", "encode", "head", "store")}
        d_mean = d_max = rho = float("nan")
        if name in drift and ref_variant_scores is not None:
            diff = np.abs(drift[name] - ref_variant_scores)
            d_mean, d_max, rho = diff.mean(), diff.max(), spearman(drift[name], ref_variant_scores)
        print(f"{name:28s} {rate:7.3f} {ratio:6.2f} {per['decode']:7.3f} {per['preprocess']:6.3f} "
              f"{per['encode']:7.3f} {per['head']:6.3f} {per['store']:6.3f} {peak / 2**20:7.0f} "
              f"{d_mean:10.4f} {d_max:6.3f} {rho:8.4f}")
    fp32_rows = [r for r in rows[1:] if r[0].startswith("aesthete fp32") and r[7] is not None]
    if fp32_rows:
        parity = np.abs(fp32_rows[0][7] - base_scores)
        print(f"\nparity, aesthete fp32 vs upstream loop on the throughput images: mean {parity.mean():.4f}, "
              f"max {parity.max():.4f} (reduced-size JPEG decode included)")
    print("per-stage figures are seconds per image summed over threads (decode/preprocess run in a pool, "
          "overlapping the encoder); peakMB is the rise in resident memory during the configuration.")


if __name__ == "__main__":
    main()
