"""The taste model: a known direction in embedding space is recovered from marks made by it."""
from __future__ import annotations

import numpy as np
import pytest

from app.core import taste


def unit_rows(rng, n: int, d: int = 1152) -> np.ndarray:
    m = rng.standard_normal((n, d)).astype(np.float32)
    return (m / np.linalg.norm(m, axis=1, keepdims=True)).astype(np.float16).astype(np.float32)


def photos_like(rng, n: int, basis: np.ndarray) -> np.ndarray:
    """Embeddings shaped as real ones are: most of their spread along a few dozen directions (what
    a photo shows), a little noise in every other, L2-normalised, float16 as stored."""
    x = rng.standard_normal((n, len(basis))).astype(np.float32) @ basis
    x += 0.3 * rng.standard_normal(x.shape).astype(np.float32) / np.sqrt(x.shape[1])
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float16).astype(np.float32)


def marked(n: int = 400, seed: int = 0):
    """n photos marked kept or rejected by which side of a hidden direction they lie on."""
    rng = np.random.default_rng(seed)
    basis = unit_rows(rng, 32)
    x = photos_like(rng, n, basis)
    direction = basis.T @ rng.standard_normal(len(basis)).astype(np.float32)  # a taste in what photos show
    return x, (x @ direction > 0).astype(np.float64), (direction, basis)


def test_marks_made_by_a_direction_are_recovered():
    x, y, (direction, basis) = marked()
    scores = np.random.default_rng(5).uniform(2, 8, len(y))  # a score that knows nothing of this taste
    model = taste.learn("enc", x, y, scores)
    assert model.agreement.taste >= 0.9, model.summary()
    assert model.agreement.score is not None and model.agreement.score < 0.7
    assert model.beats_score
    assert "your taste model agrees with" in model.summary() and "the aesthetic score with" in model.summary()
    fresh = photos_like(np.random.default_rng(9), 300, basis)
    truth = fresh @ direction > 0
    assert ((model.predict(fresh) > 0.5) == truth).mean() >= 0.9  # photos it never saw


def test_a_score_that_matches_the_marks_is_credited():
    x, y, _ = marked(seed=1)
    scores = np.where(y > 0, 6.0, 3.0) + np.random.default_rng(2).normal(0, 0.1, len(y))
    model = taste.learn("enc", x, y, scores)
    assert model.agreement.score >= 0.99
    assert not model.beats_score


def test_below_the_minimum_it_says_how_many_more_marks_it_needs():
    x, y, _ = marked()
    keep = np.flatnonzero(y > 0)[:12].tolist() + np.flatnonzero(y == 0)[:40].tolist()
    with pytest.raises(taste.NotEnoughMarks) as err:
        taste.learn("enc", x[keep], y[keep])
    assert f"{taste.MIN_EACH - 12} more kept" in str(err.value) and "rejected" not in str(err.value).split("(it")[0]


def test_marks_mean_kept_or_rejected():
    assert taste.label(0, "pick") == 1 and taste.label(5, "") == 1 and taste.label(4, "") == 1
    assert taste.label(0, "reject") == 0 and taste.label(5, "reject") == 0 and taste.label(1, "") == 0
    assert taste.label(3, "") is None and taste.label(0, "") is None


def test_the_model_file_round_trips_and_refuses_other_files():
    x, y, _ = marked()
    model = taste.learn("enc", x, y)
    data = model.to_bytes()
    assert len(data) < 20_000  # one small file
    again = taste.TasteModel.from_bytes(data)
    assert again.encoder_key == "enc" and again.agreement == model.agreement
    assert np.allclose(again.predict(x[:20]), model.predict(x[:20]))
    for bad in (b"", b"not a model", data[:100]):
        with pytest.raises(ValueError, match="not an Aesthete taste model"):
            taste.TasteModel.from_bytes(bad)


def test_taste_breaks_ties_on_score_in_best_picks():
    from app.core.bestpick import TASTE_TIE, Candidate, best_pick

    a = Candidate(1, 5.50, None, taste=0.2)
    b = Candidate(2, 5.50 - TASTE_TIE / 2, None, taste=0.9)
    c = Candidate(3, 5.50 - 3 * TASTE_TIE, None, taste=0.99)  # far below: its taste does not count
    pick = best_pick([a, b, c])
    assert pick.photo_id == 2 and pick.reason.startswith("more to your taste (90%)")
    untasted = [Candidate(x.photo_id, x.score, None) for x in (a, b, c)]
    assert best_pick(untasted).photo_id == 1  # without a taste model (or one that loses): the score


def test_the_tie_breaker_is_used_only_while_it_beats_the_score(aesthete_home):
    x, y, _ = marked()
    embeddings = {i + 1: x[i] for i in range(10)}
    assert taste.tie_breaker(embeddings) == {}  # none learned yet
    worse = taste.learn("enc", x, y, np.random.default_rng(5).uniform(2, 8, len(y)))
    taste.save(worse)
    values = taste.tie_breaker(embeddings)
    assert sorted(values) == list(range(1, 11)) and all(0 <= v <= 1 for v in values.values())
    perfect_score = np.where(y > 0, 6.0, 3.0)
    taste.save(taste.learn("enc", x, y, perfect_score))
    assert taste.tie_breaker(embeddings) == {}
