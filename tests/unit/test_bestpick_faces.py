"""Best pick in a group of people: closed eyes and soft faces decide before the score."""
from __future__ import annotations

import pytest

import imagegen as gen
from app.core.bestpick import Candidate, best_pick
from app.core.cullrules import CullFacts, CullSettings, cull_candidates
from app.core.faces import Face, FaceReport
from app.core.quality import measure_quality

OPEN, SHUT = (0.05, 0.08), (0.7, 0.8)
XS = (0.1, 0.42, 0.74)  # three people in a row, as tests/faces_burst.py places them


def face(x: float, eyes=OPEN, focus: float = 1.0, w: float = 0.16) -> Face:
    return Face(x, 0.3, w, w * 1.6, 0.9, eyes[0], eyes[1], focus, 0.5, 200)


def report(*faces: Face) -> FaceReport:
    return FaceReport(tuple(faces), "test")


def people(closed: int | None = None, soft: int | None = None, focus=(0.2, 1.0, 0.45)) -> FaceReport:
    """Three faces; person `closed` blinks, person `soft` is out of focus (a fifth of their focus)."""
    return report(*(face(x, SHUT if i == closed else OPEN, f * (0.2 if i == soft else 1.0))
                    for i, (x, f) in enumerate(zip(XS, focus))))


@pytest.fixture(scope="module")
def sharp():
    return measure_quality(gen.scene(1), (4800, 3200))


def test_the_open_eyed_frame_wins_over_better_scored_blinks(sharp):
    frames = [Candidate(1, 7.0, sharp, faces=people(closed=1)), Candidate(2, 4.0, sharp, faces=people()),
              Candidate(3, 6.5, sharp, faces=people(closed=2))]
    pick = best_pick(frames)
    assert pick.photo_id == 2
    assert pick.reason.startswith("eyes open on all 3 faces;") and "others: 2 with closed eyes" in pick.reason
    assert [f.text for f in pick.faults[1]] == ["eyes closed (1 of 3 faces)"] and pick.faults[2] == ()
    # Without the faces the score decides, as it always did.
    assert best_pick([Candidate(c.photo_id, c.score, c.quality) for c in frames]).photo_id == 1


def test_the_users_marks_still_come_first(sharp):
    frames = [Candidate(1, 5.0, sharp, faces=people(closed=1), user_pick=True), Candidate(2, 6.0, sharp, faces=people())]
    assert best_pick(frames).photo_id == 1
    rated = [Candidate(1, 5.0, sharp, faces=people(closed=0), rating=3), Candidate(2, 6.0, sharp, faces=people())]
    assert best_pick(rated).photo_id == 1


def test_fewest_closed_eyes_then_fewest_soft_faces(sharp):
    two_blinks = report(*(face(x, SHUT if i else OPEN) for i, x in enumerate(XS)))
    frames = [Candidate(1, 8.0, sharp, faces=two_blinks), Candidate(2, 7.0, sharp, faces=people(closed=0, soft=2)),
              Candidate(3, 5.0, sharp, faces=people(closed=0))]
    pick = best_pick(frames)
    assert pick.photo_id == 3 and pick.reason.startswith("eyes closed (1 of 3 faces), the fewest, faces sharp;")
    assert "others: 2 with closed eyes, 1 with a soft face" in pick.reason
    # All eyes open: a face soft next to itself in the other frame loses the frame the pick.
    soft = [Candidate(1, 8.0, sharp, faces=people(soft=1)), Candidate(2, 5.0, sharp, faces=people())]
    pick = best_pick(soft)
    assert pick.photo_id == 2
    assert pick.reason.startswith("eyes open on all 3 faces, faces sharp;") and "others: 1 with a soft face" in pick.reason


def test_a_frame_is_not_preferred_for_the_faces_the_detector_missed_in_it(sharp):
    """A frame where a person's face was not found (turned away, smeared past the detector) cannot show
    their eyes open: it does not beat a frame that shows everyone with one blink."""
    missing_one = report(face(XS[0]), face(XS[1]))  # the third person's face was not found
    frames = [Candidate(1, 8.0, sharp, faces=missing_one), Candidate(2, 5.0, sharp, faces=people(closed=2)),
              Candidate(3, 4.0, sharp, faces=people())]
    pick = best_pick(frames)
    assert pick.photo_id == 3 and "1 with a face not found" in pick.reason
    # Against one blink it is a tie on faces, and the score decides as before.
    assert best_pick(frames[:2]).photo_id == 1
    # Nobody missing anywhere: nothing counted.
    assert best_pick([Candidate(1, 8.0, sharp, faces=people()), Candidate(2, 5.0, sharp, faces=people())]).photo_id == 1


def test_faces_differing_in_sharpness_between_people_are_not_soft(sharp):
    # Person 0 measures a fifth of person 1's focus in every frame: nobody is softer than themselves.
    frames = [Candidate(1, 5.0, sharp, faces=people()), Candidate(2, 6.0, sharp, faces=people())]
    pick = best_pick(frames)
    assert pick.photo_id == 2 and "soft" not in pick.reason


def test_small_faces_in_the_background_do_not_count(sharp):
    passer_by = face(0.9, SHUT, w=0.05)  # under a quarter of the largest face's area
    frames = [Candidate(1, 7.0, sharp, faces=report(face(0.3), passer_by)), Candidate(2, 5.0, sharp, faces=report(face(0.3)))]
    assert best_pick(frames).photo_id == 1


def test_no_face_in_any_frame_changes_nothing(sharp):
    blurry = measure_quality(gen.blurred(gen.scene(1), 4), (4800, 3200))
    for faces in (None, report()):
        plain = [Candidate(1, 7.5, blurry), Candidate(2, 5.0, sharp), Candidate(3, 6.0, sharp)]
        with_faces = [Candidate(c.photo_id, c.score, c.quality, faces=faces) for c in plain]
        assert best_pick(with_faces) == best_pick(plain)
        assert best_pick(with_faces).reason == best_pick(plain).reason


def _facts(pick, ids, group=True):
    return [CullFacts(i, 6.0, None, group_pick_id=pick.photo_id if group else None, group_kind="burst",
                      group_faults=pick.faults[i] if group else None) for i in ids]


def test_the_eyes_rule_culls_blinking_frames_of_a_group_never_a_lone_photo(sharp):
    frames = [Candidate(1, 7.0, sharp, faces=people(closed=1)), Candidate(2, 4.0, sharp, faces=people()),
              Candidate(3, 6.5, sharp, faces=people(closed=2))]
    pick = best_pick(frames)
    found = cull_candidates(_facts(pick, [1, 2, 3]), CullSettings(rules=frozenset({"eyes"})))
    assert [(c.photo_id, c.reasons) for c in found] == [(1, ("eyes closed (1 of 3 faces)",)),
                                                        (3, ("eyes closed (1 of 3 faces)",))]
    alone = best_pick([Candidate(1, 7.0, sharp, faces=people(closed=1))])
    assert cull_candidates(_facts(alone, [1], group=False), CullSettings(rules=frozenset({"eyes"}))) == []


def test_eyes_is_a_named_rule_on_by_default():
    from app.config import settings
    from app.core.cullrules import RULES, parse_rules

    assert parse_rules("eyes,blur") == {"eyes", "blur"} and "eyes" in RULES
    assert "eyes" in settings.REGISTRY["cull_rules"].default
    assert settings.REGISTRY["cull_rules"].choices == tuple(RULES)  # the setting offers every rule


def test_the_lineup_puts_each_persons_face_side_by_side_across_the_frames(sharp):
    from app.core.bestpick import face_faults, face_lineup

    # Frame 2: person 0 blinks and person 2 is soft; frame 3: person 1 was not found (turned away).
    frames = [Candidate(1, 5.0, sharp, faces=people()), Candidate(2, 5.0, sharp, faces=people(closed=0, soft=2)),
              Candidate(3, 5.0, sharp, faces=report(face(XS[2], focus=0.45), face(XS[0], focus=0.2))),
              Candidate(4, 5.0, sharp, faces=None)]  # analysed with face checks off
    lineup = face_lineup(frames)
    assert lineup.people == 3
    cells = {pid: [None if f is None else (round(f.face.x, 2), f.closed, f.soft) for f in row]
             for pid, row in lineup.frames.items()}
    assert cells == {1: [(0.1, False, False), (0.42, False, False), (0.74, False, False)],
                     2: [(0.1, True, False), (0.42, False, False), (0.74, False, True)],
                     3: [(0.1, False, False), None, (0.74, False, False)],  # left to right, whatever the order found
                     4: [None, None, None]}
    faults = face_faults(frames)
    for pid, row in lineup.frames.items():  # the strip shows what the pick counted
        if pid in faults and row:
            assert sum(1 for f in row if f and f.closed) == faults[pid].closed
            assert sum(1 for f in row if f and f.soft) == faults[pid].soft
    assert face_lineup([Candidate(1, 5.0, sharp, faces=report()), Candidate(2, 5.0, sharp)]) is None
