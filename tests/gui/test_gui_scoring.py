"""The scorer thread scoring a folder of generated photos with a tiny random SigLIP."""
from __future__ import annotations

from app.library import scan_folders
from app.storage import browse, repo
from app.workers.scoring import ScoringController, ScoreQueue


def _scan(engine, settings, folder):
    scan_folders(engine, settings, [folder])
    return {p.path: p.id for p in repo.list_photos(engine, sort="name")}


def test_worker_scores_a_folder(qtbot, engine, settings, photos):
    ids = _scan(engine, settings, photos)
    controller = ScoringController(engine, settings)
    scored, failed, chunks = [], [], []
    controller.photoScored.connect(lambda pid, score: scored.append((pid, score)))
    controller.photoFailed.connect(lambda pid, reason: failed.append((pid, reason)))
    controller.chunkStarted.connect(lambda chunk: chunks.append(chunk))
    last = max(ids.values())
    controller.set_visible([last])  # on screen: scored first
    try:
        with qtbot.waitSignal(controller.modelReady, timeout=60_000) as ready, \
                qtbot.waitSignal(controller.idle, timeout=60_000):
            controller.start()
    finally:
        assert controller.stop(5000)
    assert ready.args[0].startswith("CPU")
    assert len(scored) == 8 and len(failed) == 1
    assert failed[0][0] == ids[str(photos / "broken.jpg")]
    assert failed[0][1]  # the one-line reason, shown on the tile and in the errors list
    assert chunks[0][0] == last
    rows = browse.photos_by_id(engine, ids.values())
    assert all(rows[pid].score == score for pid, score in scored)
    counts = browse.status_counts(engine)
    assert counts.scored == 8 and counts.failed == 1 and counts.unscored == 0


def test_pause_resume_and_refresh(qtbot, engine, settings, photos, tmp_path):
    from conftest import write_photos

    _scan(engine, settings, photos)
    controller = ScoringController(engine, settings)
    worker = controller
    try:
        with qtbot.waitSignal(worker.photoScored, timeout=60_000):
            controller.start()
        controller.pause()
        assert controller.paused
        with qtbot.waitSignal(worker.idle, timeout=60_000):
            controller.resume()
        # New photos found later are queued ahead of the rest and scored too.
        write_photos(photos / "new", 2, start=200)
        scan_folders(engine, settings, None)
        with qtbot.waitSignal(worker.idle, timeout=60_000):
            controller.refresh()
    finally:
        assert controller.stop(5000)
    assert browse.status_counts(engine).unscored == 0


def test_queue_order():
    q = ScoreQueue()
    q.fill([repo.Pending(i, f"/p/{i}") for i in range(10)])
    q.fill([repo.Pending(i, f"/p/{i}") for i in range(12)])  # 10 and 11 are new
    q.set_visible([7, 3])
    assert [p.id for p in q.take(5)] == [7, 3, 10, 11, 0]
    q.put_back([repo.Pending(3, "/p/3")])
    assert [p.id for p in q.take(2)] == [3, 1]
    q.fill([repo.Pending(i, f"/p/{i}") for i in (2, 4)])  # the rest got scored elsewhere
    assert [p.id for p in q.take(10)] == [2, 4]


def test_model_loads_in_the_scorer_thread_without_touching_stderr(qtbot, engine, photos, tmp_path, tiny_model,
                                                                   monkeypatch, caplog):
    """A fatal message printed while the model loads must reach stderr: nothing redirects fd 2,
    and what the libraries say goes through logging instead."""
    import logging
    import os

    from conftest import make_settings

    settings = make_settings(tmp_path, runtime="torch", **tiny_model)  # PyTorch loads in this process
    _scan(engine, settings, photos)
    redirects = []

    def dup2(*args, **kwargs):
        redirects.append(args)
        raise OSError("file descriptor 2 must stay the terminal's")

    controller = ScoringController(engine, settings)
    outcome = []
    controller.modelReady.connect(lambda device: outcome.append("ready"))
    controller.crashed.connect(lambda why: outcome.append(f"crashed: {why}"))
    with monkeypatch.context() as patch:  # undone before pytest's own capture moves fds again
        patch.setattr(os, "dup2", dup2)
        try:
            controller.start()
            qtbot.waitUntil(lambda: bool(outcome), timeout=60_000)
        finally:
            assert controller.stop(5000)
    assert outcome == ["ready"] and redirects == []
    from transformers.utils import logging as hf_logging

    with caplog.at_level(logging.WARNING):
        hf_logging.get_logger("transformers.modeling_utils").error("a library's complaint")
    assert "a library's complaint" in caplog.text  # reaches the log file's handler on the root logger
