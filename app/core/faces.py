"""Faces in a photo: where they are, whether their eyes are closed, and how sharp each one is.

MediaPipe's Face Landmarker bundle (face_landmarker.task) is fetched like the aesthetic head: a pinned
versioned URL checked against its SHA-256, or a local file. The mediapipe package runs it; it is imported
only on first use, with the environment OpenCV changes on import put back, so the app's Qt never sees it.
"""
from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import threading
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np
from PIL import Image

from app.config import paths
from app.core import quality
from app.errors import FacesUnavailable, PhotoError

if TYPE_CHECKING:
    from app.core.model import Progress

log = logging.getLogger(__name__)

FACES_MODEL_URL = ("https://storage.googleapis.com/mediapipe-models/face_landmarker/face_landmarker/"
                   "float16/1/face_landmarker.task")
FACES_MODEL_SHA256 = "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff"
FACES_VERSION = 1  # bump when what a FaceReport holds or how it is measured changes
_BUNDLE_PARTS = ("face_detector.tflite", "face_landmarks_detector.tflite", "face_blendshapes.tflite")
INSTALL_HINT = "pip install 'aesthete[faces]' (the mediapipe package)"

# Mean of the two eyes' blink scores at which the eyes count as closed. Measured with
# tests/unit/test_faces.py's figures on ../shared/real: 100 closed-eye crops (CEW) and 100 open-eye crops
# (UTKFace) scaled to 60, 100 and 160 px and padded to three times that: at 0.45, 95-98 closed found and
# 0-2 open ones called closed; at 0.5, 90-94 and 0-1; at 0.4, 98-99 and 1-3.
EYES_CLOSED = 0.45
# The detector (BlazeFace short range, 128 px input) finds faces from about 15% of its image's long side
# (pasted real faces on a 1600 px photo: 1 of 20 at 12%, 17 of 20 at 16%). The whole frame finds large
# faces; a grid of overlapping tiles finds the smaller faces of a group.
TILE_GRID = 2  # tiles per side; each TILE_SPAN of the frame, so faces from ~10% of the long side are found
TILE_SPAN = 0.6
_TILE_FINDS = 0.15 * TILE_SPAN  # the smallest face a tile finds, as a share of the frame's long side
_DETECT_SIDE = 256  # px each detector image is scaled to: it works at 128, more only costs copying
_CROP_FACTOR = 3.0  # the landmarker's crop is this many face widths wide (its detector must see the face)
_CROP_SIDE = 320  # ...at this size, so the face is about 107 px: 60 to 160 px faces measured alike
_FOCUS_SIDE = 256  # a face box larger than this is reduced before its focus is measured
_MIN_SIDE = 32  # smaller images have no face worth judging
_SAME_FACE = 0.5  # boxes overlapping by this share of the smaller one are one face found twice
_MAX_FACES = 20


@dataclass(frozen=True)
class Face:
    """One face; the box is in fractions of the photo's width and height, so it holds at any decode size."""

    x: float
    y: float
    w: float
    h: float
    confidence: float  # the detector's
    # MediaPipe's eyeBlinkLeft / eyeBlinkRight blendshapes, 0 (open) to 1 (closed); None when the landmarker
    # could not place the eyes.
    blink_left: float | None
    blink_right: float | None
    # Fine to coarse detail inside the box (quality's exposure-independent focus; higher is sharper) and
    # the blur width in px at focus_side; None when the face is too small to judge.
    focus: float | None
    blur_px: float | None
    focus_side: int  # the longer side, in px, of the box as its focus was measured

    @property
    def area(self) -> float:
        """Share of the photo's area the face covers."""
        return self.w * self.h

    @property
    def eyes_closed(self) -> bool | None:
        if self.blink_left is None or self.blink_right is None:
            return None
        return (self.blink_left + self.blink_right) / 2.0 >= EYES_CLOSED


@dataclass(frozen=True)
class FaceReport:
    faces: tuple[Face, ...] = ()
    model: str = ""  # the model file's SHA-256 (first 16 hex digits)
    version: int = FACES_VERSION

    def prominent(self, share: float = 0.25) -> tuple[Face, ...]:
        """Faces at least `share` of the largest face's area: the people a photo is of."""
        if not self.faces:
            return ()
        largest = max(f.area for f in self.faces)
        return tuple(f for f in self.faces if f.area >= share * largest)

    @property
    def eyes_closed(self) -> bool:
        """Whether any prominent face has its eyes closed."""
        return self.closed_eyes > 0

    @property
    def closed_eyes(self) -> int:
        """How many prominent faces have their eyes closed (the grid's badge and filter count them)."""
        return sum(1 for f in self.prominent() if f.eyes_closed)

    def to_dict(self) -> dict:
        return {"version": self.version, "model": self.model, "faces": [asdict(f) for f in self.faces]}

    @classmethod
    def from_dict(cls, d: dict) -> FaceReport:
        faces = []
        for f in d.get("faces", []):
            faces.append(Face(
                float(f["x"]), float(f["y"]), float(f["w"]), float(f["h"]), float(f["confidence"]),
                _opt(f.get("blink_left")), _opt(f.get("blink_right")), _opt(f.get("focus")),
                _opt(f.get("blur_px")), int(f.get("focus_side", 0))))
        return cls(tuple(faces), str(d.get("model", "")), int(d.get("version", 0)))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> FaceReport:
        return cls.from_dict(json.loads(text))


def _opt(v) -> float | None:
    return None if v is None else float(v)


# --- the model file -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FacesModel:
    path: Path
    sha256: str


def faces_model_cache_path(url: str = FACES_MODEL_URL) -> Path:
    return paths.cache_dir() / "models" / url.rsplit("/", 1)[-1]


def _unavailable(why: str) -> FacesUnavailable:
    return FacesUnavailable(
        f"Face checks are off: {why}. Everything else works. To turn them on, connect to the internet and "
        f"run `aesthete download` (it fetches face_landmarker.task from {FACES_MODEL_URL}), or pass "
        "--faces-model FILE with a copy of face_landmarker.task (or set faces_model in the settings).")


def check_bundle(path: Path) -> None:
    """A Face Landmarker bundle is a zip of the detector, landmarks and blendshapes models."""
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
    except (OSError, zipfile.BadZipFile, ValueError):
        raise _unavailable(f"{path} is not a MediaPipe Face Landmarker model (face_landmarker.task): "
                           "it is damaged or another kind of file") from None
    missing = [p for p in _BUNDLE_PARTS if p not in names]
    if missing:
        raise _unavailable(f"{path} is not a MediaPipe Face Landmarker model: it lacks {', '.join(missing)}")


def resolve_faces_model(spec: str | None = None, allow_download: bool = True, progress: Progress | None = None,
                        cancelled: Callable[[], bool] | None = None) -> FacesModel:
    """The face model from a local file, or the pinned URL's copy in the user cache (downloaded when
    allowed and missing or damaged). Raises FacesUnavailable with what to do."""
    spec = spec or FACES_MODEL_URL
    from app.core.weights import download, download_problem, file_sha256

    if not spec.startswith(("http://", "https://")):
        path = Path(spec).expanduser()
        if not path.is_file():
            raise _unavailable(f"the face model file {spec} does not exist")
        check_bundle(path)
        digest = file_sha256(path)
        if digest != FACES_MODEL_SHA256:
            log.info("face model %s is not the pinned release (SHA-256 %s); using it as given", path, digest)
        return FacesModel(path.resolve(), digest)
    expected = FACES_MODEL_SHA256 if spec == FACES_MODEL_URL else None
    cached = faces_model_cache_path(spec)
    if cached.is_file():
        digest = file_sha256(cached)
        if expected is None or digest == expected:
            check_bundle(cached)
            return FacesModel(cached, digest)
        log.warning("cached face model %s has the wrong SHA-256 (%s); downloading again", cached, digest)
    if not allow_download:
        raise _unavailable("the face model face_landmarker.task has not been downloaded yet")
    try:
        download(spec, cached, expected, progress, cancelled)
    except FacesUnavailable:
        raise
    except Exception as exc:  # URLError, OSError, a wrong SHA-256 (ModelInvalidError): told, not raised raw
        log.debug("face model download failed", exc_info=True)
        raise _unavailable(f"the face model could not be downloaded from {spec}: {download_problem(exc)}") from None
    check_bundle(cached)
    return FacesModel(cached, file_sha256(cached))


# --- the runtime ----------------------------------------------------------------------------------------

# What OpenCV (imported by mediapipe) writes into the environment on import: its Qt 5 plugin and font
# folders, which the app's Qt 6 would read and fail on.
_QT_ENV = ("QT_QPA_PLATFORM_PLUGIN_PATH", "QT_QPA_FONTDIR")
_import_lock = threading.Lock()
_vision = None


@contextlib.contextmanager
def _environment_kept(names: Sequence[str] = _QT_ENV):
    saved = {n: os.environ.get(n) for n in names}
    try:
        yield
    finally:
        for n, v in saved.items():
            if v is None:
                os.environ.pop(n, None)
            else:
                os.environ[n] = v


def _mediapipe():
    """mediapipe's vision tasks and its Image type, imported once, leaving os.environ as it was."""
    global _vision
    with _import_lock:
        if _vision is None:
            try:
                with _environment_kept():
                    import mediapipe
                    from mediapipe.tasks.python import vision
                    from mediapipe.tasks.python.core.base_options import BaseOptions
            except ImportError as exc:
                log.info("mediapipe cannot be imported: %s", exc)
                raise _unavailable(f"the mediapipe package is not installed ({INSTALL_HINT})") from None
            _vision = (vision, BaseOptions, mediapipe.Image, mediapipe.ImageFormat)
        return _vision


class FaceAnalyser:
    """The detector and landmarker of one model file. Not thread-safe: one per thread (see analyse_faces)."""

    def __init__(self, model: FacesModel):
        vision, base_options, self._image, self._format = _mediapipe()
        self.model = model
        try:
            data = model.path.read_bytes()
            with zipfile.ZipFile(model.path) as z:
                detector = z.read("face_detector.tflite")
            with _environment_kept():
                self._detector = vision.FaceDetector.create_from_options(vision.FaceDetectorOptions(
                    base_options=base_options(model_asset_buffer=detector), min_detection_confidence=0.5))
                self._landmarker = vision.FaceLandmarker.create_from_options(vision.FaceLandmarkerOptions(
                    base_options=base_options(model_asset_buffer=data), num_faces=1,
                    output_face_blendshapes=True))
        except FacesUnavailable:
            raise
        except Exception as exc:  # mediapipe's own words for a model it cannot run
            log.warning("the face model %s could not be loaded", model.path, exc_info=True)
            raise _unavailable(f"the face model {model.path} could not be loaded ({str(exc)[:200]})") from None

    def close(self) -> None:
        for task in (getattr(self, "_detector", None), getattr(self, "_landmarker", None)):
            if task is not None:
                with contextlib.suppress(Exception):
                    task.close()
        self._detector = self._landmarker = None

    def _mp(self, rgb: np.ndarray):
        return self._image(image_format=self._format.SRGB, data=np.ascontiguousarray(rgb))

    def _detect(self, rgb: Image.Image, box: tuple[int, int, int, int]) -> list[tuple[float, float, float, float, float]]:
        """Faces in one region of the image as (x0, y0, x1, y1, confidence) in the image's pixels."""
        region = rgb.crop(box)
        scale = min(1.0, _DETECT_SIDE / max(region.size))
        if scale < 1.0:
            region = region.resize((max(1, round(region.width * scale)), max(1, round(region.height * scale))),
                                   Image.Resampling.BILINEAR)
        sx, sy = (box[2] - box[0]) / region.width, (box[3] - box[1]) / region.height
        found = []
        for d in self._detector.detect(self._mp(np.asarray(region))).detections:
            b = d.bounding_box
            x0, y0 = box[0] + b.origin_x * sx, box[1] + b.origin_y * sy
            found.append((x0, y0, x0 + b.width * sx, y0 + b.height * sy, float(d.categories[0].score)))
        return found

    def _blinks(self, rgb: Image.Image, x0: float, y0: float, x1: float, y1: float) -> tuple[float, float] | None:
        """Blink scores from the landmarker run on a crop around the face, at a size it reads eyes well."""
        side = _CROP_FACTOR * max(x1 - x0, y1 - y0)
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        box = (round(cx - side / 2), round(cy - side / 2), round(cx + side / 2), round(cy + side / 2))
        crop = rgb.crop(box)  # outside the photo Pillow fills black, which the landmarker reads as a border
        crop = crop.resize((_CROP_SIDE, _CROP_SIDE), Image.Resampling.BILINEAR)
        result = self._landmarker.detect(self._mp(np.asarray(crop)))
        if not result.face_blendshapes:
            return None
        scores = {c.category_name: float(c.score) for c in result.face_blendshapes[0]}
        if "eyeBlinkLeft" not in scores or "eyeBlinkRight" not in scores:
            return None
        return scores["eyeBlinkLeft"], scores["eyeBlinkRight"]

    def analyse(self, image: Image.Image | np.ndarray) -> FaceReport:
        rgb = _as_rgb(image)
        w, h = rgb.size
        if min(w, h) < _MIN_SIDE:
            return FaceReport((), self.model.sha256[:16])
        found = self._detect(rgb, (0, 0, w, h))
        largest = max((max(b[2] - b[0], b[3] - b[1]) for b in found), default=0.0)
        # Tiles find faces from about half the size the whole frame does; when the frame already shows a
        # face twice that, those have under a quarter of its area and are nobody the photo is of.
        if TILE_GRID > 1 and largest < 2.0 * _TILE_FINDS * max(w, h):
            tw, th = round(w * TILE_SPAN), round(h * TILE_SPAN)
            for i in range(TILE_GRID):
                for j in range(TILE_GRID):
                    x, y = round(i * (w - tw) / (TILE_GRID - 1)), round(j * (h - th) / (TILE_GRID - 1))
                    found += self._detect(rgb, (x, y, x + tw, y + th))
        faces = []
        for x0, y0, x1, y1, conf in _distinct(found)[:_MAX_FACES]:
            x0, y0, x1, y1 = max(0.0, x0), max(0.0, y0), min(float(w), x1), min(float(h), y1)
            if x1 - x0 < 4 or y1 - y0 < 4:
                continue
            blinks = self._blinks(rgb, x0, y0, x1, y1)
            if blinks is None:
                continue  # the landmarker, looking closer, sees no face: a detector false alarm
            focus = _face_focus(rgb, (x0, y0, x1, y1))
            faces.append(Face(x0 / w, y0 / h, (x1 - x0) / w, (y1 - y0) / h, conf, blinks[0], blinks[1],
                              *focus))
        faces.sort(key=lambda f: (f.x, f.y))
        return FaceReport(tuple(faces), self.model.sha256[:16])


def _as_rgb(image: Image.Image | np.ndarray) -> Image.Image:
    """An RGB Pillow image from what the analysis pass hands over; a PhotoError when it has no pixels to read."""
    try:
        if isinstance(image, np.ndarray):
            a = image
            if a.dtype != np.uint8:
                if a.dtype.kind == "f":  # floats as the pipeline keeps them: 0..1
                    a = np.clip(np.nan_to_num(a) * 255.0 + 0.5, 0, 255)
                a = np.clip(a, 0, 255).astype(np.uint8)
            if a.ndim == 3 and a.shape[2] == 1:
                a = a[:, :, 0]
            image = Image.fromarray(a)
        if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
            a = np.asarray(image, dtype=np.float64)
            top = a.max() if a.size else 0.0
            image = Image.fromarray((a * (255.0 / top) if top > 0 else a).clip(0, 255).astype(np.uint8))
        return image if image.mode == "RGB" else image.convert("RGB")
    except (ValueError, TypeError, OSError) as exc:
        raise PhotoError(f"the image's pixels cannot be read for face checks ({exc})") from None


def _distinct(found: list[tuple[float, float, float, float, float]]) -> list[tuple[float, float, float, float, float]]:
    """One box per face, the most confident, when the frame and a tile (or two tiles) both found it."""
    kept: list[tuple[float, float, float, float, float]] = []
    for b in sorted(found, key=lambda b: -b[4]):
        area = (b[2] - b[0]) * (b[3] - b[1])
        for k in kept:
            iw = min(b[2], k[2]) - max(b[0], k[0])
            ih = min(b[3], k[3]) - max(b[1], k[1])
            if iw > 0 and ih > 0 and iw * ih >= _SAME_FACE * min(area, (k[2] - k[0]) * (k[3] - k[1])):
                break
        else:
            kept.append(b)
    return kept


def _face_focus(rgb: Image.Image, box: tuple[float, float, float, float]) -> tuple[float | None, float | None, int]:
    crop = rgb.crop(tuple(round(v) for v in box)).convert("L")
    factor = max(crop.size) // _FOCUS_SIDE
    if factor > 1:
        crop = crop.reduce(factor)  # the same box filter the photo's own focus is measured after
    measured = quality.region_focus(np.asarray(crop))
    if measured is None:
        return None, None, max(crop.size)
    return measured[0], measured[1], max(crop.size)


# --- one analyser per thread and model ------------------------------------------------------------------

_local = threading.local()
_all: list[FaceAnalyser] = []
_all_lock = threading.Lock()


def analyser(model: FacesModel) -> FaceAnalyser:
    """This thread's analyser for the model (mediapipe's tasks are not to be shared between threads)."""
    current = getattr(_local, "analyser", None)
    if current is None or current.model != model:
        if current is not None:
            current.close()
        current = FaceAnalyser(model)
        _local.analyser = current
        with _all_lock:
            _all.append(current)
    return current


@atexit.register
def close_all() -> None:
    """Close every analyser (mediapipe's tasks complain when left to the interpreter's shutdown)."""
    with _all_lock:
        for a in _all:
            a.close()
        _all.clear()
    _local.__dict__.pop("analyser", None)


def analyse_faces(image: Image.Image | np.ndarray, model: FacesModel) -> FaceReport:
    """The faces of an RGB photo (Pillow image or HxWx3 array; the analysis pass's reduced decode is enough).

    Raises FacesUnavailable when the model cannot run, PhotoError when the image has no readable pixels."""
    return _analysed(analyser(model), image)


def _analysed(a: FaceAnalyser, image: Image.Image | np.ndarray) -> FaceReport:
    try:
        return a.analyse(image)
    except (PhotoError, FacesUnavailable):
        raise
    except MemoryError:
        raise PhotoError("not enough memory for the face checks") from None
    except Exception as exc:  # mediapipe on an image it cannot take: this photo's error, logged
        log.exception("face analysis failed")
        raise PhotoError(f"the face checks failed on this photo ({type(exc).__name__}: {str(exc)[:200]})") from None


class AnalyserPool:
    """Analysers of one model lent to whichever thread asks, one thread at a time each. The analysis
    pass decodes in a new thread pool per run: thread-local analysers would pile up with the threads
    gone, while a pool keeps as many as ran at once, loaded once for the pass's whole life."""

    def __init__(self, model: FacesModel):
        self.model = model
        self._free: list[FaceAnalyser] = []
        self._lock = threading.Lock()

    def load(self) -> AnalyserPool:
        """Load one analyser now (raises FacesUnavailable when the model or mediapipe cannot run)."""
        a = FaceAnalyser(self.model)
        with _all_lock:
            _all.append(a)
        with self._lock:
            self._free.append(a)
        return self

    def analyse(self, image: Image.Image | np.ndarray) -> FaceReport:
        """As analyse_faces does."""
        with self._lock:
            a = self._free.pop() if self._free else None
        if a is None:
            a = FaceAnalyser(self.model)
            with _all_lock:
                _all.append(a)  # closed at exit when still open
        try:
            return _analysed(a, image)
        finally:
            with self._lock:
                self._free.append(a)

    def close(self) -> None:
        with self._lock:
            free, self._free = self._free, []
        for a in free:
            a.close()
        with _all_lock:
            _all[:] = [a for a in _all if a not in free]
