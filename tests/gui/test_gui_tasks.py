"""Background work goes through the one task helper: the model download is registered, cancellable
and waited for at shutdown; a failed task no one handles is logged with its traceback."""
from __future__ import annotations

import logging
import threading

from conftest import make_settings

from app.errors import AestheteError
from app.workers.tasks import make_pool, run_task, running_threads


def _slow_hub(monkeypatch, owner):
    """A hub download that has begun (one chunk) and whose next chunk arrives only once the
    download is cancelled, as a long download does. Returns the event set while it is under way."""
    import huggingface_hub
    from huggingface_hub.errors import LocalEntryNotFoundError

    under_way = threading.Event()

    def snapshot_download(repo_id, *args, local_files_only=False, tqdm_class=None, **kwargs):
        if local_files_only:
            raise LocalEntryNotFoundError("Cannot find an appropriate cached snapshot folder")
        bar = tqdm_class(total=3_500_000_000, unit="B")
        bar.update(1 << 20)
        under_way.set()
        owner()._cancel.wait(30)
        bar.update(1 << 20)  # the progress class stops the download here
        raise AssertionError("the download went on after it was cancelled")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    return under_way


def test_download_is_a_registered_task_that_cancel_stops(qtbot, monkeypatch, tmp_path):
    from app.workers.download import ModelDownload

    download = ModelDownload(make_settings(tmp_path, encoder="aesthete-tests/no-such-encoder",
                                           head=str(tmp_path / "none.pth")))
    under_way = _slow_hub(monkeypatch, lambda: download)
    download.start()
    assert under_way.wait(10) and download.running
    assert "download pool (1 busy)" in running_threads()
    with qtbot.waitSignal(download.failed, timeout=10_000) as failed:
        download.cancel()
    assert failed.args == ["cancelled"]
    assert download.wait(5000) and not download.running
    assert running_threads() == []


def test_shutdown_cancels_the_download_and_waits_for_it(qtbot, make_window, monkeypatch, tmp_path):
    window = make_window(make_settings(tmp_path, encoder="aesthete-tests/no-such-encoder",
                                       head=str(tmp_path / "none.pth")))
    under_way = _slow_hub(monkeypatch, lambda: window.scoring_ui.download)
    window.scoring_ui.start_download()
    assert under_way.wait(10) and "download pool (1 busy)" in running_threads()
    with qtbot.waitSignal(window.downloadEnded, timeout=10_000) as ended:
        assert window.shutdown(5.0)
        assert running_threads() == []  # shutdown waited for the download, not only asked
    assert ended.args == ["cancelled"]


def test_a_task_error_no_one_handles_is_logged_with_its_traceback(qtbot, caplog):
    pool = make_pool("test", 1)

    def fails():
        raise AestheteError("the disk is full")

    def errors():
        return [r for r in caplog.records if r.levelno == logging.ERROR and "the disk is full" in r.getMessage()]

    with caplog.at_level(logging.ERROR, logger="app.workers.tasks"):
        run_task(pool, fails, on_done=lambda _result: None)
        assert pool.waitForDone(5000)
        qtbot.waitUntil(lambda: bool(errors()), timeout=5_000)  # delivered in the GUI thread
    assert len(errors()) == 1 and errors()[0].exc_info is not None
    assert "raise AestheteError" in caplog.text  # the traceback points at the failing line
