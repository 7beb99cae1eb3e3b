"""The scoring side of the window: what the scorer reports (model ready or off, progress, each
photo scored or failed), pause and stop, the list of photos that could not be scored, and the
model download the banner offers."""
from __future__ import annotations

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QMessageBox

from app.storage import browse
from app.ui.dialogs import ErrorsDialog
from app.workers.download import ModelDownload


class ScoringPanel(QObject):
    """Worker signals go to methods of this object (never lambdas), so they run in the GUI thread."""

    def __init__(self, window):
        super().__init__(window)
        self.w = window
        self.why_off = ""  # why scoring is off, in words, while it is
        self.faces_off = ""  # why face checks are off, once the scorer has said so
        self.download: ModelDownload | None = None  # the model download, once asked for
        s = window.scoring
        s.modelUnavailable.connect(self._model_unavailable)
        s.modelLoading.connect(self._model_loading)
        s.modelStatus.connect(self._model_loading)  # a long one-time step (the ONNX conversion)
        s.modelReady.connect(self._model_ready)
        s.progress.connect(self._progress)
        s.chunkStarted.connect(window.model.set_scoring)
        s.photoScored.connect(self._photo_scored)
        s.photoFailed.connect(self._photo_failed)
        s.photoUpdated.connect(self._photo_scored_again)
        s.idle.connect(self._scoring_idle)
        s.crashed.connect(self._scoring_crashed)
        s.facesOff.connect(self._faces_off)
        status = window.scoring_status
        status.pauseRequested.connect(self.toggle_pause)
        status.resumeRequested.connect(self.toggle_pause)
        status.cancelRequested.connect(self.cancel_scoring)
        status.errorsRequested.connect(self.show_errors)
        window.banner.downloadRequested.connect(self.start_download)
        window.banner.cancelRequested.connect(self.cancel_download)

    def _faces_off(self, why: str) -> None:
        """Scoring works but faces are not checked (no face model, or no MediaPipe): said where the
        user looks, with what to do (the reason names `aesthete download` and --faces-model)."""
        self.faces_off = why
        self.w.scoring_status.set_faces_off(why)
        self.w.show_problem(why)

    def model_loading(self) -> None:
        """New model settings: the banner goes while the model loads again."""
        self._model_loading()

    def _model_unavailable(self, why: str) -> None:
        self.why_off = why
        self.w.banner.show_problem(why)
        self.w.scoring_status.set_off(why)
        self.w.best.set_scoring_off(True)
        self.w.cull.set_scoring_off(True)
        self.w.counts_timer.stop()

    def _model_loading(self, message: str = "") -> None:
        self._hide_model_problem()
        self.w.scoring_status.set_loading(message)

    def _model_ready(self, device: str) -> None:
        self._hide_model_problem()
        self.w.scoring_status.set_device(device)

    def _hide_model_problem(self) -> None:
        """A model is on its way: the "scoring is off" banner goes (a download keeps its progress)."""
        self.w.best.set_scoring_off(False)
        self.w.cull.set_scoring_off(False)
        if self.download is None or not self.download.running:
            self.w.banner.hide()

    def _progress(self, done: int, total: int) -> None:
        if total <= 0 and not (self.w.library_total or self.w.model.rowCount()):
            self.w.scoring_status.set_idle("")
            return
        self.w.scoring_status.progress(done, total)
        if total > done and not self.w.counts_timer.isActive():
            self.w.counts_timer.start()

    def _photo_scored(self, photo_id: int, _score: float) -> None:
        self.w.model.photo_changed(photo_id)

    def _photo_scored_again(self, photo_id: int) -> None:
        self.w.model.photo_changed(photo_id)

    def _photo_failed(self, photo_id: int, _reason: str) -> None:
        self.w.model.photo_changed(photo_id)
        self.w.failed_count += 1
        self.w.scoring_status.set_errors(self.w.failed_count)

    def _scoring_idle(self) -> None:
        self.w.counts_timer.stop()
        self.w.model.set_scoring([])
        if self.w.pages.currentWidget() is not self.w.viewer:
            self.w.reload()  # scores arrived in place; now the order (and filters) can catch up
        self.w.curation_outdated()
        self.w.scoring_status.set_idle("All photos scored")
        self.w.refresh_counts()

    def _scoring_crashed(self, what: str) -> None:
        self.w.scoring_status.set_off(what)
        QMessageBox.warning(self.w, "Scoring stopped",
                            f"Scoring stopped because of an internal error:\n{what}\n\nDetails are in the log file.")

    def toggle_pause(self) -> None:
        if self.w.scoring.paused:
            self.w.scoring.resume()
            self.w.scoring_status.set_paused(False)
            self.w.pause_action.setText("&Pause")
        else:
            self.w.scoring.pause()
            self.w.scoring_status.set_paused(True)
            self.w.pause_action.setText("&Resume")
            self.w.model.set_scoring([])

    def cancel_scoring(self) -> None:
        self.w.scoring.cancel_all()
        self.w.scoring_status.set_stopped()
        self.w.pause_action.setText("&Resume")
        self.w.model.set_scoring([])

    def show_errors(self) -> ErrorsDialog:
        dialog = ErrorsDialog(browse.photo_errors(self.w.engine), self.w)
        dialog.showRequested.connect(self.show_photo_id)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        return dialog

    def show_photo_id(self, photo_id: int) -> None:
        row = self.w.model.row_of(photo_id)
        if row is None:  # filtered out: show everything, then find it when those rows arrive
            self.w.filters.set_status(None)
            self.w.sidebar.select_folder(None)
            if self.w.model.is_loading():
                self.w.show_when_loaded = photo_id
            return
        self.w.navigation.open_viewer(self.w.model.index(row))

    def start_download(self) -> None:
        if self.download is not None and self.download.running:
            return
        self.download = ModelDownload(self.w.settings, self.w)
        self.download.progress.connect(self.w.banner.show_downloading)
        self.download.finished.connect(self._downloaded)
        self.download.failed.connect(self._download_failed)
        self.w.banner.show_downloading("starting", 0, 0)
        self.download.start()

    def cancel_download(self) -> None:
        if self.download is not None:
            self.download.cancel()

    def _downloaded(self) -> None:
        self.w.banner.hide()
        self.w.scoring_status.set_loading()
        self.w.scoring.reconfigure(self.w.settings)
        self.w.downloadEnded.emit("")

    def _download_failed(self, why: str) -> None:
        if why == "cancelled":
            self.w.banner.show_problem(self.why_off or "The download was cancelled.")
        else:
            self.w.banner.show_problem("The download did not work. " + why)
        self.w.downloadEnded.emit(why)
