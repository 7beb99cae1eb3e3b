"""The scoring engine: encoder + head on one device at one precision, cancellable mid-batch.

One Scorer per process holds the model; it turns preprocessed pixel arrays into aesthetic scores
and L2-normalised embeddings. Cancellation is checked before every encoder layer, so a pause or
quit never waits for a whole batch.
"""
from __future__ import annotations

import logging
import os
import threading
import warnings
from typing import Callable

import numpy as np
import torch

from app.core import model as model_files
from app.core import onnx_engine
from app.errors import Cancelled, ModelInvalidError, SettingsError
from app.core.weights import ModelFiles, ModelKey, locate  # noqa: F401  (torch-free; callers import them here)

log = logging.getLogger(__name__)

MODEL_PRECISIONS = ("fp32", "bf16", "fp16", "int8")


def pick_device(requested: str = "auto") -> torch.device:
    if requested == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if requested == "cuda" and not torch.cuda.is_available():
        raise SettingsError("--device cuda was asked for, but no CUDA GPU is available")
    if requested == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise SettingsError("--device mps was asked for, but Apple's MPS is not available")
    if requested not in ("cpu", "cuda", "mps"):
        raise SettingsError(f"unknown device {requested!r} (auto, cpu, cuda or mps)")
    return torch.device(requested)


def int8_available() -> bool:
    """Dynamic int8 Linear layers need PyTorch's quantized CPU kernels (fbgemm/x86, or qnnpack on ARM)."""
    engines = set(getattr(torch.backends.quantized, "supported_engines", ()))
    return hasattr(torch.ao.quantization, "quantize_dynamic") and bool(engines & {"x86", "fbgemm", "qnnpack"})


def pick_precision(requested: str, device: torch.device) -> str:
    """`auto`: int8 on the CPU where its kernels exist (ONNX Runtime's when installed, else
    PyTorch's; figures in tests/bench/bench_scoring.py), else fp32; bf16 (or fp16) on a GPU."""
    if requested == "auto":
        if device.type == "cuda":
            return "bf16" if torch.cuda.is_bf16_supported() else "fp16"  # pre-Ampere cards: fp16
        if device.type == "mps":
            return "fp16"
        return "int8" if int8_available() or onnx_engine.available() else "fp32"
    if requested not in MODEL_PRECISIONS:
        raise SettingsError(f"unknown precision {requested!r} (auto, fp32, bf16, fp16 or int8)")
    if requested == "fp16" and device.type == "cpu":
        raise SettingsError("fp16 needs a GPU; on the CPU use bf16 or int8")
    if requested == "int8" and device.type != "cpu":
        raise SettingsError("int8 is a CPU mode; on a GPU use bf16 or fp16")
    if requested == "int8" and not (int8_available() or onnx_engine.available()):
        raise SettingsError("int8 needs ONNX Runtime (pip install 'aesthete[onnx]') or PyTorch's quantized "
                            "CPU kernels, which this build lacks; use fp32")
    return requested


def pick_runtime(requested: str, device: torch.device, precision: str, model: str = "v2.5") -> str:
    """`auto`: ONNX Runtime for int8 on the CPU when it is installed (the fastest CPU path
    measured), PyTorch for everything else (fp32 stays PyTorch's exact mode). The ONNX path
    converts V2.5's SigLIP encoder only: other models run under PyTorch."""
    if model != "v2.5":
        if requested not in ("auto", "torch", "onnx"):
            raise SettingsError(f"unknown runtime {requested!r} (auto, torch or onnx)")
        if requested == "onnx":
            raise SettingsError(f"--runtime onnx runs the V2.5 model only; --model {model} runs under PyTorch "
                                "(--runtime torch or auto)")
        if precision == "int8" and not int8_available():
            raise SettingsError("PyTorch's int8 kernels are missing from this build; use --precision fp32")
        return "torch"
    if requested == "auto":
        if device.type == "cpu" and precision == "int8" and onnx_engine.available():
            return "onnx"
        return "torch"
    if requested == "torch":
        if precision == "int8" and not int8_available():
            raise SettingsError("PyTorch's int8 kernels are missing from this build; use --runtime onnx or fp32")
        return "torch"
    if requested != "onnx":
        raise SettingsError(f"unknown runtime {requested!r} (auto, torch or onnx)")
    if not onnx_engine.available():
        raise SettingsError("--runtime onnx needs ONNX Runtime: pip install 'aesthete[onnx]'")
    if device.type != "cpu" or precision not in onnx_engine.PRECISIONS:
        raise SettingsError("the ONNX Runtime path runs on the CPU at fp32 or int8")
    return "onnx"


def precision_label(device: str, precision: str, runtime: str, encoder_key: str, model: str = "v2.5") -> str:
    """What a score records as its precision: ONNX Runtime's int8 is named apart from PyTorch's."""
    from app.config import paths

    dev = pick_device(device)
    prec = pick_precision(precision, dev)
    if pick_runtime(runtime, dev, prec, model) != "onnx":
        return prec
    if runtime == "auto" and int8_available() and onnx_engine.previous_failure(encoder_key, prec, paths.cache_dir()):
        return prec  # the Scorer will fall back to PyTorch, as it did before
    return onnx_engine.label(prec)


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return "Apple GPU (MPS)"
    return f"CPU ({torch.get_num_threads()} threads)"


def default_batch_size(device: torch.device | str, precision: str = "auto", runtime: str = "auto",
                       model: str = "v2.5") -> int:
    """Photos per model batch. On a CPU PyTorch is fastest one image at a time (measured: 4 per
    batch was 20% slower per image); ONNX Runtime runs a batch's images side by side."""
    device = pick_device(device) if isinstance(device, str) else device
    if device.type == "cuda":
        return 32
    try:
        chosen = pick_runtime(runtime, device, pick_precision(precision, device), model)
    except SettingsError:
        return 1  # the scorer reports the bad setting when it loads
    return onnx_engine.concurrent_runs(torch.get_num_threads()) if chosen == "onnx" else 1


def encoder_layers(encoder: torch.nn.Module) -> torch.nn.ModuleList:
    """The transformer layers (transformers 4 nests them under vision_model, 5 does not)."""
    inner = getattr(encoder, "vision_model", encoder)
    return inner.encoder.layers


class Scorer:
    """Loads the model once; call it from the thread that owns it."""

    def __init__(self, files: ModelFiles, device: str = "auto", precision: str = "auto",
                 cancel: threading.Event | None = None, runtime: str = "auto",
                 on_status: Callable[[str], None] | None = None, batch_size: int | None = None):
        model_files.library_logs_to_logging()
        self.device = pick_device(device)
        self.precision = pick_precision(precision, self.device)
        self.model = files.model
        self.runtime = pick_runtime(runtime, self.device, self.precision, self.model)
        self.cancel_event = cancel or threading.Event()
        self.key = files.key
        self.head = model_files.load_head(files.head.path, self.model).to(self.device)
        dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.precision, torch.float32)
        self.input_dtype = dtype
        self.per_image = False
        self.encoder: torch.nn.Module | None = None
        self.onnx: onnx_engine.OrtEncoder | None = None
        if self.runtime == "onnx":
            self.onnx = self._load_onnx(files, runtime == "auto", on_status, batch_size)
        if self.onnx is None:
            self.runtime = "torch"
            self.encoder = model_files.load_encoder(files.encoder.path, dtype, self.model).to(self.device)
            if self.precision == "int8":
                self._quantize_int8()
            for layer in encoder_layers(self.encoder):
                layer.register_forward_pre_hook(self._check_cancel)
        self.label = onnx_engine.label(self.precision) if self.onnx is not None else self.precision
        # What suits this engine (a setting may override it): a batch on a GPU, side-by-side runs
        # under ONNX Runtime, one image at a time under PyTorch on a CPU.
        self.batch_size = 32 if self.device.type == "cuda" else self.onnx.runs if self.onnx is not None else 1
        self.compiled = False
        self.device_name = device_name(self.device)
        log.info("model %s on %s at %s (%s)", self.key, self.device_name, self.precision, self.runtime)

    def _load_onnx(self, files: ModelFiles, fallback: bool, on_status: Callable[[str], None] | None,
                   batch_size: int | None) -> onnx_engine.OrtEncoder | None:
        """The ONNX Runtime encoder; None (PyTorch runs instead) when it was chosen automatically
        and cannot be had here (the conversion failed, now or before: out of memory, say)."""
        from app.config import paths

        fallback = fallback and int8_available()
        if fallback and (why := onnx_engine.previous_failure(files.encoder.key, self.precision,
                                                             paths.cache_dir())):
            log.info("ONNX Runtime is skipped (its conversion failed before: %s)", why)
            return None
        try:
            threads = torch.get_num_threads()
            return onnx_engine.load(files.encoder.path, files.encoder.key, self.precision, paths.cache_dir(),
                                    threads, self.cancel_event, on_status,
                                    onnx_engine.concurrent_runs(threads, batch_size))
        except ModelInvalidError as exc:
            if not fallback:
                raise
            log.warning("%s; PyTorch's int8 runs instead (--runtime onnx tries again)", exc)
            return None

    def _quantize_int8(self) -> None:
        """int8 weights for every Linear layer of the encoder, activations quantized on the fly.

        PyTorch's dynamic quantization scales activations per tensor, i.e. per batch; the encoder
        therefore runs one image at a time in this mode, so a photo's score never depends on its
        batch-mates. (torchao's per-token int8 was 28x slower than fp32 on an AVX2 CPU without
        VNNI: its CPU int8 matmul has no fast kernel there.)"""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # quantize_dynamic is marked deprecated; it still works
            torch.ao.quantization.quantize_dynamic(self.encoder, {torch.nn.Linear}, dtype=torch.qint8,
                                                   inplace=True)
        self.per_image = True

    def compile(self) -> None:
        """torch.compile each encoder layer (the cancellation hooks stay outside the compiled code).

        Inductor's cache lives in the user cache folder, so only the first run pays the full
        compile time. Slow: call it from the thread that owns the model, never the GUI thread."""
        from app.config import paths

        os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(paths.cache_dir() / "torchinductor"))
        if self.encoder is None:
            return  # ONNX Runtime optimises its graph itself
        model_files.library_logs_to_logging()
        for layer in encoder_layers(self.encoder):
            layer.forward = torch.compile(layer.forward, dynamic=False)
        self.compiled = True

    def _check_cancel(self, *_args) -> None:
        if self.cancel_event.is_set():
            raise Cancelled()

    @torch.inference_mode()
    def embed(self, pixels: np.ndarray) -> torch.Tensor:
        """L2-normalised float32 embeddings (N, D) for pixel arrays (N, 3, S, S) (V2.5: 1152 and 384,
        LAION V2: 768 and 224)."""
        if self.onnx is not None:
            pooled = torch.from_numpy(self.onnx(pixels))
            return pooled / pooled.norm(dim=-1, keepdim=True)
        batch = torch.from_numpy(pixels)
        if self.device.type == "cuda":
            batch = batch.pin_memory()  # page-locked: the copy to the GPU runs without staging
        batch = batch.to(self.device, dtype=self.input_dtype, non_blocking=True)
        if self.per_image and len(batch) > 1:
            pooled = torch.cat([model_files.image_embedding(self.encoder(pixel_values=batch[i:i + 1]), self.model)
                                for i in range(len(batch))])
        else:
            pooled = model_files.image_embedding(self.encoder(pixel_values=batch), self.model)
        pooled = pooled.float()
        return pooled / pooled.norm(dim=-1, keepdim=True)

    @torch.inference_mode()
    def head_scores(self, embeddings: torch.Tensor) -> np.ndarray:
        return self.head(embeddings).squeeze(-1).cpu().numpy().astype(np.float64)

    def score_images(self, images: list) -> np.ndarray:
        """Scores of decoded RGB images (PIL), preprocessed as this model's pipeline does, in
        batches of the engine's size (a photo's score never depends on its batch-mates)."""
        from app.core import preprocess

        pixels_of = preprocess.for_model(self.model)
        out = [self.score_batch(np.stack([pixels_of(im) for im in images[i:i + self.batch_size]]))[0]
               for i in range(0, len(images), self.batch_size)]
        return np.concatenate(out) if out else np.zeros(0)

    def score_batch(self, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Scores (N,) and float16 embeddings (N, D); raises Cancelled when asked to stop."""
        emb = self.embed(pixels)
        return self.head_scores(emb), emb.cpu().numpy().astype(np.float16)
