"""Download the model weights in the background, with progress, and cancellable.

The encoder comes from the Hugging Face hub (a progress bar class that raises stops it); the head
through the core's resolve_head, which checks its SHA-256. Failures are the core's plain messages.
It runs through the task registry (run_task on its own one-thread pool), so shutdown cancels it and
waits for it like any other background work; a download cut off at quit leaves only partial files
that the next download replaces.
"""
from __future__ import annotations

import io
import logging
import threading
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from app.config.settings import Settings
from app.errors import AestheteError
from app.workers.tasks import make_pool, on_shutdown, run_task

log = logging.getLogger(__name__)

# What a download fetches: the SigLIP checkpoint google/siglip-so400m-patch14-384 (model.safetensors,
# 3.51 GB: the full model, text tower included, in float32; plus two small config files) and the
# aesthetic head (aesthetic_predictor_v2_5.pth, 2.6 MB), and MediaPipe's face landmarker
# (face_landmarker.task, 3.8 MB). The banner and the README say this size.
ENCODER_DOWNLOAD_BYTES = 3_511_000_000
HEAD_DOWNLOAD_BYTES = 2_644_834
FACES_DOWNLOAD_BYTES = 3_758_596
DOWNLOAD_BYTES = ENCODER_DOWNLOAD_BYTES + HEAD_DOWNLOAD_BYTES + FACES_DOWNLOAD_BYTES


def download_size_text(n: int = DOWNLOAD_BYTES) -> str:
    """'about 3.5 GB' (decimal units, as the model site shows them)."""
    return f"about {n / 1e9:.1f} GB" if n >= 1e9 else f"about {n / 1e6:.0f} MB"


def offline_message(why: str) -> str:
    """The GUI's words for a download that could not reach the model site: what to do instead."""
    return (f"The model could not be downloaded: {why}. Connect to the internet and try again, or use "
            "model files you already have: “Choose model files…”, Library → Settings (Encoder and Aesthetic "
            "head), or `aesthete --encoder DIR --head FILE`.")


class _Stop(Exception):
    pass


class _Offline(Exception):
    """The model site could not be reached (why: the core's plain words)."""

    def __init__(self, why: str):
        super().__init__(why)
        self.why = why


class ModelDownload(QObject):
    progress = Signal(str, float, float)  # what, bytes done, bytes total (0: unknown)
    finished = Signal()
    failed = Signal(str)  # plain words; "cancelled" when the user stopped it

    def __init__(self, settings: Settings, parent: QObject | None = None):
        super().__init__(parent)
        self.settings = settings
        self._cancel = threading.Event()
        self._running = False
        self.pool = make_pool("download", 1, self)
        on_shutdown(self.cancel)  # the window's shutdown then waits for the pool, as for the others

    def start(self) -> None:
        if self._running:
            return
        self._cancel.clear()
        self._running = True
        run_task(self.pool, self._run, on_done=self._ended)

    def cancel(self) -> None:
        self._cancel.set()

    def wait(self, msecs: int = -1) -> bool:
        """Wait for the download to end (after cancel: its next chunk); True when it has."""
        return self.pool.waitForDone(msecs)

    @property
    def running(self) -> bool:
        """From start until finished or failed is emitted (both in the GUI thread)."""
        return self._running

    def _ended(self, why: str) -> None:
        self._running = False
        if why:
            self.failed.emit(why)
        else:
            self.finished.emit()

    def _run(self) -> str:
        """The download, in the pool's thread: "" when the weights are in place, else why not."""
        try:
            self._encoder()
            if self._cancel.is_set():
                raise _Stop()
            self._head()
            if self._cancel.is_set():
                raise _Stop()
            self._faces()
            if self._cancel.is_set():
                raise _Stop()
        except _Stop:
            return "cancelled"
        except _Offline as exc:
            return "cancelled" if self._cancel.is_set() else offline_message(exc.why)
        except AestheteError as exc:
            return "cancelled" if self._cancel.is_set() else str(exc)
        except Exception as exc:  # a bug: logged with its traceback, shown in plain words
            log.exception("model download failed")
            from app.core.weights import download_problem

            return ("cancelled" if self._cancel.is_set() else
                    f"The model could not be downloaded: {download_problem(exc)}.")
        return ""

    def _encoder(self) -> None:
        from app.config.models import spec as model_spec
        from app.core import weights as model_files

        own = model_spec(self.settings.model)  # the files of the model the settings chose
        spec = getattr(self.settings, own.encoder_setting)
        if Path(spec).expanduser().is_dir():
            model_files.resolve_encoder(spec, allow_download=False, model=own)
            return
        try:
            model_files.resolve_encoder(spec, allow_download=False, model=own)
            return  # already in the Hugging Face cache
        except AestheteError:
            pass
        try:
            from huggingface_hub import snapshot_download

            snapshot_download(spec, allow_patterns=model_files.ENCODER_FILES,
                              tqdm_class=self._progress_class("encoder"))
        except _Stop:
            raise
        except Exception as exc:
            if self._cancel.is_set():
                raise _Stop() from None
            log.info("encoder download failed", exc_info=True)
            why = model_files.download_problem(exc)
            if why in (model_files.OFFLINE, model_files.HUB_OFFLINE):
                raise _Offline(why) from None
            # The core says what went wrong, in the same words as `aesthete download`.
            model_files.resolve_encoder(spec, allow_download=True, model=own)
        model_files.resolve_encoder(spec, allow_download=False, model=own)

    def _head(self) -> None:
        from app.core import weights as model_files

        def progress(done: int, total: int) -> None:
            self.progress.emit("aesthetic head", float(done), float(total))

        from app.config.models import spec as model_spec

        own = model_spec(self.settings.model)
        spec = getattr(self.settings, own.head_setting)
        try:
            model_files.resolve_head(spec, allow_download=True, progress=progress, cancelled=self._cancel.is_set,
                                     model=own)
        except AestheteError as exc:
            if spec.startswith(("http://", "https://")) and model_files.OFFLINE in str(exc):
                raise _Offline(model_files.OFFLINE) from None
            raise

    def _faces(self) -> None:
        """The face model (3.6 MB): without it scoring works and only the face checks are off, so
        a failure here is logged, not the download's failure."""
        from app.core import faces

        def progress(done: int, total: int) -> None:
            self.progress.emit("face model", float(done), float(total))

        try:
            faces.resolve_faces_model(self.settings.faces_model or None, allow_download=True, progress=progress,
                                      cancelled=self._cancel.is_set)
        except AestheteError as exc:
            log.warning("%s", exc)

    def _progress_class(self, what: str):
        from tqdm.auto import tqdm

        owner = self

        class Progress(tqdm):
            """Reports bytes to the GUI and stops the download when cancelled."""

            def __init__(self, *args, **kwargs):
                kwargs["disable"] = False
                kwargs["file"] = io.StringIO()
                kwargs.pop("name", None)
                super().__init__(*args, **kwargs)

            def update(self, n=1):
                if owner._cancel.is_set():
                    raise _Stop()
                result = super().update(n)
                if self.unit == "B":
                    owner.progress.emit(what, float(self.n), float(self.total or 0))
                return result

        return Progress
