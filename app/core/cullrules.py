"""Which photos to offer for culling, each with the plain-words reasons a user can check before deleting."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from app.core.quality import QualityThresholds, TechnicalQuality, faults


@dataclass(frozen=True)
class CullSettings:
    below: float = 4.0  # aesthetic score under which a photo is a candidate; 0 turns the score rule off
    use_technical: bool = True  # technical faults (blurry, too dark, ...) make a candidate
    use_non_picks: bool = True  # photos of a group other than its pick make a candidate


@dataclass(frozen=True)
class CullFacts:
    photo_id: int
    score: float | None
    quality: TechnicalQuality | None
    rating: int = 0
    user_pick: bool = False
    user_reject: bool = False
    group_pick_id: int | None = None  # the pick of the photo's group; None when in no group
    group_kind: str | None = None  # "exact" | "burst" | "similar"
    group_pick_name: str | None = None  # the pick's file name, for the reason a user reads


@dataclass(frozen=True)
class CullCandidate:
    photo_id: int
    reasons: tuple[str, ...]


def _score_reason(score: float, below: float) -> str:
    limit = f"{below:.1f}" if round(below, 1) == below else f"{below:g}"  # 1.45 must not read "below 1.4"
    shown = f"{score:.1f}"
    if float(shown) >= below:
        shown = f"{math.floor(score * 100) / 100:.2f}"  # 3.96 must not read "4.0, below 4.0"; 3.998 not "4.00"
    return f"score {shown}, below {limit}"


def _group_reason(kind: str | None, pick: int, size: int, name: str | None = None) -> str:
    shown = name or f"photo {pick}"
    if kind == "exact":
        return f"exact copy of {shown}"
    if kind == "burst":
        where = f"its burst of {size}" if size else "its burst"
    elif kind == "similar":
        where = f"its {size} similar shots" if size else "its similar shots"
    else:
        where = "its group"
    return f"not the pick of {where} ({shown} is)"


def cull_candidates(
    photos: Sequence[CullFacts],
    settings: CullSettings = CullSettings(),
    thresholds: QualityThresholds = QualityThresholds(),
) -> list[CullCandidate]:
    group_sizes = Counter(p.group_pick_id for p in photos if p.group_pick_id is not None)
    picks_present = {p.photo_id for p in photos if p.group_pick_id == p.photo_id}
    found: list[CullCandidate] = []
    for p in photos:
        # Stars and picks are the user's word that a photo stays; they outrank even a reject,
        # because a wrong keep costs a second look and a wrong delete costs the photo.
        if p.rating >= 1 or p.user_pick:
            continue
        reasons: list[str] = []
        if p.user_reject:
            reasons.append("rejected by you")
        if settings.below > 0 and p.score is not None and p.score < settings.below:
            reasons.append(_score_reason(p.score, settings.below))
        if settings.use_technical and p.quality is not None:
            reasons.extend(faults(p.quality, thresholds))
        if settings.use_non_picks and p.group_pick_id is not None and p.group_pick_id != p.photo_id:
            # The size is only known when the caller passed the whole group, which includes its pick.
            size = group_sizes[p.group_pick_id] if p.group_pick_id in picks_present else 0
            reasons.append(_group_reason(p.group_kind, p.group_pick_id, size, p.group_pick_name))
        if reasons:
            found.append(CullCandidate(p.photo_id, tuple(reasons)))
    return found
