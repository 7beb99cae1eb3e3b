"""The keeper of a group of near-duplicates, chosen the way a photographer would and explained in plain words."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from app.core.quality import QualityThresholds, TechnicalQuality, faults

# Shifted, cropped and re-exposed frames of one scene measured 0.84-1.15 of each other's focus, and a
# 1 px Gaussian blur 0.09-0.48 (13 sample photos, 3 synthetic scenes); half separates them.
SOFTER_RATIO = 0.5
SMALLER_RATIO = 0.5  # under half the pixels of the group's largest frame
SHARPEST_TOLERANCE = 0.95
# Faults that make a frame lose to any frame without them. Noise and absolute size are left out:
# a little grain spoils no keeper, and size only matters next to the other frames.
_DISQUALIFYING = ("blurry", "too dark", "too bright", "blown highlights", "crushed shadows")


@dataclass(frozen=True)
class Candidate:
    photo_id: int
    score: float | None
    quality: TechnicalQuality | None
    user_pick: bool = False
    user_reject: bool = False
    rating: int = 0


@dataclass(frozen=True)
class Pick:
    photo_id: int
    reason: str


def _focus(q: TechnicalQuality) -> float:
    # Exposure scales the Laplacian with brightness squared; dividing it out leaves focus alone,
    # so a darker frame of a burst is not mistaken for a softer one.
    return q.sharpness / max(q.brightness, 0.05) ** 2


def _frame_faults(
    c: Candidate, best_focus: float, most_pixels: int, thresholds: QualityThresholds
) -> list[str]:
    if c.quality is None:
        return []
    found = [f for f in faults(c.quality, thresholds) if f in _DISQUALIFYING]
    if "blurry" not in found and _focus(c.quality) < SOFTER_RATIO * best_focus:
        found.append("softer than the rest")
    if c.quality.width * c.quality.height < SMALLER_RATIO * most_pixels:
        found.append("much smaller")
    return found


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def best_pick(members: Sequence[Candidate], thresholds: QualityThresholds = QualityThresholds()) -> Pick:
    if not members:
        raise ValueError("best_pick needs at least one photo")
    measured = [c.quality for c in members if c.quality is not None]
    most_pixels = max((q.width * q.height for q in measured), default=0)
    # A much smaller photo is measured at its own small size, where every edge looks crisper: it
    # cannot set the focus the others are held to.
    comparable = [q for q in measured if q.width * q.height >= SMALLER_RATIO * most_pixels]
    best_focus = max((_focus(q) for q in comparable), default=0.0)
    found = {c.photo_id: _frame_faults(c, best_focus, most_pixels, thresholds) for c in members}

    def standing(c: Candidate) -> tuple:
        # The user's own marks outrank everything the machine measures; then fewer faults, and a
        # frame known to be clean before one not yet measured.
        return (c.user_pick, not c.user_reject, c.rating, -len(found[c.photo_id]), c.quality is not None)

    top = max(standing(c) for c in members)
    contenders = [c for c in members if standing(c) == top]
    scored = all(c.score is not None for c in contenders)

    def merit(c: Candidate) -> tuple:
        focus = _focus(c.quality) if c.quality is not None else float("-inf")
        score = c.score if c.score is not None else float("-inf")
        # Unscored frames cannot be compared on score, so then quality decides.
        return (score, focus, -c.photo_id) if scored else (focus, score, -c.photo_id)

    winner = max(contenders, key=merit)
    return Pick(winner.photo_id, _explain(winner, members, found, scored, best_focus))


def _explain(
    winner: Candidate, members: Sequence[Candidate], found: dict[int, list[str]], scored: bool, best_focus: float
) -> str:
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
    measured = sum(c.quality is not None for c in members)
    # Within measurement noise (about 5% between shifted frames) of the best counts as sharpest.
    if winner.quality is not None and measured > 1 and _focus(winner.quality) >= SHARPEST_TOLERANCE * best_focus:
        best = _focus(winner.quality) >= best_focus
        sharp_part = f"sharpest of {measured}" if best else f"as sharp as any of {measured}"
    # Lead with what decided it: the score when every contender had one, otherwise focus.
    parts.extend(p for p in ((score_part, sharp_part) if scored else (sharp_part, score_part)) if p)

    if found[winner.photo_id]:
        parts.append("least flawed: " + ", ".join(found[winner.photo_id]))
    elif winner.quality is not None:
        others_clipped = max((c.quality.clipped_highlights for c in others if c.quality is not None), default=0.0)
        if winner.quality.clipped_highlights <= 0.001 and others_clipped > 0.01:
            parts.append("no clipped highlights")

    tally = Counter(f for c in others for f in found[c.photo_id])
    tally.update("rejected by you" for c in others if c.user_reject)
    if tally:
        parts.append("others: " + ", ".join(f"{count} {fault}" for fault, count in tally.items()))
    # The user's choice leads, and the measurements still say what the frame has going for it.
    if winner.user_pick:
        parts.insert(0, "your pick")
    return "; ".join(parts) if parts else f"best of {n}"
