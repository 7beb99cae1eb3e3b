"""Decoding benchmark: how many photos per second the CPU side of scoring prepares (read, decode at
reduced size, EXIF orientation, SigLIP preprocessing, technical quality, scene hash), by worker
count, in threads (what the app uses) and in processes (no shared interpreter lock); and, with
--nvjpeg on a CUDA machine with torchvision, full-size decoding on the GPU for comparison.

    python tests/bench/bench_decode.py [--repeat 4] [--workers 1,4,8,15] [--processes 8,15] [--nvjpeg]

This is the ceiling the GPU path's end-to-end rate is held to: a GPU scores a batch faster than
the CPU prepares it unless this rate is above the model's (bench_scoring.py's model/s column).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_scoring import SHARED, make_inputs, repeat_inputs  # noqa: E402


def prepare_one(path: Path):
    from app.core.pipeline import prepare
    from app.library import photo_extras

    p = prepare(0, path, 768, photo_extras, None)
    if p.error is not None:
        raise RuntimeError(f"{path}: {p.error}")
    return p.pixels.shape


def rate(files: list[Path], workers: int, processes: bool) -> float:
    pool_type = ProcessPoolExecutor if processes else ThreadPoolExecutor
    with pool_type(max_workers=workers) as pool:
        list(pool.map(prepare_one, files[:workers]))  # warm-up: imports, first decodes
        t0 = time.perf_counter()
        list(pool.map(prepare_one, files, chunksize=1))
        return len(files) / (time.perf_counter() - t0)


def nvjpeg_rate(files: list[Path], batch: int = 32) -> str:
    import torch
    import torchvision
    from torchvision.io import decode_jpeg, read_file

    datas = [read_file(str(f)) for f in files]
    torch.nn.functional.interpolate  # noqa: B018
    def run(chunk):
        imgs = decode_jpeg(chunk, device="cuda")
        return [torch.nn.functional.interpolate(im[None].float(), size=(384, 384), mode="bicubic",
                                                antialias=True) for im in imgs]
    run(datas[:batch])
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for i in range(0, len(datas), batch):
        run(datas[i:i + batch])
    torch.cuda.synchronize()
    return (f"{len(files) / (time.perf_counter() - t0):.1f} img/s (torchvision {torchvision.__version__}, "
            f"batches of {batch}, full-size decode + bicubic resize to 384 on the GPU)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", type=Path, default=SHARED / "photos")
    ap.add_argument("--sizes", default="12,24")
    ap.add_argument("--repeat", type=int, default=4)
    ap.add_argument("--workers", default=None, help="thread counts (default 1, 2, 4, ... up to the CPUs - 1)")
    ap.add_argument("--processes", default="", help="process counts to compare")
    ap.add_argument("--nvjpeg", action="store_true")
    args = ap.parse_args()
    cpus = os.cpu_count() or 2
    work = Path(tempfile.mkdtemp(prefix="aesthete-decode-"))
    photos = sorted(args.photos.glob("*.jpg"))
    files = repeat_inputs(make_inputs(photos, work, [float(s) for s in args.sizes.split(",")]), args.repeat)
    counts = [int(w) for w in args.workers.split(",")] if args.workers else sorted(
        {1, *[w for w in (2, 4, 8, 16) if w < cpus], max(1, cpus - 1)})
    print(f"# {len(files)} JPEGs ({args.sizes} MP), {cpus} CPUs, threads {counts}, "
          f"processes {args.processes or 'none'}", flush=True)
    results = []
    base = None
    for kind, ws in (("threads", counts), ("processes", [int(w) for w in args.processes.split(",") if w])):
        for w in ws:
            r = rate(files, w, kind == "processes")
            base = base or r
            results.append((kind, w, r))
            print(f"# {w} {kind}: {r:.1f} img/s", flush=True)
    print(f"\n{'workers':>16s} {'img/s':>8s} {'x one':>6s} {'ms/img/worker':>14s}")
    for kind, w, r in results:
        print(f"{w:6d} {kind:>9s} {r:8.1f} {r / base:6.2f} {1000 * w / r:14.1f}")
    if args.nvjpeg:
        try:
            print("nvjpeg:", nvjpeg_rate(files))
        except Exception as exc:
            print(f"nvjpeg: not measured ({type(exc).__name__}: {exc})")


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    main()
