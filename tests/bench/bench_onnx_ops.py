"""Where the CPU encoder's time goes: ONNX Runtime's profiler over the converted encoder, per
operator type, and the side-by-side runs against one run on all threads, in one process.

    python tests/bench/bench_onnx_ops.py --encoder /tmp/siglip-full [--rounds 6]

The encoder is converted (or taken from the user cache) exactly as the app does it. The int8
matrix products' share is what bounds the CPU speed-up: the rest of the graph can only shrink
what is left over.
"""
from __future__ import annotations

import argparse
import collections
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

INT8_PRODUCTS = ("DynamicQuantizeMatMul", "MatMulIntegerToFloat", "MatMulInteger")


def session(path: Path, threads: int, profile: Path | None = None):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    if profile is not None:
        opts.enable_profiling = True
        opts.profile_file_prefix = str(profile)
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def by_operator(path: Path, threads: int, x: np.ndarray, runs: int) -> tuple[dict[str, float], float]:
    """Seconds per image by operator type (profiled runs after a warm-up), and wall seconds per image."""
    s = session(path, threads, Path(tempfile.mkdtemp()) / "ort")
    s.run(None, {"pixel_values": x})
    t0 = time.perf_counter()
    for _ in range(runs):
        s.run(None, {"pixel_values": x})
    wall = (time.perf_counter() - t0) / runs
    events = json.loads(Path(s.end_profiling()).read_text())
    totals: collections.Counter = collections.Counter()
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            totals[e["args"]["op_name"]] += e["dur"] / 1e6
    return {op: t / (runs + 1) for op, t in totals.most_common()}, wall


def side_by_side(path: Path, threads: int, x: np.ndarray, rounds: int) -> tuple[list[float], list[float]]:
    """Seconds per image: one run at a time on all threads, against two runs at once on one thread each."""
    whole, split = session(path, threads), session(path, max(1, threads // 2))
    for s in (whole, split):
        s.run(None, {"pixel_values": x})
    one, two = [], []
    for _ in range(rounds):
        t0 = time.perf_counter()
        whole.run(None, {"pixel_values": x})
        whole.run(None, {"pixel_values": x})
        one.append((time.perf_counter() - t0) / 2)
        pair = [threading.Thread(target=split.run, args=(None, {"pixel_values": x})) for _ in range(2)]
        t0 = time.perf_counter()
        for t in pair:
            t.start()
        for t in pair:
            t.join()
        two.append((time.perf_counter() - t0) / 2)
    return one, two


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--encoder", type=Path, required=True, help="SigLIP folder (make_random_siglip.py)")
    ap.add_argument("--precision", choices=("int8", "fp32"), default="int8")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=3, help="profiled runs")
    ap.add_argument("--rounds", type=int, default=6, help="alternating rounds for the side-by-side comparison")
    args = ap.parse_args()

    from app.config import paths
    from app.core import model as model_files
    from app.core import onnx_engine

    source = model_files.resolve_encoder(str(args.encoder), False)
    t0 = time.perf_counter()
    # Converted (or found in the cache) as the app does it; the sessions below are this script's own.
    onnx_engine.load(source.path, source.key, args.precision, paths.cache_dir(), args.threads, threading.Event())
    path = onnx_engine.cache_file(source.key, args.precision, paths.cache_dir())
    print(f"# {path} ({path.stat().st_size / 1e6:.0f} MB; conversion or load {time.perf_counter() - t0:.0f} s), "
          f"{args.threads} threads", flush=True)
    x = np.random.default_rng(0).uniform(-1, 1, (1, 3, 384, 384)).astype(np.float32)

    ops, wall = by_operator(path, args.threads, x, args.runs)
    total = sum(ops.values())
    print(f"\n{'operator':28s} {'s/image':>8s} {'share':>6s}")
    for op, t in ops.items():
        if t >= 0.001:
            print(f"{op:28s} {t:8.3f} {100 * t / total:5.1f}%")
    int8 = sum(t for op, t in ops.items() if op in INT8_PRODUCTS)
    print(f"{'int8 matrix products':28s} {int8:8.3f} {100 * int8 / total:5.1f}%")
    print(f"wall {wall:.3f} s/image (operator times are averaged over the runs and the warm-up: {total:.3f})")

    if args.threads >= 2:
        one, two = side_by_side(path, args.threads, x, args.rounds)
        a, b = statistics.median(one), statistics.median(two)
        print(f"\none run, {args.threads} threads:      " + " ".join(f"{v:.2f}" for v in one) + f"  median {a:.3f} s/image")
        print(f"two runs, {max(1, args.threads // 2)} thread(s) each: " + " ".join(f"{v:.2f}" for v in two)
              + f"  median {b:.3f} s/image ({a / b:.2f}x)")


if __name__ == "__main__":
    main()
