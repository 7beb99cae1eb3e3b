"""The ONNX Runtime encoder: exact at fp32, close at int8, cached once, cancellable, optional."""
from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from app.config import paths
from app.core import onnx_engine
from app.errors import Cancelled, SettingsError
from app.core.scorer import Scorer, locate, pick_runtime, precision_label

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def pixels(tmp_path_factory):
    from tests.conftest import scene_pixels

    return scene_pixels(tmp_path_factory.mktemp("onnx-photos"), 4, seed=60)


def make(tiny_encoder, head_file, precision, runtime="onnx", **kw) -> Scorer:
    return Scorer(locate(str(tiny_encoder), str(head_file)), device="cpu", precision=precision, runtime=runtime, **kw)


def test_fp32_under_onnx_runtime_matches_pytorch(tiny_encoder, head_file, pixels):
    torch_scores, torch_emb = make(tiny_encoder, head_file, "fp32", "torch").score_batch(pixels)
    ort = make(tiny_encoder, head_file, "fp32")
    assert (ort.runtime, ort.label, ort.encoder) == ("onnx", "fp32", None)  # no PyTorch encoder resident
    scores, emb = ort.score_batch(pixels)
    assert np.abs(scores - torch_scores).max() < 1e-3
    assert np.abs(emb.astype(np.float32) - torch_emb.astype(np.float32)).max() < 2e-3


def test_int8_is_the_cpu_default_and_is_named_apart(tiny_encoder, head_file, pixels):
    ort = make(tiny_encoder, head_file, "auto", "auto")
    assert (ort.precision, ort.runtime, ort.label) == ("int8", "onnx", "int8-onnx")
    key = locate(str(tiny_encoder), str(head_file)).encoder.key
    assert precision_label("cpu", "int8", "auto", key) == "int8-onnx"
    assert precision_label("cpu", "int8", "torch", key) == "int8"
    assert precision_label("cpu", "fp32", "auto", key) == "fp32"
    exact = make(tiny_encoder, head_file, "fp32", "torch").score_batch(pixels)[0]
    alone = np.array([ort.score_batch(pixels[i:i + 1])[0][0] for i in range(len(pixels))])
    together = ort.score_batch(pixels)[0]
    assert np.abs(alone - together).max() < 1e-5  # one image at a time: batch-mates never matter
    assert 0 < np.abs(alone - exact).max() < 0.1  # really quantised, and close to fp32


def test_conversion_is_cached_and_an_unusable_cache_file_is_rebuilt(tiny_encoder, head_file, pixels):
    said: list[str] = []
    first = make(tiny_encoder, head_file, "int8", on_status=said.append).score_batch(pixels)[0]
    cached = list((paths.cache_dir() / "onnx").glob("siglip-int8-*.onnx"))
    assert len(cached) == 1
    said.clear()
    make(tiny_encoder, head_file, "int8", on_status=said.append)
    assert said == []  # loaded from the cache, nothing converted
    cached[0].write_bytes(b"not an onnx file")
    again = make(tiny_encoder, head_file, "int8", on_status=said.append).score_batch(pixels)[0]
    assert said and "Preparing" in said[0]
    assert np.abs(again - first).max() < 1e-5
    assert not list(cached[0].parent.glob("*.part*"))


def test_stale_conversions_of_the_encoder_are_removed_and_others_kept(tiny_encoder, head_file):
    import os

    key = locate(str(tiny_encoder), str(head_file)).encoder.key
    current = onnx_engine.cache_file(key, "int8", paths.cache_dir())
    folder = current.parent
    model = current.name.rsplit("-", 1)[0]
    month_ago = time.time() - 40 * 86400
    old_build = [folder / f"{model}-0badbeef.onnx", folder / f"{model}-0badbeef.failed"]  # unused 40 days
    first_scheme = [folder / ("siglip-int8-" + "ab" * 12 + ".onnx"), folder / ("siglip-fp32-" + "cd" * 12 + ".onnx.data")]
    abandoned = folder / f"{current.name}.part_old"
    kept = [folder / f"{model}-1badbeef.onnx",  # another build's, used lately (another install)
            folder / "siglip-int8-0123456789abcdef-0badbeef.onnx",  # another encoder's
            folder / f"{current.name}.part_new"]  # a conversion at work now
    fp32 = onnx_engine.cache_file(key, "fp32", paths.cache_dir())  # the same encoder at fp32, this build
    made_fp32 = not fp32.exists()
    for f in old_build + first_scheme + kept[:2] + ([fp32] if made_fp32 else []):
        f.write_bytes(b"old")
    for d in (abandoned, kept[2]):
        d.mkdir()
    for f in old_build + [abandoned]:
        os.utime(f, (month_ago, month_ago))
    make(tiny_encoder, head_file, "int8")
    assert current.exists() and time.time() - current.stat().st_mtime < 60  # marked used
    assert [f for f in old_build + first_scheme + [abandoned] if f.exists()] == []
    assert all(f.exists() for f in kept + [fp32])
    for f in kept[:2] + ([fp32] if made_fp32 else []):
        f.unlink()
    kept[2].rmdir()


def test_cancelling_the_conversion_stops_it_at_once_and_leaves_nothing(tiny_encoder, head_file, monkeypatch,
                                                                       tmp_path):
    monkeypatch.setattr(paths, "cache_dir", lambda: tmp_path)  # nothing cached: it must convert
    cancel = threading.Event()
    threading.Timer(1.0, cancel.set).start()
    t0 = time.monotonic()
    with pytest.raises(Cancelled):
        make(tiny_encoder, head_file, "int8", cancel=cancel)
    assert time.monotonic() - t0 < 5
    assert not list((tmp_path / "onnx").iterdir())


def test_cancel_stops_a_run(tiny_encoder, head_file, pixels):
    cancel = threading.Event()
    ort = make(tiny_encoder, head_file, "int8", cancel=cancel)
    cancel.set()
    with pytest.raises(Cancelled):
        ort.score_batch(pixels)
    cancel.clear()
    assert ort.score_batch(pixels[:1])[0].shape == (1,)


def test_a_batch_runs_side_by_side_and_each_photo_scores_as_alone(tiny_encoder, head_file, pixels):
    alone = make(tiny_encoder, head_file, "int8", batch_size=1)
    assert alone.onnx.runs == 1 and alone.batch_size == 1
    expected = np.concatenate([alone.embed(pixels[i:i + 1]).numpy() for i in range(len(pixels))])
    path = onnx_engine.cache_file(locate(str(tiny_encoder), str(head_file)).encoder.key, "int8", paths.cache_dir())
    encoder = onnx_engine.OrtEncoder(path, 2, threading.Event(), runs=2)
    session, both_running, threads = encoder.session, threading.Barrier(2, timeout=10), set()

    class Watched:
        def run(self, *args):
            threads.add(threading.current_thread().name)
            both_running.wait()  # broken (the test fails) unless two runs are in flight at once
            return session.run(*args)

    encoder.session = Watched()
    got = encoder(pixels)
    got = got / np.linalg.norm(got, axis=1, keepdims=True)
    assert len(threads) == 2 and all(name.startswith("onnx-run") for name in threads)
    assert np.abs(got - expected).max() < 1e-5  # each photo's own run: the same as alone, in order


def test_int8_weights_are_quantised_as_onnx_runtimes_quantiser_does(tiny_encoder, tmp_path):
    """The conversion streams the exported weights and quantises them itself (a fraction of the
    memory); the int8 weights and scales are exactly those of ONNX Runtime's quantize_dynamic."""
    import onnx
    from onnx import numpy_helper
    from onnxruntime.quantization import QuantType, quantize_dynamic

    fp32 = tmp_path / "fp32.onnx"
    onnx_engine._export(tiny_encoder, fp32)
    assert (tmp_path / "fp32.onnx.data").stat().st_size > fp32.stat().st_size  # weights beside the graph
    onnx_engine._rewrite(fp32, tmp_path / "ours.onnx", quantize=True)
    quantize_dynamic(str(fp32), str(tmp_path / "ort.onnx"), weight_type=QuantType.QInt8, per_channel=True,
                     reduce_range=True, op_types_to_quantize=["MatMul"])
    ours, theirs = ({t.name: numpy_helper.to_array(t) for t in onnx.load(str(tmp_path / f)).graph.initializer}
                    for f in ("ours.onnx", "ort.onnx"))
    weights = [name for name in ours if name.endswith("_quantized")]
    assert len(weights) >= 6  # q, k, v, out, fc1, fc2 of each layer
    for name in weights:
        assert ours[name].dtype == np.int8 and np.array_equal(ours[name], theirs[name]), name
        scale = name.replace("_quantized", "_scale")
        assert np.array_equal(ours[scale], theirs[scale]), scale
    assert onnx_engine._verify(tiny_encoder, tmp_path / "ours.onnx", "int8") > 0.999
    # An export whose linear layers it cannot quantise is refused, not passed off as int8.
    graph = onnx.load(str(fp32), load_external_data=False)
    for node in graph.graph.node:
        if node.op_type == "MatMul":
            node.op_type = "Gemm"
    onnx.save(graph, str(tmp_path / "gemm.onnx"))
    with pytest.raises(RuntimeError, match="could be quantised"):
        onnx_engine._rewrite(tmp_path / "gemm.onnx", tmp_path / "refused.onnx", quantize=True)


def test_cancel_stops_every_run_of_a_batch_before_it_returns(tiny_encoder, head_file):
    path = onnx_engine.cache_file(locate(str(tiny_encoder), str(head_file)).encoder.key, "int8", paths.cache_dir())
    make(tiny_encoder, head_file, "int8")  # converted (once per session)
    cancel = threading.Event()
    encoder = onnx_engine.OrtEncoder(path, 2, cancel, runs=2)
    both_running, stopped = threading.Barrier(2, timeout=10), []

    class Endless:  # a run that goes on until ONNX Runtime's terminate flag is set, as a long one would
        def run(self, outputs, feeds, run_options):
            both_running.wait()
            deadline = time.monotonic() + 10
            while not run_options.terminate and time.monotonic() < deadline:
                time.sleep(0.01)
            stopped.append(run_options.terminate)
            raise RuntimeError("Exiting due to terminate flag being set to true.")

    encoder.session = Endless()
    threading.Timer(0.3, cancel.set).start()
    t0 = time.monotonic()
    with pytest.raises(Cancelled):
        encoder(np.zeros((2, 3, 384, 384), np.float32))
    assert time.monotonic() - t0 < 5
    assert stopped == [True, True]  # both runs were told to stop, and had stopped when it returned


def test_the_default_batch_fits_the_engine(monkeypatch):
    from app.core.scorer import default_batch_size

    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    assert default_batch_size("cpu", "int8", "auto") == 2  # two runs side by side, a thread each
    assert default_batch_size("cpu", "int8", "torch") == 1  # PyTorch: one image at a time
    assert default_batch_size("cpu", "fp32", "auto") == 1
    assert onnx_engine.concurrent_runs(2, batch_size=1) == 1  # a batch of one runs on both threads
    for threads in (1, 4, 16):  # measured on 2 cores only: elsewhere one run on every thread
        monkeypatch.setattr(torch, "get_num_threads", lambda: threads)
        assert default_batch_size("cpu", "int8", "auto") == 1


def test_runtime_choice_and_clear_errors(monkeypatch):
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert pick_runtime("auto", cpu, "int8") == "onnx"
    assert pick_runtime("auto", cpu, "fp32") == "torch"  # PyTorch stays the exact mode
    assert pick_runtime("auto", cuda, "bf16") == "torch"
    with pytest.raises(SettingsError, match="on the CPU at fp32 or int8"):
        pick_runtime("onnx", cuda, "bf16")
    monkeypatch.setattr(onnx_engine, "available", lambda: False)
    assert pick_runtime("auto", cpu, "int8") == "torch"  # without the extra: PyTorch's int8
    with pytest.raises(SettingsError, match=r"pip install 'aesthete\[onnx\]'"):
        pick_runtime("onnx", cpu, "int8")


def test_a_failed_conversion_says_why(tiny_encoder, head_file, tmp_path, monkeypatch):
    from app.errors import ModelInvalidError

    monkeypatch.setattr(paths, "cache_dir", lambda: tmp_path)
    bad = tmp_path / "not-siglip"
    bad.mkdir()
    with pytest.raises(ModelInvalidError, match="could not prepare the ONNX Runtime encoder"):
        onnx_engine.convert(bad, tmp_path / "x.onnx", "int8")


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] in "ZX"
    except FileNotFoundError:
        return True


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_conversion_whose_parent_is_killed_stops_and_cleans_up(tiny_encoder, tmp_path):
    out = tmp_path / "enc.onnx"
    code = ("import subprocess, sys, time\n"
            f"p = subprocess.Popen([sys.executable, '-m', 'app.core.onnx_engine', {str(tiny_encoder)!r}, {str(out)!r}])\n"
            "print(p.pid, flush=True)\n"
            "time.sleep(600)\n")
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, cwd=ROOT)
    child = int(parent.stdout.readline())
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob("enc.onnx.part*")) and time.monotonic() < deadline:
        time.sleep(0.05)  # until the export has begun writing
    parent.kill()
    parent.wait()
    while not _gone(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _gone(child)
    assert not out.exists() and not list(tmp_path.glob("enc.onnx.part*"))


def test_a_failed_conversion_falls_back_to_pytorch_and_is_not_retried_automatically(
        tiny_encoder, head_file, pixels, monkeypatch, tmp_path):
    from app.errors import ModelInvalidError

    key = locate(str(tiny_encoder), str(head_file)).encoder.key
    calls = []

    def failing(*args, **kw):
        calls.append(args)
        raise ModelInvalidError("could not prepare the ONNX Runtime encoder: MemoryError")

    with monkeypatch.context() as m:
        m.setattr(paths, "cache_dir", lambda: tmp_path)
        m.setattr(onnx_engine, "convert", failing)
        first = make(tiny_encoder, head_file, "int8", "auto")
        assert (first.runtime, first.label, len(calls)) == ("torch", "int8", 1)
        assert first.score_batch(pixels)[0].shape == (len(pixels),)
        assert "MemoryError" in onnx_engine.previous_failure(key, "int8", tmp_path)
        assert precision_label("cpu", "int8", "auto", key) == "int8"  # what the fallback records
        assert make(tiny_encoder, head_file, "int8", "auto").runtime == "torch"
        assert len(calls) == 1  # remembered: no second attempt under auto
        with pytest.raises(ModelInvalidError, match="MemoryError"):
            make(tiny_encoder, head_file, "int8", "onnx")  # asked for by name: tried, and the error shown
    failed = onnx_engine.failure_file(key, "int8", paths.cache_dir())  # the session's converted files
    failed.write_text("an old failure\n")
    assert make(tiny_encoder, head_file, "int8", "onnx").runtime == "onnx"
    assert not failed.exists()  # a success forgets the failure
