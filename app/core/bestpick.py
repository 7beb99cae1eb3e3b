"""The keeper of a group of near-duplicates, chosen the way a photographer would and explained in plain words.

Frames of one scene are judged against each other: a frame is softer than the sharpest one, or loses more
highlights or shadows than the best-exposed one. Focus is compared only between frames whose exposure
lets it be judged, so a frame of an exposure bracket is never called softer for being darker.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from app.core.faces import Face, FaceReport
from app.core.quality import (Fault, QualityThresholds, TechnicalQuality, blur_faults, exposure_faults,
                              faults, relative_focus)

# Focus of a frame next to another (quality.relative_focus, on the tiles both judge), same focus: generated
# scenes shifted 0.88-1.10, 2 EV under to 1 EV over 0.88-1.01; the 1600 px sample photos 2 and 1 EV under
# 0.85-1.12, 1 EV over 0.88-1.29 and 1.68 once (a yellow flower, its colour channels clipping); fog 0.80-1.13.
# Blurred: a 1 px Gaussian blur 0.14-0.69 (0.89 on a storm sky already smeared by motion), the real GoPro
# blurred frames 0.54 and 0.19 of their sharp ones. Under this share of another frame's focus, a frame is
# softer; 1 / 1.68 = 0.60 is why it is not higher.
SOFTER_RATIO = 0.55
# A frame losing this much more of its area to clipped highlights or shadows than the best-exposed frame
# is worse exposed: the real bracket's frames differ by 0.09 (+1.2 vs +4.1 EV) to 0.85 (-4.7 EV).
EXPOSURE_MARGIN = 0.08
# A frame also is when it is this much less well exposed (quality.exposedness) than the best frame and
# at least EXPOSURE_STOPS darker or brighter: the sample photos 1 EV under measured 0.79-1.2 of their
# own exposure, 2 EV under 0.53-0.80, 3 EV under 0.35-0.50; a real bracket's frames 1.8 EV under and
# 1.2 EV over 0.50. A high-key photo is less "well exposed" than a darker copy of itself: the stops
# guard keeps small differences out, and what is lost (above) is judged first.
EXPOSEDNESS_RATIO = 0.7
EXPOSURE_STOPS = 1.5
SMALLER_RATIO = 0.5  # under half the pixels of the group's largest frame
SHARPEST_TOLERANCE = 0.95
MUCH_SMALLER = "much smaller"
# A face is soft when its focus (faces.Face.focus) is under this share of the sharpest version of the same
# face in the group. Measured on tests/faces_burst.py's group bursts (3 real faces pasted at 12% and 16% of
# the width, 1600 px decodes, one face per frame blurred 3 px): the blurred faces measured 0.05-0.44 of the
# same face sharp, while the sharp versions of a face varied 0.78-1.0 between frames (shifted, recompressed).
# Generated, not calibrated on real bursts: the gap is wide and 0.6 sits in it.
SOFT_FACE_RATIO = 0.6
EYES = "eyes"  # the cull rule (and fault rule) for closed eyes
TASTE_TIE = 0.1  # score points within which the user's taste model decides (see best_pick)


@dataclass(frozen=True)
class Candidate:
    photo_id: int
    score: float | None
    quality: TechnicalQuality | None
    user_pick: bool = False
    user_reject: bool = False
    rating: int = 0
    faces: FaceReport | None = None  # None: faces not looked for
    # The user's taste model (0 to 1), given only while it beats the aesthetic score on held-out marks.
    taste: float | None = None


@dataclass(frozen=True)
class FaceFaults:
    """A frame's prominent faces (faces.FaceReport.prominent) and how many of them let it down."""

    faces: int
    closed: int  # with their eyes closed
    soft: int  # softer than the same face in another frame
    unseen: int = 0  # people shown in another frame whose face was not found in this one


@dataclass(frozen=True)
class Pick:
    photo_id: int
    reason: str
    # What each frame has against it next to the others (blur and exposure faults, alone or compared).
    faults: dict[int, tuple[Fault, ...]] = field(default_factory=dict, compare=False)


def _lost(q: TechnicalQuality) -> float:
    return q.clipped_highlights + q.crushed_shadows


def _percent(fraction: float) -> str:
    return f"{max(1, round(fraction * 100))}%"


def _stops(a: TechnicalQuality, b: TechnicalQuality) -> float:
    """How many stops brighter `a` is than `b` (mean luminance is gamma-encoded, about 2.2)."""
    return 2.2 * math.log2(max(a.brightness, 1e-3) / max(b.brightness, 1e-3))


def _least_relative_focus(c: Candidate, judged: Sequence[Candidate]) -> float | None:
    """The frame's focus as a share of the sharpest other frame's, on the tiles both judge."""
    shares = [relative_focus(d.quality, c.quality) for d in judged if d is not c and d.quality is not None]
    shares = [r for r in shares if r is not None]
    return min(shares) if shares else None


def _exposure_faults(q: TechnicalQuality, least_lost: float, best_exposed: TechnicalQuality | None,
                     thresholds: QualityThresholds) -> list[Fault]:
    """Exposure faults alone, or next to the best-exposed frame of the group."""
    found = exposure_faults(q, thresholds)
    if found:
        return found
    if _lost(q) >= least_lost + EXPOSURE_MARGIN:
        which, lost = (("highlights", q.clipped_highlights) if q.clipped_highlights >= q.crushed_shadows
                       else ("shadows", q.crushed_shadows))
        return [Fault("exposure", f"{which} lost on {_percent(lost)} of the frame")]
    if best_exposed is not None and q.exposedness < EXPOSEDNESS_RATIO * best_exposed.exposedness:
        stops = _stops(q, best_exposed)
        if abs(stops) >= EXPOSURE_STOPS:
            return [Fault("exposure", f"{'brighter' if stops > 0 else 'darker'} than the best-exposed frame "
                                      f"by {abs(stops):.0f} stops")]
    return []


def _blur_faults(c: Candidate, judged: Sequence[Candidate], thresholds: QualityThresholds) -> list[Fault]:
    """Blur alone, or next to the sharpest frame of the group (frames whose exposure lets it be judged)."""
    q = c.quality
    found = blur_faults(q, thresholds)
    share = _least_relative_focus(c, judged) if c in judged else None
    if not found and share is not None and share < SOFTER_RATIO:
        kind = "motion blur" if q.motion_ratio >= thresholds.motion_ratio and \
            q.motion_px >= 0.5 * thresholds.motion_px else "out of focus"
        found.append(Fault("blur", f"{kind}: softer than the sharpest frame"))
    return found


def _same_face(a: Face, b: Face) -> bool:
    """Boxes of one person in two frames of a burst: centres within half a face of each other."""
    return (abs((a.x + a.w / 2) - (b.x + b.w / 2)) <= 0.5 * max(a.w, b.w)
            and abs((a.y + a.h / 2) - (b.y + b.h / 2)) <= 0.5 * max(a.h, b.h))


def _is_soft(f: Face, shown: dict[int, Sequence[Face]]) -> bool:
    """Whether a prominent face is softer than the sharpest version of the same face in the group."""
    if f.focus is None:
        return False
    # The same face with its eyes in the same state: closed eyelids take away the finest detail of a
    # face (lashes, irises), so an open-eyed face is not held to its blink's focus, nor the reverse.
    versions = [g.focus for faces in shown.values() for g in faces
                if g.focus is not None and g.eyes_closed == f.eyes_closed and _same_face(f, g)]
    return f.focus < SOFT_FACE_RATIO * max(versions)


@dataclass(frozen=True)
class FaceInFrame:
    """One person's face in one frame, as the views show it beside the same face in the other frames."""

    face: Face
    closed: bool | None  # None: the eyes could not be placed
    soft: bool  # softer than the same face in another frame


@dataclass(frozen=True)
class Lineup:
    """The people of a group (each prominent in some frame), left to right, and for each frame each
    person's face in it, or None where it was not found."""

    people: int
    frames: dict[int, tuple[FaceInFrame | None, ...]]


def face_lineup(members: Sequence[Candidate]) -> Lineup | None:
    """Each frame's faces lined up person by person, for a side-by-side view of eyes and focus; None
    when no frame shows a face."""
    shown = {c.photo_id: c.faces.prominent() for c in members if c.faces is not None}
    people: list[Face] = []
    for faces in shown.values():
        for f in faces:
            if not any(_same_face(f, p) for p in people):
                people.append(f)
    if not people:
        return None
    people.sort(key=lambda p: p.x + p.w / 2)
    frames = {}
    for c in members:
        found = c.faces.faces if c.faces is not None else ()
        row = []
        for p in people:
            match = [f for f in found if _same_face(p, f)]
            f = max(match, key=lambda f: f.area) if match else None
            row.append(None if f is None else FaceInFrame(f, f.eyes_closed, _is_soft(f, shown)
                                                          if f in shown.get(c.photo_id, ()) else False))
        frames[c.photo_id] = tuple(row)
    return Lineup(len(people), frames)


def face_faults(members: Sequence[Candidate]) -> dict[int, FaceFaults] | None:
    """Each frame's closed-eyed and soft prominent faces; None when no frame shows a face, so that
    groups without people are judged exactly as before."""
    shown = {c.photo_id: c.faces.prominent() for c in members if c.faces is not None}
    if not any(shown.values()):
        return None
    out = {}
    for c in members:
        mine = shown.get(c.photo_id, ())
        soft = sum(1 for f in mine if _is_soft(f, shown))
        # A person another frame shows prominently but whose face was not found here (turned away, hidden,
        # smeared past the detector) cannot be said to have their eyes open: it counts with a blink, so a
        # frame is never preferred for the faces the detector missed in it.
        found_here = c.faces.faces if c.faces is not None else None
        unseen = 0 if found_here is None else len(_people_missing(c.photo_id, shown, found_here))
        out[c.photo_id] = FaceFaults(len(mine), sum(1 for f in mine if f.eyes_closed), soft, unseen)
    return out


def _people_missing(photo_id: int, shown: dict[int, Sequence[Face]], found_here: Sequence[Face]) -> list[Face]:
    """One face for each person the other frames show prominently and this frame has no face of."""
    people: list[Face] = []
    for pid, faces in shown.items():
        if pid == photo_id:
            continue
        for f in faces:
            if not any(_same_face(f, p) for p in people):
                people.append(f)
    return [p for p in people if not any(_same_face(p, g) for g in found_here)]


def _eyes_text(ff: FaceFaults) -> str:
    return f"eyes closed ({ff.closed} of {_plural(ff.faces, 'face')})"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _summary(fault: Fault) -> str:
    """A fault as the others' tally counts it: "motion blur", not the comparison that found it."""
    if fault.rule == "blur":
        return fault.text.split(":")[0]
    if fault.text.endswith("of the frame"):
        return " ".join(fault.text.split()[:2])
    return fault.text.split(" than ")[0] if " than " in fault.text else fault.text


def best_pick(members: Sequence[Candidate], thresholds: QualityThresholds = QualityThresholds()) -> Pick:
    if not members:
        raise ValueError("best_pick needs at least one photo")
    measured = [c.quality for c in members if c.quality is not None]
    most_pixels = max((q.width * q.height for q in measured), default=0)
    # A much smaller photo is measured at its own small size, where every edge looks crisper: it
    # cannot set the focus the others are held to.
    # Exposure is compared with frames that are sharp on their own: a blurred frame must not be the
    # reference that gives a sharp frame an exposure fault (and so the pick to the blurred one).
    reference = [q for q in measured if not blur_faults(q, thresholds)] or measured
    least_lost = min((_lost(q) for q in reference), default=0.0)
    # The best-exposed frame among those that lost nothing to clipping (a blown frame scores well on
    # closeness to grey precisely because it is too bright).
    sound = [q for q in reference if not exposure_faults(q, thresholds) and _lost(q) < least_lost + EXPOSURE_MARGIN]
    best_exposed = max(sound, key=lambda q: q.exposedness, default=None)
    exposure = {c.photo_id: _exposure_faults(c.quality, least_lost, best_exposed, thresholds)
                for c in members if c.quality is not None}
    # Focus is compared between frames whose exposure lets it be judged: a frame much darker than
    # the rest shows its shadows as 8-bit steps, and a clipped one has lost detail, not focus.
    judged = [c for c in members if c.quality is not None and c.quality.blur_px is not None
              and not exposure[c.photo_id] and c.quality.width * c.quality.height >= SMALLER_RATIO * most_pixels]
    found: dict[int, list[Fault]] = {}
    for c in members:
        if c.quality is None:
            found[c.photo_id] = []
            continue
        found[c.photo_id] = _blur_faults(c, judged, thresholds) + exposure[c.photo_id]
        if c.quality.width * c.quality.height < SMALLER_RATIO * most_pixels:
            found[c.photo_id].append(Fault("size", MUCH_SMALLER))

    own = {c.photo_id: len(faults(c.quality, thresholds)) if c.quality is not None else 0 for c in members}
    people = face_faults(members)
    no_faults = FaceFaults(0, 0, 0)

    def standing(c: Candidate) -> tuple:
        # The user's own marks outrank everything the machine measures; then, in a group of people, fewer
        # faces with closed eyes and fewer soft faces (a blink spoils a portrait more than any score says);
        # then fewer faults that spoil the frame on its own (so a blurred frame never wins over a sharp one
        # for being brighter), then fewer found next to the others, and a frame known to be clean before
        # one not yet measured.
        ff = people.get(c.photo_id, no_faults) if people else no_faults
        return (c.user_pick, not c.user_reject, c.rating, -(ff.closed + ff.unseen), -ff.soft, -own[c.photo_id],
                -len(found[c.photo_id]), c.quality is not None)

    top = max(standing(c) for c in members)
    contenders = [c for c in members if standing(c) == top]
    scored = all(c.score is not None for c in contenders)

    def merit(c: Candidate) -> tuple:
        focus = c.quality.focus if c.quality is not None else float("-inf")
        score = c.score if c.score is not None else float("-inf")
        # Unscored frames cannot be compared on score, so then quality decides.
        return (score, focus, -c.photo_id) if scored else (focus, score, -c.photo_id)

    winner = max(contenders, key=merit)
    reason = _explain(winner, members, found, scored, judged, people)
    if scored and all(c.taste is not None for c in contenders):
        # Scores this close are a tie (two frames of one scene differ by about this much on noise
        # alone), and the user's own taste breaks it.
        tied = [c for c in contenders if c.score >= winner.score - TASTE_TIE]
        by_taste = max(tied, key=lambda c: (c.taste, merit(c)))
        if by_taste is not winner:
            winner = by_taste
            reason = (f"more to your taste ({by_taste.taste:.0%}) than frames scored within {TASTE_TIE} of it; "
                      + _explain(winner, members, found, scored, judged, people))
    kept = {pid: tuple(f for f in fs if f.rule != "size") for pid, fs in found.items()}
    for pid, ff in (people or {}).items():
        if ff.closed:  # the eyes cull rule's finding, for the frames that are not the pick
            kept[pid] += (Fault(EYES, _eyes_text(ff)),)
    return Pick(winner.photo_id, reason, kept)


def _faces_part(winner: Candidate, others: Sequence[Candidate], people: dict[int, FaceFaults]) -> str:
    """What the winner's faces have for them: "eyes open on all 3 faces"; their faults when every frame has some."""
    ff = people[winner.photo_id]
    if not ff.faces:
        return ""
    all_of = "" if ff.faces == 1 else (" on both faces" if ff.faces == 2 else f" on all {ff.faces} faces")
    parts = [("eyes open" + all_of) if not ff.closed else _eyes_text(ff) + ", the fewest"]
    if ff.soft:
        parts.append(f"{_plural(ff.soft, 'face')} softer than in another frame")
    elif any(people[c.photo_id].soft for c in others):
        parts.append("faces sharp")
    return ", ".join(parts)


def _explain(winner: Candidate, members: Sequence[Candidate], found: dict[int, list[Fault]], scored: bool,
             judged: Sequence[Candidate], people: dict[int, FaceFaults] | None = None) -> str:
    n = len(members)
    if n == 1:
        return "your pick" if winner.user_pick else "the only photo"
    others = [c for c in members if c.photo_id != winner.photo_id]
    parts: list[str] = []
    if winner.rating > max(c.rating for c in others):
        parts.append(f"rated {_plural(winner.rating, 'star')} by you")

    score_part = ""
    if winner.score is not None:
        scores = [c.score for c in members if c.score is not None]
        median = statistics.median(scores)
        if winner.score >= max(scores) and winner.score - median >= 0.05 and len(scores) > 2:
            score_part = f"score {winner.score:.1f}, {winner.score - median:.1f} above the group median"
        elif winner.score >= max(scores) and len(scores) > 1:
            score_part = f"score {winner.score:.1f} (highest of {len(scores)})"
        else:
            score_part = f"score {winner.score:.1f}"
    sharp_part = ""
    # Within measurement noise (about 5% between shifted frames) of the best counts as sharpest.
    share = _least_relative_focus(winner, judged) if winner in judged and len(judged) > 1 else None
    if share is not None and share >= SHARPEST_TOLERANCE:
        # Only frames whose exposure lets focus be judged are compared: say so when that is not all of them.
        of = f"{len(judged)}" if len(judged) == len(members) else f"the {len(judged)} well-exposed"
        sharp_part = f"sharpest of {of}" if share >= 1.0 else f"as sharp as any of {of}"
    wq = winner.quality
    if people:  # in a group of people, eyes and faces come first, as they did in the choice
        face_part = _faces_part(winner, others, people)
        if face_part:
            parts.append(face_part)
    # Lead with what decided it: the score when every contender had one, otherwise focus.
    parts.extend(p for p in ((score_part, sharp_part) if scored else (sharp_part, score_part)) if p)

    if found[winner.photo_id]:
        parts.append("least flawed: " + ", ".join(f.text for f in found[winner.photo_id]))
    elif wq is not None:
        others_clipped = max((c.quality.clipped_highlights for c in others if c.quality is not None), default=0.0)
        if wq.clipped_highlights <= 0.001 and others_clipped > 0.01:
            parts.append("no clipped highlights")

    tally = Counter(_summary(f) for c in others for f in found[c.photo_id])
    tally.update("rejected by you" for c in others if c.user_reject)
    if people:
        tally.update("with closed eyes" for c in others if people[c.photo_id].closed)
        tally.update("with a soft face" for c in others if people[c.photo_id].soft)
        tally.update("with a face not found" for c in others if people[c.photo_id].unseen)
    if tally:
        parts.append("others: " + ", ".join(f"{count} {fault}" for fault, count in tally.items()))
    # The user's choice leads, and the measurements still say what the frame has going for it.
    if winner.user_pick:
        parts.insert(0, "your pick")
    return "; ".join(parts) if parts else f"best of {n}"
