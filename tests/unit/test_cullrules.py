"""Cull candidates under named rules, with their reasons, and the photos (and scenes) that must never go."""

from __future__ import annotations

from dataclasses import replace

import pytest

from app.core.cullrules import (RULES, CullCandidate, CullFacts, CullSettings, RuleError, count_by_rule,
                                cull_candidates, parse_rules, restrict)
from app.core.quality import Fault, QualityThresholds, TechnicalQuality

GOOD = TechnicalQuality(focus=8.0, blur_px=0.1, motion_px=0.2, motion_angle=0.0, motion_ratio=1.2,
                        clipped_highlights=0.0, crushed_shadows=0.0, brightness=0.48, exposedness=0.8,
                        noise=0.7, width=6000, height=4000)
BLURRY = replace(GOOD, blur_px=2.0, focus=0.2)
SHAKEN = replace(GOOD, motion_px=2.5, motion_ratio=3.0)
BLACK = replace(GOOD, brightness=0.01)
BLOWN = replace(GOOD, clipped_highlights=0.18)
DARK = replace(GOOD, brightness=0.1, exposedness=0.3)  # low key: nothing lost
SMALL = replace(GOOD, width=640, height=480)
ALL = frozenset(RULES)


def reasons(photos, rules=ALL, below=4.0) -> dict[int, tuple[str, ...]]:
    return {c.photo_id: c.reasons for c in cull_candidates(photos, CullSettings(below, frozenset(rules)))}


def test_low_score_is_a_candidate_with_its_number():
    photos = [CullFacts(1, 3.2, GOOD), CullFacts(2, 6.5, GOOD), CullFacts(3, None, GOOD)]
    assert cull_candidates(photos) == [CullCandidate(1, (("score", "score 3.2, below 4.0"),))]
    assert cull_candidates(photos)[0].rules == ("score",)


def test_a_score_just_under_the_line_does_not_read_as_equal():
    assert reasons([CullFacts(1, 3.96, GOOD)]) == {1: ("score 3.96, below 4.0",)}
    assert reasons([CullFacts(1, 1.43, GOOD)], below=1.45) == {1: ("score 1.4, below 1.45",)}
    assert reasons([CullFacts(1, 3.96, GOOD)], below=3.97) == {1: ("score 3.96, below 3.97",)}


def test_each_rule_takes_only_what_it_names():
    photos = [CullFacts(1, 1.0, GOOD), CullFacts(2, 7.0, BLURRY), CullFacts(3, 7.0, SHAKEN),
              CullFacts(4, 7.0, BLACK), CullFacts(5, 7.0, BLOWN)]
    assert reasons(photos, {"score"}) == {1: ("score 1.0, below 4.0",)}
    assert reasons(photos, {"blur"}) == {2: ("out of focus",), 3: ("motion blur",)}
    assert reasons(photos, {"exposure"}) == {4: ("nearly black",), 5: ("highlights lost on 18% of the frame",)}
    assert reasons(photos, {"extra", "copy"}) == {}
    assert [c.rules for c in cull_candidates(photos)] == [("score",), ("blur",), ("blur",), ("exposure",),
                                                          ("exposure",)]


def test_small_dark_or_grainy_photos_alone_are_never_candidates():
    photos = [CullFacts(1, 7.0, SMALL), CullFacts(2, 7.0, DARK), CullFacts(3, 7.0, replace(GOOD, noise=6.0))]
    assert reasons(photos) == {}


def test_custom_thresholds_are_used():
    photos = [CullFacts(1, 7.0, replace(GOOD, blur_px=0.5))]
    assert cull_candidates(photos) == []
    strict = cull_candidates(photos, CullSettings(), QualityThresholds(out_of_focus_px=0.4))
    assert [c.reasons for c in strict] == [("out of focus",)]


def test_non_picks_of_groups_say_which_photo_is_the_pick():
    burst = [CullFacts(i, 6.0, GOOD, group_pick_id=11, group_kind="burst", group_faults=()) for i in (10, 11, 12)]
    copies = [CullFacts(i, 6.0, GOOD, group_pick_id=20, group_kind="exact", group_faults=()) for i in (20, 21)]
    similar = [CullFacts(i, 6.0, GOOD, group_pick_id=30, group_kind="similar", group_faults=()) for i in (30, 31)]
    photos = burst + copies + similar
    assert reasons(photos) == {
        10: ("not the pick of its burst of 3 (photo 11 is)",),
        12: ("not the pick of its burst of 3 (photo 11 is)",),
        21: ("exact copy of photo 20",),
        31: ("not the pick of its 2 similar shots (photo 30 is)",),
    }
    assert set(reasons(photos, {"copy"})) == {21}
    assert set(reasons(photos, {"extra"})) == {10, 12, 31}
    assert reasons(photos, {"score", "blur", "exposure"}) == {}


def test_faults_next_to_the_other_frames_are_blur_and_exposure_reasons():
    softer = (Fault("blur", "motion blur: softer than the sharpest frame"),)
    darker = (Fault("exposure", "darker than the best-exposed frame by 2 stops"),)
    photos = [CullFacts(1, 6.0, GOOD, group_pick_id=1, group_kind="burst", group_faults=()),
              CullFacts(2, 6.0, GOOD, group_pick_id=1, group_kind="burst", group_faults=softer),
              CullFacts(3, 6.0, DARK, group_pick_id=1, group_kind="burst", group_faults=darker)]
    assert reasons(photos, {"blur", "exposure"}) == {2: (softer[0].text,), 3: (darker[0].text,)}


def test_a_groups_pick_is_never_taken_on_technical_or_group_grounds():
    # Every frame of this scene is flawed; its pick (the least flawed) stays, so the scene keeps a frame.
    blur = (Fault("blur", "out of focus"),)
    photos = [CullFacts(i, 6.0, BLURRY, group_pick_id=1, group_kind="burst", group_faults=blur) for i in (1, 2, 3)]
    found = reasons(photos)
    assert set(found) == {2, 3}
    # Only the score rule (or the user's reject) names a pick.
    assert set(reasons(photos, below=7.0)) == {1, 2, 3}
    assert reasons([replace(photos[0], user_reject=True)])[1] == ("rejected by you",)


@pytest.mark.parametrize("protect", [{"rating": 1}, {"rating": 5}, {"user_pick": True}])
def test_starred_or_picked_photos_are_never_candidates(protect):
    worst = CullFacts(1, 0.5, BLURRY, group_pick_id=2, group_kind="burst", user_reject=True, **protect)
    assert cull_candidates([worst, CullFacts(2, 8.0, GOOD, group_pick_id=2, group_kind="burst")]) == []


def test_rejected_photos_are_always_candidates():
    photos = [CullFacts(1, 9.5, GOOD, user_reject=True), CullFacts(2, 2.0, BLACK, user_reject=True)]
    assert reasons(photos, {"copy"}) == {1: ("rejected by you",), 2: ("rejected by you",)}
    assert reasons(photos)[2] == ("rejected by you", "score 2.0, below 4.0", "nearly black")
    assert cull_candidates(photos)[1].rules == ("rejected", "score", "exposure")


def test_candidates_keep_the_input_order():
    photos = [CullFacts(i, 1.0, GOOD) for i in (5, 3, 9, 1)]
    assert [c.photo_id for c in cull_candidates(photos)] == [5, 3, 9, 1]


def test_counts_and_restriction_by_rule():
    photos = [CullFacts(1, 1.0, BLURRY), CullFacts(2, 7.0, BLACK), CullFacts(3, 1.0, GOOD, user_reject=True)]
    found = cull_candidates(photos)
    assert count_by_rule(found) == {"score": 2, "blur": 1, "exposure": 1, "rejected": 1}
    only_blur = restrict(found, {"blur"})
    assert [(c.photo_id, c.reasons) for c in only_blur] == [(1, ("out of focus",)), (3, ("rejected by you",))]
    assert restrict(found, {"blur"}) == cull_candidates(photos, CullSettings(rules=frozenset({"blur"})))


def test_rule_names_are_checked():
    assert parse_rules("blur, Exposure") == {"blur", "exposure"}
    assert parse_rules(["score"]) == {"score"}
    with pytest.raises(RuleError, match="unknown cull rule 'blurry'"):
        parse_rules("blurry")
    with pytest.raises(RuleError, match="no cull rule"):
        parse_rules(" , ")
