"""Best pick of a group, on qualities measured from generated frames of one scene."""

from __future__ import annotations

from dataclasses import replace

import pytest

import imagegen as gen
from app.core.bestpick import Candidate, Pick, best_pick
from app.core.quality import TechnicalQuality, measure_quality

BIG = (4800, 3200)


@pytest.fixture(scope="module")
def q() -> dict[str, TechnicalQuality]:
    one = gen.scene(1)
    small = gen.downscaled(one, 0.4)
    return {
        "sharp": measure_quality(one, BIG),
        "sharp2": measure_quality(gen.shifted(one, 12, -8), BIG),
        "blurry": measure_quality(gen.blurred(one, 2), BIG),
        "soft": measure_quality(gen.blurred(one, 0.7), BIG),  # not blurry on its own, softer than the rest
        "dark": measure_quality(gen.exposed(one, -3), BIG),
        "blown": measure_quality(gen.exposed(one, 2), BIG),
        "darker": measure_quality(gen.exposed(one, -1), BIG),  # a stop under: fine, and no less focused
        "small": measure_quality(small, (1920, 1280)),
    }


def c(photo_id: int, score: float | None, quality: TechnicalQuality | None, **marks) -> Candidate:
    return Candidate(photo_id, score, quality, **marks)


def test_sharp_well_exposed_frame_beats_higher_scored_flawed_ones(q):
    pick = best_pick([c(1, 7.5, q["blurry"]), c(2, 8.0, q["dark"]), c(3, 5.0, q["sharp"]), c(4, 7.0, q["blown"])])
    assert pick.photo_id == 3
    assert "score 5.0" in pick.reason
    for fact in ("no clipped highlights", "1 blurry", "1 too dark", "1 blown highlights"):
        assert fact in pick.reason


def test_a_frame_softer_than_the_rest_loses_though_not_blurry_alone(q):
    assert q["soft"].sharpness > 25  # would pass the absolute test
    pick = best_pick([c(1, 6.0, q["soft"]), c(2, 5.0, q["sharp"])])
    assert pick == Pick(2, "score 5.0; sharpest of 2; others: 1 softer than the rest")


def test_a_darker_frame_is_not_mistaken_for_a_softer_one(q):
    pick = best_pick([c(1, 5.0, q["sharp"]), c(2, 6.0, q["darker"])])
    assert pick.photo_id == 2
    assert "softer" not in pick.reason and "score 6.0 (highest of 2)" in pick.reason


def test_a_much_smaller_frame_loses(q):
    pick = best_pick([c(1, 9.0, q["small"]), c(2, 5.0, q["sharp"])])
    assert pick.photo_id == 2
    assert "1 much smaller" in pick.reason


def test_among_clean_frames_the_score_decides_and_is_explained(q):
    pick = best_pick([c(1, 5.0, q["sharp2"]), c(2, 6.1, q["sharp"]), c(3, 5.3, q["darker"])])
    assert pick.photo_id == 2
    assert pick.reason.startswith("score 6.1, 0.8 above the group median")


def test_ties_go_to_the_sharper_then_the_earlier_frame(q):
    sharper = replace(q["sharp"], sharpness=q["sharp"].sharpness * 1.3)
    assert best_pick([c(1, 5.0, q["sharp"]), c(2, 5.0, sharper)]).photo_id == 2
    assert best_pick([c(7, 5.0, q["sharp"]), c(4, 5.0, q["sharp"])]).photo_id == 4


def test_user_pick_always_wins(q):
    members = [c(1, 9.0, q["sharp"]), c(2, 2.0, q["blurry"], user_pick=True), c(3, 8.0, q["sharp2"], rating=5)]
    pick = best_pick(members)
    assert pick.photo_id == 2 and pick.reason.startswith("your pick")


def test_user_rating_outranks_the_model(q):
    pick = best_pick([c(1, 8.0, q["sharp"]), c(2, 5.0, q["sharp2"], rating=3)])
    assert pick.photo_id == 2 and "rated 3 stars by you" in pick.reason


def test_a_rejected_frame_does_not_win(q):
    pick = best_pick([c(1, 9.0, q["sharp"], user_reject=True), c(2, 5.0, q["sharp2"])])
    assert pick.photo_id == 2 and "1 rejected by you" in pick.reason


def test_a_frame_within_noise_of_the_sharpest_is_not_called_the_sharpest(q):
    slightly = replace(q["sharp"], sharpness=q["sharp"].sharpness * 0.97)
    pick = best_pick([c(1, 9.0, slightly), c(2, 5.0, q["sharp"])])
    assert pick.photo_id == 1 and "as sharp as any of 2" in pick.reason and "sharpest" not in pick.reason


def test_without_scores_quality_decides(q):
    pick = best_pick([c(1, None, q["soft"]), c(2, None, q["sharp"]), c(3, None, q["dark"])])
    assert pick.photo_id == 2
    # Focus leads the reason. The dark frame measures within noise of this one (exposure divided
    # out), so which of the two is strictly sharpest is luck: the wording claims only a tie then.
    assert pick.reason.startswith(("sharpest of 3", "as sharp as any of 3"))
    # One unscored contender is enough to make focus, not score, decide among the clean frames.
    sharper = replace(q["sharp"], sharpness=q["sharp"].sharpness * 2)
    assert best_pick([c(1, 9.0, q["sharp"]), c(2, None, sharper)]).photo_id == 2


def test_a_measured_clean_frame_beats_an_unmeasured_one_but_unmeasured_beats_flawed(q):
    assert best_pick([c(1, 9.0, None), c(2, 5.0, q["sharp"])]).photo_id == 2
    assert best_pick([c(1, 5.0, None), c(2, 9.0, q["blurry"])]).photo_id == 1


def test_when_every_frame_is_flawed_the_least_flawed_wins(q):
    blurry_and_dark = replace(q["blurry"], brightness=0.1)
    pick = best_pick([c(1, 8.0, blurry_and_dark), c(2, 4.0, q["blurry"])])
    assert pick.photo_id == 2
    assert "least flawed: blurry" in pick.reason and "others: 1 blurry, 1 too dark" in pick.reason


def test_single_and_empty_groups(q):
    assert best_pick([c(5, None, None)]) == Pick(5, "the only photo")
    with pytest.raises(ValueError):
        best_pick([])
