"""Best pick of a group, on qualities measured from generated frames of one scene and real labelled frames."""

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
        "blurry": measure_quality(gen.blurred(one, 4), BIG),  # out of focus alone
        "soft": measure_quality(gen.blurred(one, 1), BIG),  # fine alone, softer than the rest
        "shaken": measure_quality(gen.motion_blurred(one, 5), BIG),  # a small smear: fine alone, softer here
        "dark": measure_quality(gen.exposed(one, -3), BIG),  # nothing lost, but 3 stops under the others
        "black": measure_quality(gen.exposed(one, -10), BIG),
        "blown": measure_quality(gen.exposed(one, 2.5), BIG),
        "darker": measure_quality(gen.exposed(one, -1), BIG),  # a stop under: fine, and no less focused
        "small": measure_quality(small, (1920, 1280)),
    }


def c(photo_id: int, score: float | None, quality: TechnicalQuality | None, **marks) -> Candidate:
    return Candidate(photo_id, score, quality, **marks)


def texts(pick: Pick, photo_id: int) -> list[str]:
    return [f.text for f in pick.faults[photo_id]]


def test_sharp_well_exposed_frame_beats_higher_scored_flawed_ones(q):
    pick = best_pick([c(1, 7.5, q["blurry"]), c(2, 8.0, q["dark"]), c(3, 5.0, q["sharp"]), c(4, 7.0, q["blown"])])
    assert pick.photo_id == 3
    assert "score 5.0" in pick.reason
    for fact in ("no clipped highlights", "1 out of focus", "1 darker", "1 highlights lost"):
        assert fact in pick.reason
    assert texts(pick, 2) == ["darker than the best-exposed frame by 3 stops"]
    assert texts(pick, 4)[0].startswith("highlights lost on")


def test_a_frame_softer_than_the_rest_loses_though_fine_alone(q):
    assert best_pick([c(1, 6.0, q["soft"])]).faults[1] == ()  # alone it is fine
    pick = best_pick([c(1, 6.0, q["soft"]), c(2, 5.0, q["sharp"])])
    assert pick == Pick(2, "score 5.0; sharpest of 2; others: 1 out of focus")
    assert texts(pick, 1) == ["out of focus: softer than the sharpest frame"]


def test_a_shaken_frame_is_called_motion_blur(q):
    pick = best_pick([c(1, 9.0, q["shaken"]), c(2, 5.0, q["sharp"])])
    assert pick.photo_id == 2 and texts(pick, 1) == ["motion blur: softer than the sharpest frame"]


def test_a_blurred_frame_never_wins_over_a_sharp_one_it_makes_look_worse(q):
    # A hand-held bracket: the well-exposed frame is smeared, the sharp one two stops darker. The blurred
    # frame must not be the exposure reference that gives the sharp one a fault, nor win on the score.
    darker_sharp = q["dark"]
    smeared = measure_quality(gen.motion_blurred(gen.scene(1), 15), BIG)
    pick = best_pick([c(1, 9.0, smeared), c(2, 5.0, darker_sharp)])
    assert pick.photo_id == 2 and pick.faults[2] == ()
    small_sharp = q["small"]
    assert best_pick([c(1, 9.0, q["blurry"]), c(2, 5.0, small_sharp)]).photo_id == 2


def test_a_darker_frame_is_not_mistaken_for_a_softer_one(q):
    pick = best_pick([c(1, 5.0, q["sharp"]), c(2, 6.0, q["darker"])])
    assert pick.photo_id == 2 and pick.faults == {1: (), 2: ()}
    assert "softer" not in pick.reason and "score 6.0 (highest of 2)" in pick.reason


def test_no_frame_of_a_bracket_is_called_softer(q):
    # Same focus, exposures 3 under to 2.5 over: exposure faults, never blur ones.
    pick = best_pick([c(i, None, q[k]) for i, k in enumerate(("black", "dark", "darker", "sharp", "blown"))])
    assert pick.photo_id in (2, 3) and pick.faults[2] == pick.faults[3] == ()
    assert all(f.rule != "blur" for fs in pick.faults.values() for f in fs)


def test_a_much_smaller_frame_loses(q):
    pick = best_pick([c(1, 9.0, q["small"]), c(2, 5.0, q["sharp"])])
    assert pick.photo_id == 2
    assert "1 much smaller" in pick.reason
    assert pick.faults[1] == ()  # size is no cull reason: it only decides the pick


def test_among_clean_frames_the_score_decides_and_is_explained(q):
    pick = best_pick([c(1, 5.0, q["sharp2"]), c(2, 6.1, q["sharp"]), c(3, 5.3, q["darker"])])
    assert pick.photo_id == 2
    assert pick.reason.startswith("score 6.1, 0.8 above the group median")


def test_ties_go_to_the_sharper_then_the_earlier_frame(q):
    sharper = replace(q["sharp"], focus=q["sharp"].focus * 1.3)
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
    # Without tiles (an older measurement) the whole-frame focus is compared.
    slightly = replace(q["sharp"], focus=q["sharp"].focus * 0.97, focus_tiles=None)
    pick = best_pick([c(1, 9.0, slightly), c(2, 5.0, replace(q["sharp"], focus_tiles=None))])
    assert pick.photo_id == 1 and "as sharp as any of 2" in pick.reason and "sharpest" not in pick.reason


def test_without_scores_quality_decides(q):
    pick = best_pick([c(1, None, q["soft"]), c(2, None, q["sharp"]), c(3, None, q["dark"])])
    assert pick.photo_id == 2
    assert pick.reason.startswith("sharpest of the 2 well-exposed")  # the dark frame's focus is not compared
    # One unscored contender is enough to make focus, not score, decide among the clean frames.
    sharper = replace(q["sharp"], focus=q["sharp"].focus * 2, focus_tiles=None)
    assert best_pick([c(1, 9.0, replace(q["sharp"], focus_tiles=None)), c(2, None, sharper)]).photo_id == 2


def test_a_measured_clean_frame_beats_an_unmeasured_one_but_unmeasured_beats_flawed(q):
    assert best_pick([c(1, 9.0, None), c(2, 5.0, q["sharp"])]).photo_id == 2
    assert best_pick([c(1, 5.0, None), c(2, 9.0, q["blurry"])]).photo_id == 1


def test_when_every_frame_is_flawed_the_least_flawed_wins(q):
    blurry_and_small = replace(q["blurry"], width=1200, height=800)
    pick = best_pick([c(1, 8.0, blurry_and_small), c(2, 4.0, q["blurry"])])
    assert pick.photo_id == 2
    assert "least flawed: out of focus" in pick.reason and "others: 1 out of focus, 1 much smaller" in pick.reason
    # A clipped frame's focus is not judged: its exposure is what is wrong with it.
    blown = replace(q["blurry"], clipped_highlights=0.2)
    assert [f.text for f in best_pick([c(1, 8.0, blown)]).faults[1]] == ["highlights lost on 20% of the frame"]


def test_single_and_empty_groups(q):
    assert best_pick([c(5, None, None)]) == Pick(5, "the only photo")
    with pytest.raises(ValueError):
        best_pick([])


needs_real = pytest.mark.skipif(not gen.REAL.is_dir(), reason="no shared real photos on this machine")
real = gen.real_quality


@needs_real
@pytest.mark.parametrize("scene", ["Flower", "Istanbul"])
def test_the_sharp_frame_of_a_real_pair_is_picked_whatever_the_score(scene):
    blurred = real("blur_gopro_deepdeblur_pairs", f"{scene}_blur1.png")
    sharp = real("blur_gopro_deepdeblur_pairs", f"{scene}_sharp1.png")
    pick = best_pick([c(1, 7.0, blurred), c(2, 4.0, sharp)])
    assert pick.photo_id == 2 and [f.rule for f in pick.faults[1]] == ["blur"]


@needs_real
def test_a_real_bracket_keeps_its_best_exposed_frame_and_calls_none_softer():
    names = ["0_StLouisArchMultExpEV-4.72.jpeg", "1_StLouisArchMultExpEV-1.82.jpeg",
             "2_StLouisArchMultExpEV+1.18.jpeg", "3_StLouisArchMultExpEV+4.09.jpeg"]
    pick = best_pick([c(i, None, real("exposure_series_stlouis", n)) for i, n in enumerate(names)])
    assert pick.photo_id == 2  # the one that lost neither shadows nor highlights
    assert all(f.rule == "exposure" for fs in pick.faults.values() for f in fs)
    assert pick.faults[2] == () and all(pick.faults[i] for i in (0, 1, 3))
