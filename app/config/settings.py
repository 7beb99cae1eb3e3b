"""The typed settings registry: one place that names every setting, its type, default and doc.

Precedence when resolving a value: command-line flag, then an ``AESTHETE_<NAME>`` environment
variable, then the TOML settings file, then the default. The CLI and the GUI share the file.
"""
from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import tomli_w

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10 has no tomllib; tomli is the same parser, from PyPI
    import tomli as tomllib

from app.config import paths
from app.config.models import DEFAULT_MODEL, LAION_V2, MODELS, V2_5
from app.errors import SettingsError

log = logging.getLogger(__name__)


# What a running app must do when a setting changes. Each setting names one; the window subscribes
# a handler to each (see Announcer), so a new setting cannot be forgotten there.
MODEL = "model"  # the model is loaded again with the new value
RESCAN = "rescan"  # the library's folders are scanned again
REGROUP = "regroup"  # bursts, picks and cull candidates are found again
THRESHOLDS = "thresholds"  # score colours and the score rule's line move
CULL_RULES = "cull rules"  # the rules switched on in the Cull view
THUMBNAILS = "thumbnails"  # tiles are drawn at the new size
WHEN_USED = "when used"  # read each time it is used (the next mark, the next removal): nothing to do
EFFECTS = (MODEL, RESCAN, REGROUP, THRESHOLDS, CULL_RULES, THUMBNAILS, WHEN_USED)


@dataclass(frozen=True)
class Setting:
    name: str
    type: type
    default: Any
    doc: str
    effect: str
    choices: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    flag: str | None = None  # also a command-line option of every command: its help (the doc is for the file)
    metavar: str | None = None  # what the option's help calls its value (default: the name in capitals)

    @property
    def option(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def env_var(self) -> str:
        return "AESTHETE_" + self.name.upper()

    def parse(self, raw: Any, source: str) -> Any:
        """Turn a raw value (string from env/flag, or TOML value) into this setting's type."""
        try:
            if self.type is bool:
                if isinstance(raw, bool):
                    value = raw
                elif str(raw).strip().lower() in TRUE_WORDS | FALSE_WORDS:
                    value = str(raw).strip().lower() in TRUE_WORDS
                else:  # a typo ("ture") must not quietly turn the setting off
                    raise SettingsError(f"{source}: {self.name} must be true or false, got {raw!r}")
            elif self.type is list:
                if isinstance(raw, str):
                    value = [part.strip() for part in raw.split(",") if part.strip()]
                else:
                    value = [str(v) for v in raw]
            elif self.type is str and raw is None:
                value = ""
            else:
                value = self.type(raw)
        except (TypeError, ValueError):
            kind = {int: "whole number", float: "number"}.get(self.type, self.type.__name__)
            raise SettingsError(f"{source}: {self.name} must be a {kind}, got {raw!r}") from None
        if self.choices and self.type is list:
            wrong = [v for v in value if v not in self.choices]
            if wrong:
                raise SettingsError(f"{source}: {self.name} takes {', '.join(self.choices)}; "
                                    f"{', '.join(repr(v) for v in wrong)} is not one of them")
        elif self.choices and value not in self.choices:
            raise SettingsError(f"{source}: {self.name} must be one of {', '.join(self.choices)}, got {value!r}")
        if self.minimum is not None and value < self.minimum:
            raise SettingsError(f"{source}: {self.name} must be at least {self.minimum}, got {value!r}")
        if self.maximum is not None and value > self.maximum:
            raise SettingsError(f"{source}: {self.name} must be at most {self.maximum}, got {value!r}")
        return value


DEFAULT_ENCODER = V2_5.default_encoder
HEAD_URL = V2_5.head_url

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}
PATH_SETTINGS = ("encoder", "head", "laion_encoder", "laion_head", "faces_model", "rejects_folder")  # encoder, head: also a hub id or URL
FOLDER_SETTINGS = ("rejects_folder",)  # always a folder: kept absolute

REGISTRY: dict[str, Setting] = {
    s.name: s
    for s in [
        Setting("model", str, DEFAULT_MODEL,
                "Which aesthetic model scores and whose score is shown: v2.5 (Aesthetic Predictor V2.5) or "
                "laion-v2 (LAION aesthetic predictor V2). Each keeps its own scores.",
                choices=tuple(MODELS), effect=MODEL,
                flag="aesthetic model, v2.5 or laion-v2 (V2.5 unless set); --encoder and --head name its files"),
        Setting("encoder", str, DEFAULT_ENCODER,
                "V2.5's SigLIP vision encoder: a Hugging Face id or a local model folder.",
                effect=MODEL, flag="encoder of the model --model chose: Hugging Face id or local folder"),
        Setting("head", str, HEAD_URL,
                "V2.5's aesthetic head weights: a local .pth file or the pinned upstream URL.",
                effect=MODEL, flag="aesthetic head of the model --model chose: local .pth file or URL"),
        Setting("laion_encoder", str, LAION_V2.default_encoder,
                "LAION V2's CLIP ViT-L/14 encoder: a Hugging Face id or a local model folder.", effect=MODEL),
        Setting("laion_head", str, LAION_V2.head_url,
                "LAION V2's head weights (sac+logos+ava1-l14-linearMSE.pth): a local file or the pinned "
                "upstream URL.", effect=MODEL),
        Setting("device", str, "auto", "Where to run the model (auto: CUDA, then MPS, then CPU).",
                choices=("auto", "cpu", "cuda", "mps"),
                effect=MODEL, flag="where the model runs (auto: CUDA, then MPS, then CPU)"),
        Setting("precision", str, "auto", "Numeric precision; fp32 is exact, auto picks per device.",
                choices=("auto", "fp32", "bf16", "fp16", "int8"),
                effect=MODEL, flag="numeric precision (auto: chosen per device)"),
        Setting("runtime", str, "auto",
                "What runs the encoder: auto (ONNX Runtime for int8 on the CPU when installed, else PyTorch), "
                "torch or onnx.", choices=("auto", "torch", "onnx"),
                effect=MODEL, flag="what runs the encoder (auto: ONNX Runtime for int8 on the CPU when installed)"),
        Setting("faces_model", str, "",
                "Face model for the eyes and face focus checks: a MediaPipe face_landmarker.task file; empty "
                "means the pinned copy `aesthete download` puts in the cache (face checks are off without one).",
                effect=MODEL, flag="face model: a face_landmarker.task file (default: the downloaded copy)",
                metavar="FILE"),
        Setting("batch_size", int, 0, "Images per model batch (0: chosen per device).", minimum=0, maximum=512,
        effect=MODEL, flag="images per model batch (0: chosen per device)"),
        Setting("decode_workers", int, 0, "Threads decoding photos ahead of the model (0: automatic).",
                minimum=0, maximum=64, effect=MODEL),
        Setting("good_threshold", float, 5.5, "Scores at or above this are shown as very good.",
                minimum=0, maximum=10, effect=THRESHOLDS),
        Setting("cull_threshold", float, 4.0,
                "The score rule's threshold: photos scoring below it are cull candidates when the score rule is on.",
                minimum=0, maximum=10, effect=THRESHOLDS),
        Setting("cull_rules", list, ["score", "blur", "exposure", "extra", "copy", "eyes"],
                "Cull rules on by default: score (below the Cull below threshold), blur (out of focus or motion blur), "
                "exposure (nearly black or white, highlights lost), extra (not the pick of its group), "
                "copy (an exact copy), eyes (closed eyes, in a frame of a group that is not its pick).",
                choices=("score", "blur", "exposure", "extra", "copy", "eyes"), effect=CULL_RULES),
        Setting("out_of_focus_px", float, 0.7,
                "A photo alone is out of focus when even its sharpest part is blurred this many pixels at "
                "1024 px (sharp real photos measured 0.0-0.54, a 3 px blur of 1600 px photos 0.59-1.8).",
                minimum=0.1, maximum=16, effect=REGROUP),
        Setting("motion_blur_px", float, 0.9,
                "A photo alone has motion blur when it is smeared this many pixels more in one direction "
                "than in the others, at 1024 px (sharp real photos 0.0-0.68, real camera shakes 0.96-4.1).",
                minimum=0.1, maximum=16, effect=REGROUP),
        Setting("lost_highlights", float, 0.10,
                "A photo alone has lost its highlights when white patches with no detail cover this share "
                "of the frame, 0.10 being 10% (normal exposures 0-3%, real over-exposed photos 10-46%).",
                minimum=0.01, maximum=1, effect=REGROUP),
        Setting("thumbnail_size", int, 256, "Thumbnail size in pixels in the library grid.",
                minimum=64, maximum=1024, effect=THUMBNAILS),
        Setting("exclude", list, [], "Extra glob patterns (matched on names and relative paths) to skip.",
        effect=RESCAN),
        Setting("rejects_folder", str, "",
                "Where removed photos go; empty means the system trash.", effect=RESCAN),
        Setting("burst_window_s", float, 2.0, "Largest gap in seconds between frames of one burst.",
                minimum=0, maximum=3600, effect=REGROUP),
        Setting("scene_max_distance", int, 12,
                "Largest perceptual-hash distance (of 64 bits) for two photos to be the same scene.",
                minimum=0, maximum=64, effect=REGROUP),
        Setting("write_xmp", bool, False, "Write ratings, picks and rejects to XMP sidecar files.", effect=WHEN_USED),
    ]
}


FLAG_SETTINGS = tuple(name for name, s in REGISTRY.items() if s.flag)  # every command's setting options


def flags_given(args: Any) -> dict[str, Any]:
    """The settings given as options on a command line (argparse's namespace): the overrides that
    load() puts first, and that the GUI keeps over later changes in its dialog."""
    return {name: getattr(args, name, None) for name in FLAG_SETTINGS}


class Announcer:
    """Tells the running app what a settings change means: handlers subscribe to an effect and are
    called once per change with the old and new settings and the names that changed."""

    def __init__(self) -> None:
        self._handlers: dict[str, list[Callable[[Settings, Settings, list[str]], None]]] = {e: [] for e in EFFECTS}

    def subscribe(self, effect: str, handler: Callable[[Settings, Settings, list[str]], None]) -> None:
        if effect not in self._handlers:
            raise ValueError(f"unknown settings effect {effect!r}")
        self._handlers[effect].append(handler)

    def unhandled(self) -> list[str]:
        """Effects nobody subscribed to (WHEN_USED needs nobody)."""
        return [e for e, hs in self._handlers.items() if not hs and e != WHEN_USED]

    def announce(self, old: Settings, new: Settings) -> list[str]:
        """Call the handlers of every effect whose settings changed; returns the changed names."""
        changed = [n for n in REGISTRY if old.values.get(n) != new.values.get(n)]
        for effect in EFFECTS:
            names = [n for n in changed if REGISTRY[n].effect == effect]
            if names:
                for handler in self._handlers[effect]:
                    handler(old, new, names)
        return changed


@dataclass
class Settings:
    """Resolved settings with the source of each value, readable as attributes."""

    values: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    path: Path | None = None

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["values"][name]
        except KeyError:
            raise AttributeError(name) from None

    def explicit(self, name: str) -> bool:
        """True when the user chose the value (flag, env or file), not the built-in default."""
        return self.sources.get(name, "default") != "default"


def read_file(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"cannot read settings file {path}: {exc}") from None
    unknown = set(data) - set(REGISTRY)
    if unknown:
        log.warning("ignoring unknown settings in %s: %s", path, ", ".join(sorted(unknown)))
    return {k: v for k, v in data.items() if k in REGISTRY}


def load(path: Path | None = None, overrides: dict[str, Any] | None = None,
         environ: dict[str, str] | None = None) -> Settings:
    """Resolve every setting: overrides (flags) > environment > file > default."""
    path = path or paths.default_settings_path()
    environ = os.environ if environ is None else environ
    file_values = read_file(path)
    overrides = _model_flags(dict(overrides or {}), environ, file_values, path)
    settings = Settings(path=path)
    for name, setting in REGISTRY.items():
        if overrides and overrides.get(name) is not None:
            value, source = setting.parse(overrides[name], f"--{name.replace('_', '-')}"), "flag"
        elif setting.env_var in environ:
            value, source = setting.parse(environ[setting.env_var], setting.env_var), "env"
        elif name in file_values:
            value, source = setting.parse(file_values[name], str(path)), "file"
        else:
            value, source = setting.default, "default"
        if name in FOLDER_SETTINGS and value and source != "default":
            # A folder named relative means the one it named where it was given: the working folder
            # of a flag or variable, the settings file's folder for the file; never a later cwd.
            value = os.path.abspath(os.path.join(path.parent if source == "file" else os.getcwd(),
                                                 os.path.expanduser(value)))
        settings.values[name] = value
        settings.sources[name] = source
    return settings


def _model_flags(overrides: dict[str, Any], environ, file_values: dict[str, Any], path: Path) -> dict[str, Any]:
    """--encoder and --head name the files of the model --model (or the variable, or the file)
    chose: for a model other than V2.5 they are that model's own settings."""
    setting = REGISTRY["model"]
    if overrides.get("model") is not None:
        chosen = setting.parse(overrides["model"], "--model")
    elif setting.env_var in environ:
        chosen = setting.parse(environ[setting.env_var], setting.env_var)
    else:
        chosen = setting.parse(file_values.get("model", setting.default), str(path))
    own = MODELS[chosen]
    for flag, name in (("encoder", own.encoder_setting), ("head", own.head_setting)):
        if name != flag and overrides.get(flag) is not None:
            overrides[name] = overrides.pop(flag)
    return overrides


def save(path: Path, changes: dict[str, Any]) -> None:
    """Write changed values into the settings file, keeping the others; atomic replace.
    A path setting given as an existing relative path is saved absolute, so it means the same
    from any working folder (a relative encoder folder would otherwise read as a hub id)."""
    data = read_file(path)
    for name, raw in changes.items():
        setting = REGISTRY.get(name)
        if setting is None:
            raise SettingsError(f"unknown setting {name!r}")
        value = setting.parse(raw, name)
        if name in FOLDER_SETTINGS and value:
            value = os.path.abspath(os.path.expanduser(value))  # need not exist yet
        elif name in PATH_SETTINGS and value and not os.path.isabs(value) and os.path.exists(value):
            value = os.path.abspath(value)
        if value == setting.default:
            data.pop(name, None)
        else:
            data[name] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".toml.tmp")
    tmp.write_bytes(tomli_w.dumps(data).encode())
    os.replace(tmp, path)


