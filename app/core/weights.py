"""Find and check a model's weights without loading them (each model as app.config.models describes
it): the encoder (SigLIP for V2.5, CLIP for LAION V2) from a local folder, the Hugging Face cache or
the hub; the head from a local file or the pinned upstream URL, checked
against its SHA-256. Offline and missing weights give a ModelMissingError that says what is
missing and how to supply it. No torch here: `aesthete list --encoder DIR` names a model's
scores from the model key alone, and importing torch costs seconds.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from app.config import paths
from app.config.models import MODELS, V2_5, ModelSpec
from app.config.settings import HEAD_URL
from app.errors import ModelInvalidError, ModelMissingError

log = logging.getLogger(__name__)

HEAD_SHA256 = V2_5.head_sha256
EMBED_DIM = V2_5.embed_dim
# The checkpoint (google/siglip-so400m-patch14-384 is the whole SigLIP model) and its tokenizer, which
# text search needs (a few hundred kB; the model's text tower is in the same weights file).
TOKENIZER_FILES = ["spiece.model", "tokenizer_config.json", "special_tokens_map.json"]
ENCODER_FILES = ["config.json", "*.safetensors", "preprocessor_config.json", *TOKENIZER_FILES]
Progress = Callable[[int, int], None]  # (bytes done, bytes total or 0)


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


def _missing_encoder(spec: str, why: str, model: ModelSpec = V2_5) -> ModelMissingError:
    kind = model.encoder_kind
    if why == NOT_DOWNLOADED:
        head = f"The {kind} encoder {spec!r} is not on this computer: {why}."
    else:
        head = f"The {kind} encoder {spec!r} is not on this computer and could not be downloaded: {why}."
    model_flag = "" if model is V2_5 else f" --model {model.name}"
    return ModelMissingError(
        f"{head} Connect to the internet and run `aesthete download{model_flag}`, or use a local copy: pass "
        f"{model_flag.strip()}{' ' if model_flag else ''}--encoder DIR (a folder holding config.json and "
        f"model.safetensors, e.g. a download of {model.default_encoder}) and --head FILE, or set "
        f"{model.encoder_setting} and {model.head_setting} in the settings."
    )


def _read_config(folder: Path) -> dict:
    """A model folder's config.json (ModelInvalidError when it has none or it cannot be read)."""
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise ModelInvalidError(f"{folder} is not a model folder: it has no config.json")
    try:
        return json.loads(config_file.read_text())
    except (OSError, ValueError) as exc:
        raise ModelInvalidError(f"{config_file} cannot be read: {exc}") from None


def _check_encoder_folder(folder: Path, model: ModelSpec = V2_5) -> None:
    if model is not V2_5:
        return _check_other_encoder(folder, model)
    config = _read_config(folder)
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


def _check_other_encoder(folder: Path, model: ModelSpec) -> None:
    """A CLIP folder for LAION V2: the whole CLIPModel (as the hub's checkpoint) or its vision tower
    with the projection, whose image embedding is as wide as the head's input."""
    config = _read_config(folder)
    model_type = config.get("model_type", "")
    if model_type not in model.encoder_types:
        raise ModelInvalidError(
            f"{folder} holds a {model_type or 'unknown'!r} model, not a {model.encoder_kind} encoder "
            f"(expected model_type {' or '.join(repr(t) for t in model.encoder_types)})")
    dim = config.get("projection_dim", config.get("vision_config", {}).get("projection_dim", 512))
    if dim != model.embed_dim:
        raise ModelInvalidError(
            f"{folder} is a {model.encoder_kind} encoder with {dim}-wide image embeddings; the {model.title} "
            f"head needs {model.embed_dim} (ViT-L/14)")
    if not list(folder.glob("*.safetensors")) and not list(folder.glob("*.bin")):
        raise ModelInvalidError(f"{folder} has a config.json but no weights (*.safetensors)")


def resolve_encoder(spec: str, allow_download: bool = True, model: ModelSpec = V2_5) -> EncoderSource:
    """Local folder, then the Hugging Face cache, then (when allowed) the hub."""
    local = Path(spec).expanduser()
    if local.is_dir():
        _check_encoder_folder(local, model)
        weights = sorted(local.glob("*.safetensors")) or sorted(local.glob("*.bin"))
        digest = hashlib.sha256("".join(_cached_sha256(w) for w in weights).encode()).hexdigest()
        return EncoderSource(local.resolve(), f"local:{digest[:16]}")
    if spec.startswith(("/", ".", "~")) or local.exists():
        raise ModelMissingError(f"encoder folder {spec} does not exist (or is not a folder)")
    try:
        from huggingface_hub import snapshot_download
    except ImportError:  # pragma: no cover - a dependency
        raise _missing_encoder(spec, "huggingface_hub is not installed", model) from None
    try:
        folder = Path(snapshot_download(spec, allow_patterns=ENCODER_FILES, local_files_only=True))
    except Exception as exc:  # LocalEntryNotFoundError and friends
        log.info("encoder %s not in the HF cache: %s", spec, exc)
        if not allow_download:
            raise _missing_encoder(spec, NOT_DOWNLOADED, model) from None
        try:
            folder = Path(snapshot_download(spec, allow_patterns=ENCODER_FILES))
        except Exception as exc2:
            log.debug("encoder download failed", exc_info=True)
            raise _missing_encoder(spec, download_problem(exc2), model) from None
    _check_encoder_folder(folder, model)
    return EncoderSource(folder, f"{spec}@{folder.name[:12]}")


def resolve_text_tower(spec: str, allow_download: bool = True) -> EncoderSource:
    """The encoder's folder when it holds SigLIP's text tower and tokenizer too (the whole
    checkpoint, as the hub id is); raises ModelMissingError saying what is missing otherwise.
    The key is the encoder's, so a text embedding is only ever matched with its own images'."""
    source = resolve_encoder(spec, allow_download)
    folder = source.path
    config = json.loads((folder / "config.json").read_text())
    if config.get("model_type") != "siglip" or "text_config" not in config:
        raise ModelMissingError(
            f"the model {spec} has no text tower (its folder holds only SigLIP's vision encoder), so it "
            f"cannot search by words; use the whole checkpoint (such as {V2_5.default_encoder}) as the encoder")
    if not (folder / "spiece.model").is_file() and not Path(spec).expanduser().is_dir():
        try:
            from huggingface_hub import snapshot_download

            folder = Path(snapshot_download(spec, allow_patterns=TOKENIZER_FILES,
                                            local_files_only=not allow_download))
        except Exception as exc:
            log.info("tokenizer of %s not found: %s", spec, exc)
            why = NOT_DOWNLOADED if not allow_download else download_problem(exc)
            raise ModelMissingError(
                f"the tokenizer of {spec} (spiece.model) is not on this computer: {why}. "
                "Run `aesthete download` once online.") from None
    if not (folder / "spiece.model").is_file() and not (folder / "tokenizer.json").is_file():
        fix = "copy it there" if Path(spec).expanduser().is_dir() else "run `aesthete download` once online"
        raise ModelMissingError(f"the model folder {folder} has a text tower but no tokenizer (spiece.model): {fix}")
    return EncoderSource(folder, source.key)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


def _missing_head(spec: str, why: str, model: ModelSpec = V2_5) -> ModelMissingError:
    if why == NOT_DOWNLOADED:
        head = f"The aesthetic head weights are not on this computer: {why} (from {spec})."
    else:
        head = f"The aesthetic head weights are missing and could not be downloaded from {spec}: {why}."
    model_flag = "" if model is V2_5 else f" --model {model.name}"
    return ModelMissingError(
        f"{head} Connect to the internet and run `aesthete download{model_flag}`, or pass{model_flag} --head FILE "
        f"with a local copy of {model.head_file} (or set {model.head_setting} in the settings).")


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
                 cancelled: Callable[[], bool] | None = None, model: ModelSpec = V2_5) -> HeadSource:
    if spec.startswith(("http://", "https://")):
        expected = next((m.head_sha256 for m in MODELS.values() if m.head_url == spec), None)
        cached = head_cache_path(spec)
        if cached.is_file():
            digest = file_sha256(cached)
            if expected is None or digest == expected:
                return HeadSource(cached, digest)
            log.warning("cached head %s has the wrong SHA-256; downloading again", cached)
        if not allow_download:
            raise _missing_head(spec, NOT_DOWNLOADED, model)
        try:
            download(spec, cached, expected, progress, cancelled)
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            log.debug("head download failed", exc_info=True)
            raise _missing_head(spec, download_problem(exc), model) from None
        return HeadSource(cached, file_sha256(cached))
    path = Path(spec).expanduser()
    if not path.is_file():
        raise ModelMissingError(f"head file {spec} does not exist. Pass --head FILE with a copy of "
                                f"{model.head_file}, or leave --head unset to download it.")
    return HeadSource(path.resolve(), _cached_sha256(path.resolve()))


@dataclass(frozen=True)
class ModelKey:
    encoder: str
    head_sha256: str
    model: str = V2_5.name

    def __str__(self) -> str:
        return f"{MODELS[self.model].key_prefix}{self.encoder}+head:{self.head_sha256[:16]}"


@dataclass(frozen=True)
class ModelFiles:
    """The located weights: enough to know the model key without loading anything."""

    encoder: EncoderSource
    head: HeadSource
    model: str = V2_5.name

    @property
    def key(self) -> ModelKey:
        return ModelKey(self.encoder.key, self.head.sha256, self.model)

    @property
    def spec(self) -> ModelSpec:
        return MODELS[self.model]


def locate(encoder: str, head: str, allow_download: bool = True, model: str = V2_5.name) -> ModelFiles:
    m = MODELS[model]
    return ModelFiles(resolve_encoder(encoder, allow_download, m), resolve_head(head, allow_download, model=m),
                      m.name)


def locate_for(settings, allow_download: bool = True) -> ModelFiles:
    """The weights of the model the settings chose, from that model's own settings."""
    m = MODELS[settings.model]
    return locate(getattr(settings, m.encoder_setting), getattr(settings, m.head_setting), allow_download, m.name)
