"""Near-duplicate groups of photos: exact copies, bursts shot seconds apart, and similar shots of one scene."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from app.core.quality import hamming

_MAX_ACTIVE_BURSTS = 64  # bounds the work when thousands of photos share one timestamp (copied files' mtimes)
_MASK64 = (1 << 64) - 1


@dataclass(frozen=True)
class GroupingSettings:
    burst_window_s: float = 2.0  # max gap between consecutive frames of a burst
    # Scene hashes (tests/unit/test_grouping.py, test_quality.py): exposure, blur, noise and shifts of up
    # to 3% of the frame stay within 10 (14 for +2 EV with clipping); distinct scenes measured >= 16.
    scene_max_distance: int = 12
    embedding_min_cosine: float = 0.92  # further signal; only used when both have embeddings
    embedding_extra_distance: int = 4  # extra hash distance a burst frame may have when embeddings agree
    # Stricter because nothing but the picture ties two shots taken hours apart together.
    similar_max_distance: int = 8


@dataclass(frozen=True)
class PhotoFacts:
    photo_id: int
    content_hash: str | None
    captured_at: float | None  # epoch seconds with sub-second fraction
    scene_hash: int | None
    embedding: np.ndarray | None  # L2-normalised, or None


@dataclass(frozen=True)
class Group:
    kind: str  # "exact" | "burst" | "similar"
    members: tuple[int, ...]  # photo ids, sorted by captured_at then id


def _order(p: PhotoFacts) -> tuple[bool, float, int]:
    # Photos without a capture time go last rather than being compared as time zero.
    return (p.captured_at is None, p.captured_at or 0.0, p.photo_id)


def _cosine_agrees(a: PhotoFacts, b: PhotoFacts, settings: GroupingSettings) -> bool:
    if a.embedding is None or b.embedding is None:
        return False
    return float(np.dot(a.embedding, b.embedding)) >= settings.embedding_min_cosine


def _burst_alike(a: PhotoFacts, b: PhotoFacts, settings: GroupingSettings) -> bool:
    d = hamming(a.scene_hash, b.scene_hash)  # type: ignore[arg-type]
    if d <= settings.scene_max_distance:
        return True
    # Embeddings only ever widen the match a little: a random-weight encoder must not decide alone.
    return d <= settings.scene_max_distance + settings.embedding_extra_distance and _cosine_agrees(a, b, settings)


def _exact_groups(photos: Sequence[PhotoFacts]) -> list[list[PhotoFacts]]:
    by_hash: dict[str, list[PhotoFacts]] = defaultdict(list)
    for p in photos:
        if p.content_hash is not None:
            by_hash[p.content_hash].append(p)
    return [members for members in by_hash.values() if len(members) > 1]


def _burst_groups(photos: Sequence[PhotoFacts], settings: GroupingSettings) -> list[list[PhotoFacts]]:
    timed = sorted((p for p in photos if p.captured_at is not None and p.scene_hash is not None), key=_order)
    groups: list[list[PhotoFacts]] = []
    active: list[int] = []  # indexes into groups whose last frame is within the window, oldest first
    for p in timed:
        t = p.captured_at
        active = [g for g in active[-_MAX_ACTIVE_BURSTS:] if t - groups[g][-1].captured_at <= settings.burst_window_s]  # type: ignore[operator]
        best: tuple[int, int] | None = None  # (worst distance to a member, group index)
        for g in active:
            # Complete linkage: a frame joins only if it is alike to every frame already there.
            if all(_burst_alike(p, m, settings) for m in groups[g]):
                worst = max(hamming(p.scene_hash, m.scene_hash) for m in groups[g])  # type: ignore[arg-type]
                if best is None or (worst, -g) < (best[0], -best[1]):
                    best = (worst, g)
        if best is None:
            groups.append([p])
            active.append(len(groups) - 1)
        else:
            groups[best[1]].append(p)
            active.remove(best[1])
            active.append(best[1])
    return [g for g in groups if len(g) > 1]


def _popcount(x: np.ndarray) -> np.ndarray:
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(x)
    return np.unpackbits(x.view(np.uint8).reshape(-1, 8), axis=1).sum(axis=1)


def _band_layout(radius: int) -> list[tuple[int, int]]:
    # With m bands, two hashes within `radius` differ in at most one bit in some band when
    # m > radius / 2 (pigeonhole), so probing each band at distance <= 1 finds every pair.
    m = max(4, math.ceil((radius + 1) / 2))
    widths = [64 // m + (1 if i < 64 % m else 0) for i in range(m)]
    starts = [sum(widths[:i]) for i in range(m)]
    return list(zip(starts, widths))


def _pairs_within(hashes: np.ndarray, radius: int) -> Iterator[tuple[int, int]]:
    """Index pairs (i < j) of distinct uint64 hashes within `radius`, by multi-index hashing, exact."""
    n = len(hashes)
    if n < 2:
        return
    found: list[np.ndarray] = []
    for start, width in _band_layout(radius):
        keys = (hashes >> np.uint64(start)) & np.uint64((1 << width) - 1)
        order = np.argsort(keys, kind="stable")
        sorted_keys = keys[order]
        for flip in [0] + [1 << b for b in range(width)]:
            probe = keys ^ np.uint64(flip)
            lo = np.searchsorted(sorted_keys, probe, "left")
            counts = np.searchsorted(sorted_keys, probe, "right") - lo
            total = int(counts.sum())
            if total == 0:
                continue
            left = np.repeat(np.arange(n), counts)
            offsets = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
            right = order[np.repeat(lo, counts) + offsets]
            keep = left < right
            left, right = left[keep], right[keep]
            close = _popcount(hashes[left] ^ hashes[right]) <= radius
            found.append(left[close].astype(np.int64) * n + right[close])
    if not found:
        return
    for code in np.unique(np.concatenate(found)):
        yield int(code // n), int(code % n)


def _similar_groups(photos: Sequence[PhotoFacts], settings: GroupingSettings) -> list[list[PhotoFacts]]:
    hashed = sorted((p for p in photos if p.scene_hash is not None), key=_order)
    values = sorted({p.scene_hash & _MASK64 for p in hashed})  # type: ignore[operator]
    # Photos with the same hash are trivially alike, so pairs are found between distinct hashes only.
    value_index = {v: i for i, v in enumerate(values)}
    near: dict[int, set[int]] = defaultdict(set)
    for i, j in _pairs_within(np.array(values, dtype=np.uint64), settings.similar_max_distance):
        near[i].add(j)
        near[j].add(i)
    photos_of: dict[int, list[PhotoFacts]] = defaultdict(list)
    for p in hashed:
        photos_of[value_index[p.scene_hash & _MASK64]].append(p)  # type: ignore[operator]

    assigned: set[int] = set()
    groups: list[list[PhotoFacts]] = []
    for p in hashed:
        v = value_index[p.scene_hash & _MASK64]  # type: ignore[operator]
        if p.photo_id in assigned or (len(photos_of[v]) < 2 and not near[v]):
            continue
        candidates = [q for u in {v} | near[v] for q in photos_of[u] if q.photo_id not in assigned and q is not p]
        group, group_values = [p], {v}
        for q in sorted(candidates, key=_order):
            u = value_index[q.scene_hash & _MASK64]  # type: ignore[operator]
            # Complete linkage, so A~B and B~C never pull an unlike A and C together.
            if all(u == w or w in near[u] for w in group_values):
                group.append(q)
                group_values.add(u)
        if len(group) > 1:
            groups.append(group)
            assigned.update(q.photo_id for q in group)
    return groups


def group_photos(photos: Sequence[PhotoFacts], settings: GroupingSettings = GroupingSettings()) -> list[Group]:
    result: list[Group] = []
    remaining = list(photos)
    # Each stage only sees photos no earlier stage took, so a photo is in at most one group.
    for kind in ("exact", "burst", "similar"):
        if kind == "exact":
            found = _exact_groups(remaining)
        elif kind == "burst":
            found = _burst_groups(remaining, settings)
        else:
            found = _similar_groups(remaining, settings)
        taken = {p.photo_id for g in found for p in g}
        remaining = [p for p in remaining if p.photo_id not in taken]
        result.extend(Group(kind, tuple(p.photo_id for p in sorted(g, key=_order))) for g in found)
    order = {p.photo_id: _order(p) for p in photos}
    return sorted(result, key=lambda g: order[g.members[0]])
