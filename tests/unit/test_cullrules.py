"""Cull candidates and their reasons, including the photos that must never be offered."""

from __future__ import annotations

from dataclasses import replace

import pytest

from app.core.cullrules import CullCandidate, CullFacts, CullSettings, cull_candidates
from app.core.quality import QualityThresholds, TechnicalQuality

GOOD = TechnicalQuality(sharpness=800.0, clipped_highlights=0.0, crushed_shadows=0.0, brightness=0.48,
                        noise=0.7, width=6000, height=4000)
BLURRY = replace(GOOD, sharpness=5.0)
DARK = replace(GOOD, brightness=0.1)


def reasons(photos, **settings) -> dict[int, tuple[str, ...]]:
    return {c.photo_id: c.reasons for c in cull_candidates(photos, CullSettings(**settings))}


def test_low_score_is_a_candidate_with_its_number():
    photos = [CullFacts(1, 3.2, GOOD), CullFacts(2, 6.5, GOOD), CullFacts(3, None, GOOD)]
    assert cull_candidates(photos) == [CullCandidate(1, ("score 3.2, below 4.0",))]


def test_a_score_just_under_the_line_does_not_read_as_equal():
    assert reasons([CullFacts(1, 3.96, GOOD)]) == {1: ("score 3.96, below 4.0",)}
    # The threshold is shown as given, and a rounded score never reads as above it.
    assert reasons([CullFacts(1, 1.43, GOOD)], below=1.45) == {1: ("score 1.4, below 1.45",)}
    assert reasons([CullFacts(1, 3.96, GOOD)], below=3.97) == {1: ("score 3.96, below 3.97",)}


def test_below_zero_turns_the_score_rule_off():
    photos = [CullFacts(1, 1.0, GOOD), CullFacts(2, 1.0, BLURRY)]
    assert reasons(photos, below=0) == {2: ("blurry",)}
    assert reasons(photos, below=5.5) == {1: ("score 1.0, below 5.5",), 2: ("score 1.0, below 5.5", "blurry")}


def test_technical_faults_are_reasons_unless_turned_off():
    photos = [CullFacts(1, 7.0, BLURRY), CullFacts(2, 7.0, DARK), CullFacts(3, 7.0, None)]
    assert reasons(photos) == {1: ("blurry",), 2: ("too dark",)}
    assert reasons(photos, use_technical=False) == {}


def test_custom_thresholds_are_used():
    photos = [CullFacts(1, 7.0, replace(GOOD, sharpness=100.0))]
    assert cull_candidates(photos) == []
    strict = cull_candidates(photos, CullSettings(), QualityThresholds(blur=200.0))
    assert strict == [CullCandidate(1, ("blurry",))]


def test_non_picks_of_groups_say_which_photo_is_the_pick():
    burst = [CullFacts(i, 6.0, GOOD, group_pick_id=11, group_kind="burst") for i in (10, 11, 12)]
    copies = [CullFacts(i, 6.0, GOOD, group_pick_id=20, group_kind="exact") for i in (20, 21)]
    similar = [CullFacts(i, 6.0, GOOD, group_pick_id=30, group_kind="similar") for i in (30, 31)]
    found = reasons(burst + copies + similar)
    assert found == {
        10: ("not the pick of its burst of 3 (photo 11 is)",),
        12: ("not the pick of its burst of 3 (photo 11 is)",),
        21: ("exact copy of photo 20",),
        31: ("not the pick of its 2 similar shots (photo 30 is)",),
    }
    assert reasons(burst + copies + similar, use_non_picks=False) == {}


def test_group_size_is_left_out_when_the_group_was_not_passed_whole():
    assert reasons([CullFacts(12, 6.0, GOOD, group_pick_id=11, group_kind="burst")]) == {
        12: ("not the pick of its burst (photo 11 is)",)
    }


@pytest.mark.parametrize("protect", [{"rating": 1}, {"rating": 5}, {"user_pick": True}])
def test_starred_or_picked_photos_are_never_candidates(protect):
    worst = CullFacts(1, 0.5, BLURRY, group_pick_id=2, group_kind="burst", user_reject=True, **protect)
    assert cull_candidates([worst, CullFacts(2, 8.0, GOOD, group_pick_id=2, group_kind="burst")]) == []


def test_rejected_photos_are_always_candidates():
    photos = [CullFacts(1, 9.5, GOOD, user_reject=True), CullFacts(2, 2.0, DARK, user_reject=True)]
    found = reasons(photos, below=0, use_technical=False, use_non_picks=False)
    assert found == {1: ("rejected by you",), 2: ("rejected by you",)}
    assert reasons(photos)[2] == ("rejected by you", "score 2.0, below 4.0", "too dark")


def test_candidates_keep_the_input_order():
    photos = [CullFacts(i, 1.0, GOOD) for i in (5, 3, 9, 1)]
    assert [c.photo_id for c in cull_candidates(photos)] == [5, 3, 9, 1]
