"""Find, verify and load the Aesthetic Predictor V2.5: a SigLIP vision encoder plus a small head.

The encoder comes from a local folder, the Hugging Face cache, or the hub; the head from a local
file or the pinned upstream URL, checked against its SHA-256. Offline and missing weights give
a ModelMissingError that says what is missing and how to supply it.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import sys
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from app.config import paths
from app.config.settings import DEFAULT_ENCODER, HEAD_URL
from app.errors import ModelInvalidError, ModelMissingError

log = logging.getLogger(__name__)

HEAD_SHA256 = "a6caf256b3dc434273c98dcb12f6bf17c5d4fc647d8df11f038386923dd06220"
EMBED_DIM = 1152
HEAD_SHAPES = {
    "scoring_head.0.weight": (1024, EMBED_DIM), "scoring_head.0.bias": (1024,),
    "scoring_head.2.weight": (128, 1024), "scoring_head.2.bias": (128,),
    "scoring_head.4.weight": (64, 128), "scoring_head.4.bias": (64,),
    "scoring_head.6.weight": (16, 64), "scoring_head.6.bias": (16,),
    "scoring_head.8.weight": (1, 16), "scoring_head.8.bias": (1,),
}
ENCODER_FILES = ["config.json", "*.safetensors", "preprocessor_config.json"]
Progress = Callable[[int, int], None]  # (bytes done, bytes total or 0)


@contextlib.contextmanager
def library_noise_to_log():
    """Send what torch, transformers and torchao print while loading (C-level messages and their
    own stderr handlers included) to the log file instead of the user's terminal."""
    if logging.getLogger().isEnabledFor(logging.DEBUG):
        yield  # --debug: let the user see everything
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            noise = sink.read().decode("utf-8", "replace").strip()
            if noise:
                log.info("while loading the model, libraries said:\n%s", noise)


class AestheticHead(nn.Module):
    """Upstream's MLP: Linear layers with dropouts and no activations."""

    def __init__(self, dim: int = EMBED_DIM):
        super().__init__()
        self.scoring_head = nn.Sequential(
            nn.Linear(dim, 1024), nn.Dropout(0.5),
            nn.Linear(1024, 128), nn.Dropout(0.5),
            nn.Linear(128, 64), nn.Dropout(0.5),
            nn.Linear(64, 16), nn.Dropout(0.2),
            nn.Linear(16, 1),
        )

    def forward(self, embedding: torch.Tensor) -> torch.Tensor:
        return self.scoring_head(embedding)


@dataclass(frozen=True)
class EncoderSource:
    path: Path
    key: str  # "hub-id@revision" or "local:<sha256 of the weights>"


@dataclass(frozen=True)
class HeadSource:
    path: Path
    sha256: str


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 22):
            h.update(block)
    return h.hexdigest()


def _cached_sha256(path: Path) -> str:
    """SHA-256 of a large file, remembered by (path, size, mtime) so a 1.7 GB encoder is hashed once."""
    st = path.stat()
    index_path = paths.cache_dir() / "weight-hashes.json"
    try:
        index = json.loads(index_path.read_text())
    except (OSError, ValueError):
        index = {}
    stamp = f"{st.st_size}:{st.st_mtime_ns}"
    entry = index.get(str(path))
    if entry and entry.get("stamp") == stamp:
        return entry["sha256"]
    digest = file_sha256(path)
    index[str(path)] = {"stamp": stamp, "sha256": digest}
    try:
        index_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = index_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(index))
        os.replace(tmp, index_path)
    except OSError:
        log.warning("could not cache the weight hash in %s", index_path)
    return digest


# Why a download did not happen, in words a user can act on (never an exception's class name).
NOT_DOWNLOADED = "it has not been downloaded yet"
OFFLINE = "this computer seems to be offline, or the model site cannot be reached"
HUB_OFFLINE = "Hugging Face downloads are switched off on this computer (HF_HUB_OFFLINE is set)"
_NETWORK_WORDS = ("name or service not known", "temporary failure in name resolution", "nodename nor servname",
                  "network is unreachable", "no route to host", "connection refused", "connection reset",
                  "timed out", "getaddrinfo failed", "failed to establish a new connection",
                  "max retries exceeded", "check your internet connection", "connecterror", "connecttimeout")


def download_problem(exc: BaseException) -> str:
    """A failed download in plain words: offline (or the site unreachable), or the first line of
    what went wrong without the exception classes' names."""
    seen: list[BaseException] = []
    e: BaseException | None = exc
    while e is not None and e not in seen and len(seen) < 10:
        seen.append(e)
        e = e.__cause__ or e.__context__
    import socket

    for e in seen:
        name = type(e).__name__
        text = str(e).lower()
        if name == "OfflineModeIsEnabled" or "hf_hub_offline" in text or "outgoing traffic has been disabled" in text:
            return HUB_OFFLINE
        if isinstance(e, (socket.gaierror, ConnectionError, TimeoutError, urllib.error.URLError)) \
                or name in ("ConnectError", "ConnectTimeout", "ConnectionError", "NetworkError", "ProxyError",
                            "ReadTimeout", "Timeout", "TransportError") \
                or any(w in text for w in _NETWORK_WORDS):
            return OFFLINE
    first = (str(exc).strip().splitlines() or [""])[0]
    first = first.removeprefix("Got: ")
    if first.split(":", 1)[0].isidentifier() and first.split(":", 1)[0][:1].isupper() and ":" in first:
        first = first.split(":", 1)[1].strip()  # "SomeError: what" -> "what"
    return first[:200] or "the download did not work"


def _missing_encoder(spec: str, why: str) -> ModelMissingError:
    if why == NOT_DOWNLOADED:
        head = f"The SigLIP encoder {spec!r} is not on this computer: {why}."
    else:
        head = f"The SigLIP encoder {spec!r} is not on this computer and could not be downloaded: {why}."
    return ModelMissingError(
        f"{head} Connect to the internet and run `aesthete download`, or use a local copy: pass "
        f"--encoder DIR (a folder holding config.json and model.safetensors, e.g. a download of "
        f"{DEFAULT_ENCODER}) and --head FILE, or set encoder and head in the settings."
    )


def _check_encoder_folder(folder: Path) -> None:
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise ModelInvalidError(f"{folder} is not a model folder: it has no config.json")
    try:
        config = json.loads(config_file.read_text())
    except (OSError, ValueError) as exc:
        raise ModelInvalidError(f"{config_file} cannot be read: {exc}") from None
    model_type = config.get("model_type", "")
    if model_type not in ("siglip", "siglip_vision_model"):
        raise ModelInvalidError(
            f"{folder} holds a {model_type or 'unknown'!r} model, not a SigLIP encoder "
            f"(expected model_type 'siglip' or 'siglip_vision_model')")
    vision = config.get("vision_config", config)
    hidden = vision.get("hidden_size", 768)
    if hidden != EMBED_DIM:
        raise ModelInvalidError(
            f"{folder} is a SigLIP encoder with hidden size {hidden}; the aesthetic head needs "
            f"{EMBED_DIM} (the so400m architecture)")
    if not list(folder.glob("*.safetensors")) and not list(folder.glob("*.bin")):
        raise ModelInvalidError(f"{folder} has a config.json but no weights (*.safetensors)")


def resolve_encoder(spec: str, allow_download: bool = True) -> EncoderSource:
    """Local folder, then the Hugging Face cache, then (when allowed) the hub."""
    local = Path(spec).expanduser()
    if local.is_dir():
        _check_encoder_folder(local)
        weights = sorted(local.glob("*.safetensors")) or sorted(local.glob("*.bin"))
        digest = hashlib.sha256("".join(_cached_sha256(w) for w in weights).encode()).hexdigest()
        return EncoderSource(local.resolve(), f"local:{digest[:16]}")
    if spec.startswith(("/", ".", "~")) or local.exists():
        raise ModelMissingError(f"encoder folder {spec} does not exist (or is not a folder)")
    try:
        from huggingface_hub import snapshot_download
    except ImportError:  # pragma: no cover - a dependency
        raise _missing_encoder(spec, "huggingface_hub is not installed") from None
    try:
        folder = Path(snapshot_download(spec, allow_patterns=ENCODER_FILES, local_files_only=True))
    except Exception as exc:  # LocalEntryNotFoundError and friends
        log.info("encoder %s not in the HF cache: %s", spec, exc)
        if not allow_download:
            raise _missing_encoder(spec, NOT_DOWNLOADED) from None
        try:
            folder = Path(snapshot_download(spec, allow_patterns=ENCODER_FILES))
        except Exception as exc2:
            log.debug("encoder download failed", exc_info=True)
            raise _missing_encoder(spec, download_problem(exc2)) from None
    _check_encoder_folder(folder)
    return EncoderSource(folder, f"{spec}@{folder.name[:12]}")


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


def _missing_head(spec: str, why: str) -> ModelMissingError:
    if why == NOT_DOWNLOADED:
        head = f"The aesthetic head weights are not on this computer: {why} (from {spec})."
    else:
        head = f"The aesthetic head weights are missing and could not be downloaded from {spec}: {why}."
    return ModelMissingError(
        f"{head} Connect to the internet and run `aesthete download`, or pass --head FILE with a local "
        f"copy of aesthetic_predictor_v2_5.pth (or set head in the settings).")


def head_cache_path(url: str = HEAD_URL) -> Path:
    return paths.cache_dir() / "models" / url.rsplit("/", 1)[-1]


def download(url: str, dest: Path, sha256: str | None, progress: Progress | None = None,
             cancelled: Callable[[], bool] | None = None, timeout: float = 30) -> Path:
    """Download to a temp file next to dest, verify, then rename into place."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=".download-")
    tmp = Path(tmp_name)
    try:
        h = hashlib.sha256()
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            total = int(resp.headers.get("Content-Length") or 0)
            done = 0
            while block := resp.read(1 << 20):
                if cancelled and cancelled():
                    raise ModelMissingError("download cancelled")
                out.write(block)
                h.update(block)
                done += len(block)
                if progress:
                    progress(done, total)
        if sha256 and h.hexdigest() != sha256:
            raise ModelInvalidError(
                f"the file downloaded from {url} has SHA-256 {h.hexdigest()}, expected {sha256}; "
                "it was not kept")
        os.replace(tmp, dest)
        return dest
    finally:
        tmp.unlink(missing_ok=True)


def resolve_head(spec: str, allow_download: bool = True, progress: Progress | None = None,
                 cancelled: Callable[[], bool] | None = None) -> HeadSource:
    if spec.startswith(("http://", "https://")):
        expected = HEAD_SHA256 if spec == HEAD_URL else None
        cached = head_cache_path(spec)
        if cached.is_file():
            digest = file_sha256(cached)
            if expected is None or digest == expected:
                return HeadSource(cached, digest)
            log.warning("cached head %s has the wrong SHA-256; downloading again", cached)
        if not allow_download:
            raise _missing_head(spec, NOT_DOWNLOADED)
        try:
            download(spec, cached, expected, progress, cancelled)
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            log.debug("head download failed", exc_info=True)
            raise _missing_head(spec, download_problem(exc)) from None
        return HeadSource(cached, file_sha256(cached))
    path = Path(spec).expanduser()
    if not path.is_file():
        raise ModelMissingError(f"head file {spec} does not exist. Pass --head FILE with a copy of "
                                "aesthetic_predictor_v2_5.pth, or leave --head unset to download it.")
    return HeadSource(path.resolve(), _cached_sha256(path.resolve()))


def load_head(path: Path) -> AestheticHead:
    """Load and check the head's state dict (saved on CUDA upstream, so mapped to the CPU)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        # torch's own words (an unpickling error code, a paragraph on weights_only) tell a user nothing
        raise ModelInvalidError(
            f"{path} is not a PyTorch weights file (damaged, or another kind of file under this name); "
            "the head is aesthetic_predictor_v2_5.pth") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ModelInvalidError(f"{path} does not hold a state dict")
    missing = sorted(set(HEAD_SHAPES) - set(state))
    if missing:
        raise ModelInvalidError(
            f"{path} is not an Aesthetic Predictor V2.5 head: missing {', '.join(missing[:4])}")
    for key, shape in HEAD_SHAPES.items():
        got = tuple(getattr(state[key], "shape", ()))
        if got != shape:
            raise ModelInvalidError(f"{path}: {key} has shape {got}, expected {shape}")
    for key in HEAD_SHAPES:
        bad = int((~torch.isfinite(state[key].float())).sum())
        if bad:
            # Such a head scores every photo NaN or infinity: refused here, before anything is scored.
            raise ModelInvalidError(
                f"the head {path} is damaged: {key} holds {bad} NaN or infinite value{'s' if bad != 1 else ''}. "
                "Get a good copy of aesthetic_predictor_v2_5.pth (leave --head unset to download it).")
    head = AestheticHead()
    head.load_state_dict({k: state[k].float() for k in HEAD_SHAPES})
    return head.eval()


def load_encoder(folder: Path, dtype: torch.dtype = torch.float32) -> nn.Module:
    """The SigLIP vision tower from a checked folder (a full SigLIP checkpoint works too)."""
    with library_noise_to_log():
        from transformers import SiglipVisionModel
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()  # unused text-tower weights are expected, not news
        hf_logging.disable_progress_bar()
        try:
            model = SiglipVisionModel.from_pretrained(str(folder), attn_implementation="sdpa")
        except Exception as exc:
            raise ModelInvalidError(f"cannot load the SigLIP encoder from {folder}: {_short(exc)}") from None
    if dtype != torch.float32:
        model = model.to(dtype)
    return model.eval()
