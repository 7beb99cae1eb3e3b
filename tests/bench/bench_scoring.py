"""Scoring benchmark: the upstream loop against Aesthete's pipeline configurations, in one run.

Prints per configuration: images/s, ratio to the upstream loop, per-stage seconds per image
(decode, preprocess, encode, head, store), peak memory, and score drift against our fp32 on a
set of small variant images (mean/max absolute difference, Spearman rank correlation).

    python tests/bench/bench_scoring.py --quick            # a few minutes
    python tests/bench/bench_scoring.py                    # the full run (well under an hour)

Defaults: the full-size random SigLIP made by ../shared/tools/make_random_siglip.py (created in
a temp folder when --encoder is not given) and the real head from ../shared/models.

On a CUDA GPU the upstream loop runs as upstream's README has it (bf16 on the GPU, one image at a
time), each throughput JPEG is used under 16 names (a GPU needs many batches), and the table adds
the GPU's busy share (NVML), its peak memory, the model's rate alone on random pixels, and the
end-to-end rate as a share of that: near 1, the model is the limit; far below, the CPU side is.
tests/bench/gpu_bench.sh runs it on a GPU machine that lacks the app's other packages.
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


class GpuMonitor:
    """Mean GPU utilisation (NVML's busy percentage, sampled every 50 ms) and peak GPU memory while
    the block runs; nan where there is no CUDA GPU or no NVML (the nvidia-ml-py package)."""

    def __enter__(self):
        import torch

        self.samples: list[int] = []
        self.peak_mb = float("nan")
        self._stop = threading.Event()
        self._thread = None
        if not torch.cuda.is_available():
            return self
        torch.cuda.reset_peak_memory_stats()
        try:
            import pynvml

            pynvml.nvmlInit()
            handle = pynvml.nvmlDeviceGetHandleByIndex(torch.cuda.current_device())
        except Exception as exc:  # no NVML: utilisation is not reported
            print(f"# GPU utilisation not sampled: {exc}", flush=True)
            return self

        def sample():
            while not self._stop.wait(0.05):
                self.samples.append(pynvml.nvmlDeviceGetUtilizationRates(handle).gpu)

        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        import torch

        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if torch.cuda.is_available():
            self.peak_mb = torch.cuda.max_memory_allocated() / 2**20

    @property
    def busy(self) -> float:
        return float(np.mean(self.samples)) if self.samples else float("nan")


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


def repeat_inputs(files: list[Path], times: int) -> list[Path]:
    """More distinct photos for a GPU, which needs many batches: each file under more names
    (hard links where the file system allows, else copies)."""
    import shutil

    out = list(files)
    for k in range(1, times):
        for f in files:
            dest = f.with_name(f"{f.stem}-r{k}{f.suffix}")
            try:
                os.link(f, dest)
            except OSError:
                shutil.copyfile(f, dest)
            out.append(dest)
    return out


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
    """As upstream's README runs it, one image at a time: PIL open, the SigLIP image processor, then
    the model; on a CPU in fp32 (with the PIL processor), on a GPU in bf16 (`.to(torch.bfloat16).cuda()`,
    with the processor transformers picks by default)."""
    import torch
    from PIL import Image
    from transformers import SiglipVisionModel

    from app.core.model import load_head

    try:
        from transformers import SiglipImageProcessorPil as PilProc
    except ImportError:
        from transformers import SiglipImageProcessor as PilProc
    from transformers import SiglipImageProcessor as DefaultProc

    cuda = torch.cuda.is_available()
    dtype = torch.bfloat16 if cuda else torch.float32
    device = "cuda" if cuda else "cpu"
    options = dict(size={"height": 384, "width": 384}, image_mean=[0.5] * 3, image_std=[0.5] * 3, resample=3)
    proc = PilProc(**options)
    if cuda:
        try:
            proc = DefaultProc(**options)
            proc(images=Image.new("RGB", (64, 48)), return_tensors="pt")
        except Exception as exc:
            print(f"# upstream loop: the default image processor failed ({exc}); the PIL one runs", flush=True)
            proc = PilProc(**options)
    print(f"# upstream loop: {type(proc).__name__}, {dtype} on {device}", flush=True)
    enc = SiglipVisionModel.from_pretrained(str(encoder_dir)).eval().to(device, dtype)
    head = load_head(head_path).to(device, dtype)
    t = dict(decode=0.0, preprocess=0.0, encode=0.0, head=0.0, store=0.0)
    scores = []
    start = time.perf_counter()
    for f in files:
        t0 = time.perf_counter()
        im = Image.open(f).convert("RGB")
        t1 = time.perf_counter()
        px = proc(images=im, return_tensors="pt")["pixel_values"].to(device, dtype)
        t2 = time.perf_counter()
        with torch.inference_mode():
            emb = enc(pixel_values=px).pooler_output
            emb = emb / emb.norm(dim=-1, keepdim=True)
            if cuda:
                torch.cuda.synchronize()
            t3 = time.perf_counter()
            scores.append(float(head(emb).float().item()))
        t4 = time.perf_counter()
        t["decode"] += t1 - t0
        t["preprocess"] += t2 - t1
        t["encode"] += t3 - t2
        t["head"] += t4 - t3
    wall = time.perf_counter() - start
    del enc
    gc.collect()
    if cuda:
        torch.cuda.empty_cache()
    return np.array(scores), t, wall, ("bf16" if cuda else "fp32")


def ours(files, encoder_dir, head_path, precision, batch_size, compile_model, db_dir, runtime="auto",
         workers=None):
    """Aesthete's pipeline: decode pool, reduced-size JPEG decode, batches, store to SQLite."""
    import torch

    from app.config import settings as settings_mod
    from app import library
    from app.library import ModelHolder, analyse
    from app.storage import db, repo

    s = settings_mod.load(overrides={"encoder": str(encoder_dir), "head": str(head_path), "device": "auto",
                                     "precision": precision, "runtime": runtime, "batch_size": batch_size,
                                     **({"decode_workers": workers} if workers else {})})
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

    library.sync_root(engine, root, [e for e in scan(root.path).entries if e.path in {str(f) for f in files}])
    items = repo.pending(engine, holder.key(), rescore=True)
    order = {str(f): i for i, f in enumerate(files)}
    items.sort(key=lambda p: order[p.path])
    with GpuMonitor() as gpu:
        summary = analyse(engine, holder, items, batch_size=batch_size)
    model_rate = model_only_rate(scorer, batch_size) if scorer.device.type == "cuda" else float("nan")
    rows = {p.path: p.score for p in repo.list_photos(engine, model_key=holder.key(), precision=scorer.label)}
    scores = np.array([rows[str(f)] for f in files])
    t = summary.times
    engine.dispose()
    device = f"{scorer.device_name} {scorer.runtime}"
    del scorer, holder
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return scores, t.as_dict(), t.wall, load_s, device, (gpu.busy, gpu.peak_mb, model_rate)


def model_only_rate(scorer, batch_size: int, batches: int = 20) -> float:
    """Images/s of the model alone (host-to-GPU copy, encoder, head, results back), on random pixels:
    the ceiling the end-to-end figure is compared with."""
    rng = np.random.default_rng(0)
    sets = [rng.uniform(-1, 1, (batch_size, 3, 384, 384)).astype(np.float32) for _ in range(3)]
    for px in sets:  # warm-up
        scorer.score_batch(px)
    t0 = time.perf_counter()
    for i in range(batches):
        scorer.score_batch(sets[i % len(sets)])  # returns numpy: the GPU has finished
    return batches * batch_size / (time.perf_counter() - t0)


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
    ap.add_argument("--repeat", type=int, default=None,
                    help="each throughput JPEG under this many names (default: 1 on a CPU, 16 on a GPU)")
    ap.add_argument("--baseline-images", type=int, default=None,
                    help="how many of the throughput images the upstream loop scores (default: all)")
    ap.add_argument("--decode-workers", type=int, default=None, help="decoder threads (default: the app's)")
    ap.add_argument("--drift-images", type=int, default=None)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = ap.parse_args()

    import torch

    cuda = torch.cuda.is_available()
    if args.configs is None:
        args.configs = "fp32:32,bf16:32,fp16:32,bf16:64" if cuda else "fp32:1,int8@torch:1,int8@onnx:1,int8@onnx:2"
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
    files = repeat_inputs(make_inputs(photos[:n_photos], work / "big", sizes), args.repeat or (16 if cuda else 1))
    baseline_files = files[: args.baseline_images or len(files)]
    drift_n = args.drift_images or (24 if args.quick else 120)
    variants = make_variants(photos, work / "variants", drift_n)
    from app.core.pipeline import default_workers

    workers = args.decode_workers or default_workers("cuda" if cuda else "cpu")
    print(f"# {len(files)} throughput images ({', '.join(f'{s:g} MP' for s in sizes)} JPEGs from "
          f"{n_photos} photos), {len(variants)} drift images; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, {workers} decoder threads, {os.cpu_count()} CPUs; "
          f"{torch.cuda.get_device_name() if cuda else 'no GPU'}; encoder {encoder}; app from "
          f"{Path(sys.modules['app'].__file__).parent}", flush=True)

    with PeakMemory() as mem:
        base_scores, base_t, base_wall, base_precision = upstream_loop(baseline_files, encoder, args.head)
    base_rate = len(baseline_files) / base_wall
    nan3 = (float("nan"),) * 3
    rows = [(f"upstream loop {base_precision} b1", base_rate, 1.0, base_t, len(baseline_files),
             mem.peak - mem.start, 0.0, None, "upstream", nan3)]
    print(f"# upstream loop ({len(baseline_files)} images): {base_rate:.3f} img/s", flush=True)
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
        run = dict(encoder_dir=encoder, head_path=args.head, precision=precision, batch_size=batch,
                   compile_model=comp, db_dir=work, runtime=runtime, workers=args.decode_workers)
        try:
            if runtime == "onnx":  # the one-time conversion is model loading: done (and timed) first
                t0 = time.perf_counter()
                ours(files[:1], **run)
                print(f"# {name}: one-time ONNX conversion and first load {time.perf_counter() - t0:.0f} s",
                      flush=True)
            with PeakMemory() as mem:
                scores, t, wall, load_s, device, gpu = ours(files, **run)
            rate = len(files) / wall
            rows.append((name, rate, rate / base_rate, t, len(files), mem.peak - mem.start, load_s, scores, device,
                         gpu))
            print(f"# {name}: {rate:.3f} img/s ({rate / base_rate:.2f}x); model load {load_s:.1f}s"
                  + (f"; GPU busy {gpu[0]:.0f}%, model alone {gpu[2]:.1f} img/s" if cuda else ""), flush=True)
            # A photo's score does not depend on its batch, so drift is measured once per
            # precision and compile setting.
            kind = (precision, runtime, comp)
            if kind not in drift_by_kind:
                drift_by_kind[kind] = ours(variants, **run)[0]
                if ref_variant_scores is None and precision == "fp32":
                    ref_variant_scores = drift_by_kind[kind]
            drift[name] = drift_by_kind[kind]
        except Exception as exc:  # report and go on: one configuration failing is a finding
            print(f"# {name}: FAILED {type(exc).__name__}: {exc}", flush=True)
    print()
    gpu_head = f" {'gpu%':>5s} {'gpuMB':>6s} {'model/s':>8s} {'of model':>8s}" if cuda else ""
    print(f"{'configuration':28s} {'img/s':>7s} {'x up':>6s} {'decode':>7s} {'prep':>6s} {'encode':>7s} "
          f"{'head':>6s} {'store':>6s} {'peakMB':>7s} {'drift mean':>10s} {'max':>6s} {'spearman':>8s}" + gpu_head)
    for name, rate, ratio, t, n, peak, load_s, scores, device, (busy, gpu_mb, model_rate) in rows:
        per = {k: t.get(k, 0.0) / n for k in ("decode", "preprocess", "encode", "head", "store")}
        d_mean = d_max = rho = float("nan")
        if name in drift and ref_variant_scores is not None:
            diff = np.abs(drift[name] - ref_variant_scores)
            d_mean, d_max, rho = diff.mean(), diff.max(), spearman(drift[name], ref_variant_scores)
        gpu_cols = (f" {busy:5.0f} {gpu_mb:6.0f} {model_rate:8.1f} {rate / model_rate:8.2f}" if cuda else "")
        print(f"{name:28s} {rate:7.3f} {ratio:6.2f} {per['decode']:7.3f} {per['preprocess']:6.3f} "
              f"{per['encode']:7.3f} {per['head']:6.3f} {per['store']:6.3f} {peak / 2**20:7.0f} "
              f"{d_mean:10.4f} {d_max:6.3f} {rho:8.4f}" + gpu_cols)
    same = [r for r in rows[1:] if r[0].startswith(f"aesthete {base_precision} ") and r[7] is not None]
    if same:
        parity = np.abs(same[0][7][: len(base_scores)] - base_scores)
        print(f"\nparity, {same[0][0]} vs upstream loop on the same images: mean {parity.mean():.4f}, "
              f"max {parity.max():.4f} (reduced-size JPEG decode included)")
    print("per-stage figures are seconds per image summed over threads (decode/preprocess run in a pool, "
          "overlapping the encoder); peakMB is the rise in resident memory during the configuration.")
    if cuda:
        print("gpu% is NVML's busy share while scoring; gpuMB the peak GPU memory allocated; model/s the "
              "model alone on random pixels at that batch (copy in, encoder, head, copy out); 'of model' "
              "end-to-end over model alone.")


if __name__ == "__main__":
    main()
