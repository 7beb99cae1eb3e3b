"""The SigLIP encoder under ONNX Runtime: the fast CPU path (optional extra `aesthete[onnx]`).

On a CPU, ONNX Runtime's int8 kernels (MLAS) with int8 weights per output channel and activations
quantised on the fly run the so400m encoder about 1.8x as fast as PyTorch's fp32 and 1.2x as fast
as PyTorch's int8 on a quiet 2-core AVX2 machine, holding about 2 GB less memory
(tests/bench/bench_scoring.py). The encoder is converted once per model, in child processes (so
the conversion's memory never stays in the app, and a quit can stop it at once): one exports the
fp32 graph with its weights streamed to a file beside it, the next quantises them one tensor at a
time and checks the result against PyTorch (peak 2.2 GB for so400m, where exporting and
quantising in memory took 7.3 GB). The result is cached in the user cache folder; later starts
load it in about a second.

Activation scales are per tensor, so the encoder runs one image at a time: a photo's score never
depends on its batch-mates. On 2 cores the images of a batch run two at a time, one thread each:
5 to 11% more photos per second than one two-thread run (no waiting for the slower thread at
every operator). Weights use 7 bits (`reduce_range`): on
CPUs without VNNI the 8-bit u8*s8 products can saturate and the embeddings drift badly (measured:
cosine 0.90 to fp32 with 8 bits, 0.9994 with 7).
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.util
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path
from typing import Callable

import numpy as np

from app.core import diskcache
from app.errors import Cancelled, ModelInvalidError, SettingsError

log = logging.getLogger(__name__)

EXPORT_VERSION = 2  # bump when the exported graph or the quantisation changes
PRECISIONS = ("fp32", "int8")
# Agreement between the converted encoder and PyTorch's fp32 on a fixed input, checked once after
# every conversion (measured on the full-size encoder: fp32 1.0000, int8 0.9996).
MIN_COSINE = {"fp32": 0.9999, "int8": 0.99}
STALE_PART_S = 3600  # an unfinished conversion file untouched this long belongs to no one
STALE_BUILD_S = 30 * 86400  # another build's conversion of the same encoder, unused this long


def concurrent_runs(threads: int, batch_size: int | None = None) -> int:
    """How many images of a batch run side by side. On 2 threads, two one-thread runs (measured:
    faster than one two-thread run). Concurrent runs share one session's thread pool, so with more
    threads the split is not even; unmeasured there, so one run on all the threads."""
    return 2 if threads == 2 and (batch_size or 2) >= 2 else 1


def available() -> bool:
    """ONNX Runtime and the converter's packages are installed (`pip install 'aesthete[onnx]'`)."""
    return all(importlib.util.find_spec(name) is not None for name in ("onnxruntime", "onnx"))


def label(precision: str) -> str:
    """The precision recorded with each score: int8 here is not PyTorch's int8, so it is named."""
    return precision if precision == "fp32" else f"{precision}-onnx"


def cache_file(encoder_key: str, precision: str, cache_root: Path) -> Path:
    import onnxruntime
    import torch

    model = hashlib.sha256(f"{encoder_key}|{precision}".encode()).hexdigest()[:16]
    build = f"v{EXPORT_VERSION}|ort {onnxruntime.__version__}|torch {torch.__version__}"
    return cache_root / "onnx" / f"siglip-{precision}-{model}-{hashlib.sha256(build.encode()).hexdigest()[:8]}.onnx"


def forget_older(path: Path) -> None:
    """Called after `path` loaded: mark it used (its modification time) and remove what will not be
    read again (450 MB to 1.7 GB each): files of the first naming scheme (siglip-PRECISION-DIGEST24,
    all made by a release whose conversions are stale), this encoder's conversions by other builds
    (an older release, another ONNX Runtime or torch) unused for 30 days (another install may share
    this folder), and unfinished conversions abandoned for an hour. Failures are only logged."""
    model = path.name.rsplit("-", 1)[0]  # siglip-PRECISION-MODEL
    diskcache.mark_used(path)
    mine = path.name.split(".")[0]
    others = [old for old in path.parent.glob("siglip-*") if old.name.split(".")[0] != mine or old.is_dir()]
    diskcache.remove_abandoned([old for old in others if old.is_dir() and ".part" in old.name], STALE_PART_S)
    first_scheme = [old for old in others if not old.is_dir()
                    and re.fullmatch(r"siglip-(fp32|int8)-[0-9a-f]{24}", old.name.split(".")[0])]
    for old in first_scheme:
        log.info("removing a stale converted encoder: %s", old)
        try:
            old.unlink(missing_ok=True)
        except OSError as exc:
            log.info("could not remove %s: %s", old, exc)
    diskcache.prune([old for old in others if not old.is_dir() and old.name.split(".")[0].rsplit("-", 1)[0] == model],
                    max_age_s=STALE_BUILD_S)


def data_file(path: Path) -> Path:
    """The weights beside a converted fp32 encoder (an int8 one holds its weights itself)."""
    return path.with_name(path.name + ".data")


def convert(encoder_dir: Path, out: Path, precision: str, wait: Callable[[float], bool] | None = None,
            on_status: Callable[[str], None] | None = None) -> Path:
    """Convert the encoder in child processes, one per step (export, then quantise and check), so
    the memory of one is given back before the next; `wait(seconds)` returns True to cancel."""
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    diskcache.remove_abandoned(out.parent.glob(out.name + ".part*"), STALE_PART_S)  # died with its machine
    if on_status:
        on_status("Preparing the fast CPU engine (once per model; a minute or two)")
    work = Path(tempfile.mkdtemp(prefix=out.name + ".part", dir=out.parent))  # the children's unfinished files
    args = [str(encoder_dir), str(out), "--precision", precision, "--work", str(work)]
    if getattr(sys, "frozen", False):  # a PyInstaller bundle: its executable is the app itself
        cmd = [sys.executable, "--convert-onnx-encoder", *args]
    else:
        cmd = [sys.executable, "-m", "app.core.onnx_engine", *args]
    log.info("converting the encoder for ONNX Runtime: %s", " ".join(cmd))
    root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
    output, returncode = "", 0
    try:
        for step in ("export", "finish"):
            said, returncode = _child([*cmd, "--step", step], env, wait)
            output += said
            if returncode != 0:
                break
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if returncode != 0 or not out.exists():
        log.warning("the ONNX conversion failed (exit %s):\n%s", returncode, output)
        last = output.strip().splitlines()[-1] if output.strip() else f"exit status {returncode}"
        raise ModelInvalidError(f"could not prepare the ONNX Runtime encoder: {last}")
    log.info("ONNX conversion:\n%s", output.strip())
    return out


def _child(cmd: list[str], env: dict, wait: Callable[[float], bool] | None) -> tuple[str, int]:
    """Run one conversion step; killed at once when `wait` says cancel. Returns (output, exit status)."""
    with tempfile.TemporaryFile() as said:  # a file, not a pipe: a chatty child never blocks on it
        proc = subprocess.Popen(cmd, stdout=said, stderr=subprocess.STDOUT, env=env)
        try:
            while proc.poll() is None:
                if wait is None:
                    proc.wait()
                elif wait(0.2):
                    raise Cancelled()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        said.seek(0)
        return said.read().decode("utf-8", "replace"), proc.returncode


class OrtEncoder:
    """An ONNX Runtime session over a converted encoder: pixels (N,3,384,384) -> pooled (N,1152).
    Up to `runs` images run at once, on one session (they share its threads)."""

    def __init__(self, path: Path, threads: int, cancel: threading.Event, runs: int = 1):
        import onnxruntime as ort

        self.runs = max(1, runs)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = max(1, threads // self.runs)
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3  # warnings about unused initialisers are not the user's business
        try:
            self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # a truncated or foreign cache file
            raise ModelInvalidError(f"the cached ONNX encoder {path} is unusable ({exc}); it will be rebuilt") from exc
        self.cancel = cancel
        self._ort = ort
        # Started from the caller's thread on first use, so on Linux they inherit its priority.
        self._pool = ThreadPoolExecutor(self.runs, thread_name_prefix="onnx-run") if self.runs > 1 else None

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        """Each image in its own run (per-tensor activation scales), up to `runs` at once; raises
        Cancelled when asked to stop, after every run of the batch has stopped."""
        images = [np.ascontiguousarray(pixels[i:i + 1], dtype=np.float32) for i in range(len(pixels))]
        if self._pool is None or len(images) == 1:
            return np.concatenate([self._run(one) for one in images])
        futures = [self._pool.submit(self._run, one) for one in images]
        try:
            return np.concatenate([f.result() for f in futures])
        finally:
            for f in futures:
                f.cancel()
            wait(futures)  # none is left running on the session when this returns or raises

    def _run(self, one: np.ndarray) -> np.ndarray:
        if self.cancel.is_set():
            raise Cancelled()
        run_options = self._ort.RunOptions()
        done = threading.Event()
        stopped = threading.Event()  # the cancel flag may be cleared again (resume) before we look

        def watch() -> None:  # ONNX Runtime stops a run mid-graph when its terminate flag is set
            while not done.is_set():
                if self.cancel.wait(0.05):
                    stopped.set()
                    run_options.terminate = True
                    return

        watcher = threading.Thread(target=watch, name="onnx-cancel", daemon=True)
        watcher.start()
        try:
            return self.session.run(None, {"pixel_values": one}, run_options)[0]
        except Exception:
            if stopped.is_set() or self.cancel.is_set():
                raise Cancelled() from None
            raise
        finally:
            done.set()
            watcher.join()


def failure_file(encoder_key: str, precision: str, cache_root: Path) -> Path:
    return cache_file(encoder_key, precision, cache_root).with_suffix(".failed")


def previous_failure(encoder_key: str, precision: str, cache_root: Path) -> str | None:
    """Why converting this encoder failed before (then `auto` does not try again), or None."""
    try:
        return failure_file(encoder_key, precision, cache_root).read_text(encoding="utf-8").strip() or "failed"
    except OSError:
        return None


def load(encoder_dir: Path, encoder_key: str, precision: str, cache_root: Path, threads: int,
         cancel: threading.Event, on_status: Callable[[str], None] | None = None, runs: int = 1) -> OrtEncoder:
    """The converted encoder, converting it first when it is not cached yet (or is unusable).
    A failure is remembered next to the cache file (see previous_failure); a success forgets it."""
    if precision not in PRECISIONS:
        raise SettingsError(f"ONNX Runtime runs fp32 or int8, not {precision}")
    path = cache_file(encoder_key, precision, cache_root)
    failed = failure_file(encoder_key, precision, cache_root)
    try:
        for attempt in (1, 2):
            convert(encoder_dir, path, precision, cancel.wait, on_status)
            try:
                encoder = OrtEncoder(path, threads, cancel, runs)
                failed.unlink(missing_ok=True)
                forget_older(path)
                return encoder
            except ModelInvalidError:
                if attempt == 2:
                    raise
                log.warning("the cached ONNX encoder %s is unusable; converting again", path)
                path.unlink(missing_ok=True)
                data_file(path).unlink(missing_ok=True)
    except ModelInvalidError as exc:
        failed.parent.mkdir(parents=True, exist_ok=True)
        failed.write_text(str(exc) + "\n", encoding="utf-8")
        raise
    raise AssertionError("unreachable")


# --- the conversion (runs in a child process) ---------------------------------------------------

def _export(encoder_dir: Path, dest: Path) -> None:
    """The fp32 encoder as ONNX. The torch.export-based exporter writes the weights to a file beside
    the graph as it goes (peak memory 2.1 GB for so400m); the TorchScript one, used where the former
    is missing (no onnxscript, an older torch) or fails, holds four copies of them (7.1 GB)."""
    import inspect
    import warnings

    import torch

    from app.core.model import load_encoder

    encoder = load_encoder(encoder_dir, torch.float32).eval()

    class Pooled(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, pixel_values):
            return self.inner(pixel_values=pixel_values).pooler_output

    x = torch.zeros(1, 3, 384, 384)
    names = dict(input_names=["pixel_values"], output_names=["pooled"])
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        if "dynamo" in inspect.signature(torch.onnx.export).parameters and importlib.util.find_spec("onnxscript"):
            try:
                batch = torch.export.Dim("batch", min=1, max=4096)
                torch.onnx.export(Pooled(encoder), (x,), str(dest), **names, dynamo=True, external_data=True,
                                  opset_version=18, dynamic_shapes={"pixel_values": {0: batch}})
                return
            except Exception as exc:  # an exporter that cannot take this model: the older one can
                print(f"the torch.export-based ONNX exporter failed ({type(exc).__name__}: {exc}); "
                      "using the TorchScript exporter", flush=True)
                for leftover in dest.parent.glob(dest.name + "*"):
                    leftover.unlink()
        kwargs = dict(dynamic_axes={"pixel_values": {0: "batch"}, "pooled": {0: "batch"}}, opset_version=17)
        if "dynamo" in inspect.signature(torch.onnx.export).parameters:
            kwargs["dynamo"] = False
        torch.onnx.export(Pooled(encoder), (x,), str(dest), **names, **kwargs)


def _quantize_columns(weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """int8 weights per output column, symmetric with 7-bit range [-64, 64], the scheme of ONNX
    Runtime's quantize_dynamic(per_channel=True, reduce_range=True) (7 bits: u8*s8 products would
    saturate on CPUs without VNNI)."""
    absmax = np.abs(weight).max(axis=0).astype(np.float64)
    scale = (2.0 * absmax / 128.0).astype(np.float32)
    scale[scale < np.finfo(np.float32).tiny] = 1.0
    q = np.clip(np.rint(weight / scale), -64, 64).astype(np.int8)
    return q, scale


def _rewrite(src: Path, dest: Path, quantize: bool) -> None:
    """Write the exported graph as one self-contained file, reading its weights one tensor at a
    time; with quantize, each MatMul by a constant weight becomes ONNX Runtime's
    DynamicQuantizeMatMul (int8 weights per column, activations quantised on the fly per tensor).
    Peak memory 1.8 GB for so400m at int8 (measured), not several copies of the fp32 model."""
    import onnx
    from onnx import helper, numpy_helper
    from onnx.external_data_helper import uses_external_data

    model = onnx.load(str(src), load_external_data=False)
    graph = model.graph
    users: dict[str, list[tuple[str, int]]] = {}
    for node in graph.node:
        for i, name in enumerate(node.input):
            users.setdefault(name, []).append((node.op_type, i))
    outputs = {o.name for o in graph.output}
    kinds = {t.name: (tuple(t.dims), t.data_type) for t in graph.initializer}
    quantized: set[str] = set()
    weight_bytes = {"all": 0, "quantized": 0}
    tensors = []
    for tensor in graph.initializer:
        if uses_external_data(tensor):
            info = {e.key: e.value for e in tensor.external_data}
            dtype = helper.tensor_dtype_to_np_dtype(tensor.data_type)
            count = int(np.prod(tensor.dims, dtype=np.int64))
            array = np.fromfile(src.parent / info["location"], dtype=dtype, count=count,
                                offset=int(info.get("offset", 0))).reshape(tuple(tensor.dims))
        else:
            array = numpy_helper.to_array(tensor)
        if (quantize and array.dtype == np.float32 and array.ndim == 2 and tensor.name not in outputs
                and users.get(tensor.name) and all(u == ("MatMul", 1) for u in users[tensor.name])):
            weight_bytes["quantized"] += array.nbytes
            q, scale = _quantize_columns(array)
            tensors += [numpy_helper.from_array(q, tensor.name + "_quantized"),
                        numpy_helper.from_array(scale, tensor.name + "_scale")]
            quantized.add(tensor.name)
        else:
            tensors.append(numpy_helper.from_array(array, tensor.name))
        if array.ndim == 2 and any(u in (("MatMul", 1), ("Gemm", 1), ("Transpose", 0)) for u in users.get(tensor.name, [])):
            weight_bytes["all"] += array.nbytes  # a linear layer's weights
    if quantize and weight_bytes["quantized"] < 0.5 * weight_bytes["all"]:
        # An exporter that wrote the linear layers another way (Gemm, a Transpose left on the
        # weights): the result would be an fp32 model labelled int8. (The attention-pooling
        # head's one Gemm, on a single token, stays fp32.)
        share = weight_bytes["quantized"] / max(1, weight_bytes["all"])
        raise RuntimeError(f"only {share:.0%} of the encoder's linear weights could be quantised; "
                           "this export is not supported for int8")
    nodes = _quantized_nodes(graph, quantized, kinds, outputs)
    del graph.initializer[:]
    graph.initializer.extend(tensors)
    del graph.node[:]
    graph.node.extend(nodes)
    if quantized and not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    onnx.save(model, str(dest))


def _quantized_nodes(graph, quantized: set[str], kinds: dict, outputs: set[str]) -> list:
    """The graph's nodes with each MatMul by a quantised weight replaced: DynamicQuantizeMatMul when
    it alone reads its input, else one DynamicQuantizeLinear of the input shared by its
    MatMulIntegerToFloat readers (attention's q, k and v); a bias Add that follows is folded in.
    The same kernels ONNX Runtime's own quantiser and graph optimiser end with."""
    from onnx import TensorProto, helper

    readers: dict[str, int] = {}
    after: dict[str, list] = {}
    for node in graph.node:
        if node.op_type == "MatMul" and node.input[1] in quantized:
            readers[node.input[0]] = readers.get(node.input[0], 0) + 1
        for name in node.input:
            after.setdefault(name, []).append(node)
    folded: set[str] = set()  # outputs of the Adds folded into their MatMul
    shared: dict[str, tuple[str, str, str]] = {}
    nodes = []
    for node in graph.node:
        if node.op_type == "Add" and node.output[0] in folded:
            continue
        if not (node.op_type == "MatMul" and node.input[1] in quantized):
            nodes.append(node)
            continue
        a, w = node.input
        out, bias = node.output[0], ""
        nexts = after.get(out, [])
        if len(nexts) == 1 and nexts[0].op_type == "Add" and out not in outputs:
            add = nexts[0]
            other = add.input[1] if add.input[0] == out else add.input[0]
            if kinds.get(other) == ((kinds[w][0][1],), TensorProto.FLOAT):
                bias, out = other, add.output[0]
                folded.add(out)
        name = (node.name or w) + "_int8"
        if readers[a] == 1:
            nodes.append(helper.make_node("DynamicQuantizeMatMul", [a, w + "_quantized", w + "_scale", "", bias][:5 if bias else 3],
                                          [out], name=name, domain="com.microsoft"))
            continue
        if a not in shared:
            shared[a] = (a + "_u8", a + "_u8_scale", a + "_u8_zero")
            nodes.append(helper.make_node("DynamicQuantizeLinear", [a], list(shared[a]), name=a + "_quantize"))
        q, q_scale, q_zero = shared[a]
        inputs = [q, w + "_quantized", q_scale, w + "_scale", q_zero, "", bias][:7 if bias else 5]
        nodes.append(helper.make_node("MatMulIntegerToFloat", inputs, [out], name=name, domain="com.microsoft"))
    return nodes


def _relocate(src: Path, dest: Path, final: Path) -> None:
    """fp32: the exported graph as it is, its weights in one file beside it named after `final`
    (where the graph will live), so the fp32 model is never held in memory whole."""
    import onnx
    from onnx.external_data_helper import uses_external_data

    model = onnx.load(str(src), load_external_data=False)
    external = [t for t in model.graph.initializer if uses_external_data(t)]
    locations = {e.value for t in external for e in t.external_data if e.key == "location"}
    if not external:  # the TorchScript exporter's single file
        src.replace(dest)
        return
    if len(locations) != 1:
        _rewrite(src, dest, quantize=False)
        return
    (src.parent / locations.pop()).replace(dest.parent / data_file(final).name)
    for tensor in external:
        for entry in tensor.external_data:
            if entry.key == "location":
                entry.value = data_file(final).name
    onnx.save(model, str(dest))


def _verify(encoder_dir: Path, path: Path, precision: str) -> float:
    """Cosine similarity of the converted encoder's output to PyTorch fp32 on a fixed input."""
    import torch

    from app.core.model import load_encoder

    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (1, 3, 384, 384)).astype(np.float32)
    with torch.inference_mode():
        ref = load_encoder(encoder_dir, torch.float32).eval()(pixel_values=torch.from_numpy(x)).pooler_output
    got = OrtEncoder(path, 2, threading.Event())(x)
    a, b = ref.numpy()[0].astype(np.float64), got[0].astype(np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def _exit_with_parent(work: Path) -> None:
    """A parent killed outright (kill -9) cannot stop its child: the child notices, removes its
    unfinished files and stops."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(1)
            if os.getppid() != parent:
                shutil.rmtree(work, ignore_errors=True)
                os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Convert a SigLIP vision encoder for ONNX Runtime.")
    p.add_argument("encoder_dir", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--precision", choices=PRECISIONS, default="int8")
    p.add_argument("--work", type=Path, help="folder for unfinished files (kept between steps, removed "
                                             "after the last or on failure)")
    p.add_argument("--step", choices=("all", "export", "finish"), default="all",
                   help="export: the fp32 graph into --work; finish: quantise, check and move it to OUT")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    # Every unfinished file (the exported graph and its weights) lives in one folder
    # beside the result.
    work = a.work or Path(tempfile.mkdtemp(prefix=a.out.name + ".part", dir=a.out.parent))
    work.mkdir(parents=True, exist_ok=True)
    _exit_with_parent(work)
    fp32, done = work / "fp32.onnx", work / "encoder.onnx"
    ok = False
    try:
        if a.step in ("all", "export"):
            t0 = time.perf_counter()
            _export(a.encoder_dir, fp32)
            print(f"export {time.perf_counter() - t0:.1f} s", flush=True)
        if a.step in ("all", "finish"):
            t0 = time.perf_counter()
            if a.precision == "int8":
                _rewrite(fp32, done, quantize=True)
            else:
                _relocate(fp32, done, a.out)
            t1 = time.perf_counter()
            cosine = _verify(a.encoder_dir, done, a.precision)
            print(f"{'quantise' if a.precision == 'int8' else 'relocate'} {t1 - t0:.1f} s, "
                  f"cosine to fp32 {cosine:.5f}", flush=True)
            if not cosine >= MIN_COSINE[a.precision]:
                print(f"the converted encoder disagrees with PyTorch (cosine {cosine:.4f}); not used", flush=True)
                return 1
            if data_file(done.with_name(a.out.name)).exists():  # fp32's weights first: the graph marks it done
                data_file(done.with_name(a.out.name)).replace(data_file(a.out))
            done.replace(a.out)
        ok = True
        return 0
    finally:
        if a.step != "export" or not ok:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(_main())
