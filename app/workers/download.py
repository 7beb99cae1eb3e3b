"""Download the model weights in the background, with progress, and cancellable.

The encoder comes from the Hugging Face hub (a progress bar class that raises stops it); the head
through the core's resolve_head, which checks its SHA-256. Failures are the core's plain messages.
It runs in a daemon thread: a download cut off at quit leaves only partial files that the next
download replaces.
"""
from __future__ import annotations

import io
import logging
import threading
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from app.config.settings import Settings
from app.core.errors import AestheteError

log = logging.getLogger(__name__)


class _Stop(Exception):
    pass


class ModelDownload(QObject):
    progress = Signal(str, float, float)  # what, bytes done, bytes total (0: unknown)
    finished = Signal()
    failed = Signal(str)  # plain words; "cancelled" when the user stopped it

    def __init__(self, settings: Settings, parent: QObject | None = None):
        super().__init__(parent)
        self.settings = settings
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._cancel.clear()
        self._thread = threading.Thread(target=self._run, name="model-download", daemon=True)
        self._thread.start()

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        try:
            self._encoder()
            if self._cancel.is_set():
                raise _Stop()
            self._head()
            if self._cancel.is_set():
                raise _Stop()
        except _Stop:
            self.failed.emit("cancelled")
        except AestheteError as exc:
            self.failed.emit("cancelled" if self._cancel.is_set() else str(exc))
        except Exception as exc:  # a bug: logged with its traceback, shown in one line
            log.exception("model download failed")
            self.failed.emit(f"the download failed: {type(exc).__name__}: {exc}")
        else:
            self.finished.emit()

    def _encoder(self) -> None:
        from app.core import model as model_files

        spec = self.settings.encoder
        if Path(spec).expanduser().is_dir():
            model_files.resolve_encoder(spec, allow_download=False)
            return
        try:
            model_files.resolve_encoder(spec, allow_download=False)
            return  # already in the Hugging Face cache
        except AestheteError:
            pass
        try:
            from huggingface_hub import snapshot_download

            snapshot_download(spec, allow_patterns=model_files.ENCODER_FILES,
                              tqdm_class=self._progress_class("encoder"))
        except _Stop:
            raise
        except Exception:
            if self._cancel.is_set():
                raise _Stop() from None
            log.info("encoder download failed", exc_info=True)
            # The core says what went wrong, in the same words as `aesthete download`.
            model_files.resolve_encoder(spec, allow_download=True)
        model_files.resolve_encoder(spec, allow_download=False)

    def _head(self) -> None:
        from app.core import model as model_files

        def progress(done: int, total: int) -> None:
            self.progress.emit("aesthetic head", float(done), float(total))

        model_files.resolve_head(self.settings.head, allow_download=True, progress=progress,
                                 cancelled=self._cancel.is_set)

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
