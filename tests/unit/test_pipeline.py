"""The scoring pipeline: decoder threads feed batches to the model, which runs in its own thread
while the caller stores the previous batch; every photo comes out once, a bad one as its error."""
import threading

import numpy as np
import pytest

from app.core import decode, preprocess
from app.errors import Cancelled
from app.core.pipeline import score_stream
from app.core.scorer import Scorer, locate
from tests.conftest import scene


@pytest.fixture(scope="module")
def scorer(tiny_encoder, head_file):
    return Scorer(locate(str(tiny_encoder), str(head_file)), device="cpu", precision="fp32")


@pytest.fixture
def jobs(tmp_path):
    paths = []
    for i in range(9):
        path = tmp_path / f"p{i}.jpg"
        scene(60 + i).save(path, quality=90)
        paths.append(path)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff truncated")
    paths.insert(4, broken)
    return list(enumerate(paths))


def encoder_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("encode")]


def test_the_model_runs_in_its_own_thread_and_every_photo_comes_out_once(scorer, jobs, monkeypatch):
    seen = []
    real_embed = scorer.embed

    def embed(pixels):
        seen.append((threading.current_thread().name, len(pixels)))
        return real_embed(pixels)

    monkeypatch.setattr(scorer, "embed", embed)
    results = list(score_stream(iter(jobs), lambda: scorer, batch_size=4, workers=2, cancel=threading.Event()))
    assert sorted(r.key for r in results) == [k for k, _ in jobs]
    assert [r.key for r in results if r.error] == [4]
    assert all(name.startswith("encode") and name != threading.current_thread().name for name, _ in seen)
    assert [n for _, n in seen] == [4, 4, 1]  # nine good photos in batches of four
    monkeypatch.undo()
    good = [r for r in results if r.error is None]
    direct = scorer.score_batch(np.stack([preprocess.pixel_values(decode.decode(r.path).image) for r in good]))[0]
    assert np.abs(direct - np.array([r.score for r in good])).max() < 1e-4
    assert all(r.embedding.shape == (1152,) for r in good)
    assert not encoder_threads()


def test_cancel_mid_stream_raises_and_leaves_no_encoder_thread(scorer, jobs):
    cancel = threading.Event()
    stream = score_stream(iter(jobs), lambda: scorer, batch_size=2, workers=2, cancel=cancel)
    first = next(stream)
    assert first.key == 0
    cancel.set()
    with pytest.raises(Cancelled):
        list(stream)
    assert not encoder_threads()


def test_closing_the_stream_early_stops_its_threads(scorer, jobs):
    stream = score_stream(iter(jobs), lambda: scorer, batch_size=2, workers=2, cancel=threading.Event())
    next(stream)
    stream.close()
    assert not encoder_threads()


def test_a_batch_the_model_finished_is_handed_on_when_stopped_while_decoding(scorer, jobs, monkeypatch):
    from app.core import pipeline

    cancel = threading.Event()
    real_embed, real_decode = scorer.embed, pipeline.decode.decode
    third = str(jobs[2][1])

    def embed(pixels):
        out = real_embed(pixels)
        cancel.set()  # the user pauses just after the first batch was scored
        return out

    def decode_slowly(path, **kw):
        if str(path) == third:  # the third photo decodes until then (one decoder thread)
            cancel.wait(30)
        return real_decode(path, **kw)

    monkeypatch.setattr(scorer, "embed", embed)
    monkeypatch.setattr(pipeline.decode, "decode", decode_slowly)
    got = []
    with pytest.raises(Cancelled):
        for result in score_stream(iter(jobs), lambda: scorer, batch_size=2, workers=1, cancel=cancel):
            got.append(result.key)
    assert got == [0, 1]  # scored before the stop, so kept
    assert not encoder_threads()
