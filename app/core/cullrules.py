"""Which photos to offer for culling, under named rules the user chooses, each candidate with the
plain-words reasons a user can check before anything moves.

A cull never takes a whole scene on technical or group grounds: the pick of a group is a candidate
only when the score rule names it or the user rejected it, and a photo in no group is a technical
candidate only for a fault that spoils it on its own (closed eyes never are one: they are only
found next to the other frames of a group).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from app.core.quality import Fault, QualityThresholds, TechnicalQuality, faults

# The rules, in the order they are shown; every one is on by default.
RULES: dict[str, str] = {
    "score": "aesthetic score below the threshold",
    "blur": "out of focus or motion blur (alone, or softer than the sharpest frame of its scene)",
    "exposure": "nearly black or white, or highlights lost over a large area (or more lost than its scene's best frame)",
    "extra": "not the pick of its burst or similar shots",
    "copy": "an exact copy of a photo that is kept",
    # Only next to a frame of the same people with their eyes open: a lone photo with closed eyes may
    # be closed on purpose, and the pick of a group keeps its scene whatever its eyes.
    "eyes": "a face with its eyes closed, where another frame of its group has them open",
}
REJECTED = "rejected"  # not a rule: the user's own reject, always a candidate


class RuleError(ValueError):
    """A rule name that is not one of RULES."""


def parse_rules(text: str | Iterable[str]) -> frozenset[str]:
    """Rule names from "a,b" or a list, refusing unknown ones in words."""
    names = [n.strip().lower() for n in (text.split(",") if isinstance(text, str) else text)]
    names = [n for n in names if n]
    unknown = [n for n in names if n not in RULES]
    if unknown:
        raise RuleError(f"unknown cull rule {', '.join(repr(n) for n in unknown)}: "
                        f"choose from {', '.join(RULES)}")
    if not names:
        raise RuleError(f"no cull rule given: choose from {', '.join(RULES)}")
    return frozenset(names)


@dataclass(frozen=True)
class CullSettings:
    below: float = 4.0  # the score rule's threshold
    rules: frozenset[str] = frozenset(RULES)


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
    # Faults found next to the other frames of its group (app.core.bestpick); None for a photo in no group.
    group_faults: tuple[Fault, ...] | None = None


@dataclass(frozen=True)
class CullCandidate:
    photo_id: int
    findings: tuple[tuple[str, str], ...]  # (rule or "rejected", reason in words), in the order shown

    @property
    def reasons(self) -> tuple[str, ...]:
        return tuple(text for _rule, text in self.findings)

    @property
    def rules(self) -> tuple[str, ...]:
        """The rules (and "rejected") that made it a candidate, in RULES order."""
        named = {rule for rule, _text in self.findings}
        return tuple(r for r in (REJECTED, *RULES) if r in named)


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


def _technical(p: CullFacts, thresholds: QualityThresholds) -> list[Fault]:
    in_group = p.group_pick_id is not None
    if in_group:
        # Exact copies measure alike: their faults are the kept copy's, and the group keeps that one.
        return [] if p.group_kind == "exact" else list(p.group_faults or ())
    return faults(p.quality, thresholds) if p.quality is not None else []


def cull_candidates(
    photos: Sequence[CullFacts],
    settings: CullSettings = CullSettings(),
    thresholds: QualityThresholds = QualityThresholds(),
) -> list[CullCandidate]:
    group_sizes = Counter(p.group_pick_id for p in photos if p.group_pick_id is not None)
    picks_present = {p.photo_id for p in photos if p.group_pick_id == p.photo_id}
    on = settings.rules
    found: list[CullCandidate] = []
    for p in photos:
        # Stars and picks are the user's word that a photo stays; they outrank even a reject,
        # because a wrong keep costs a second look and a wrong delete costs the photo.
        if p.rating >= 1 or p.user_pick:
            continue
        findings: list[tuple[str, str]] = []
        if p.user_reject:
            findings.append((REJECTED, "rejected by you"))
        if "score" in on and p.score is not None and p.score < settings.below:
            findings.append(("score", _score_reason(p.score, settings.below)))
        if p.group_pick_id != p.photo_id:  # a group's pick stays whatever else is wrong: the scene keeps a frame
            findings.extend((f.rule, f.text) for f in _technical(p, thresholds) if f.rule in on)
            rule = "copy" if p.group_kind == "exact" else "extra"
            if p.group_pick_id is not None and rule in on:
                # The size is only known when the caller passed the whole group, which includes its pick.
                size = group_sizes[p.group_pick_id] if p.group_pick_id in picks_present else 0
                findings.append((rule, _group_reason(p.group_kind, p.group_pick_id, size, p.group_pick_name)))
        if findings:
            found.append(CullCandidate(p.photo_id, tuple(findings)))
    return found


def restrict(candidates: Iterable[CullCandidate], rules: Iterable[str]) -> list[CullCandidate]:
    """The candidates (and their findings) under fewer rules, without finding them again."""
    keep = {*rules, REJECTED}
    out = []
    for c in candidates:
        findings = tuple(f for f in c.findings if f[0] in keep)
        if findings:
            out.append(CullCandidate(c.photo_id, findings))
    return out


def count_by_rule(candidates: Iterable[CullCandidate]) -> dict[str, int]:
    """How many candidates each rule names (a photo named by two rules counts under both)."""
    counts = Counter(rule for c in candidates for rule in c.rules)
    return {rule: counts[rule] for rule in [*RULES, REJECTED] if counts[rule]}
