"""Near-duplicate groups of photos: exact copies, bursts shot seconds apart, and similar shots of one scene."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

_MAX_ACTIVE_BURSTS = 64  # bounds the work when thousands of photos share one timestamp (copied files' mtimes)
_MASK64 = (1 << 64) - 1


@dataclass(frozen=True)
class GroupingSettings:
    burst_window_s: float = 2.0  # max gap between consecutive frames of a burst
    # Scene hashes (tests/unit/test_grouping.py, test_quality.py): exposure, blur, noise and shifts of up
    # to 3% of the frame stay within 10 (14 for +2 EV with clipping); distinct scenes measured >= 16.
    scene_max_distance: int = 12
    embedding_min_cosine: float = 0.92  # further signal; only used when both have embeddings
    # Extra hash distance a burst frame may have when both embeddings agree. Bursts only: the library-wide
    # "similar" search is exact up to its hash radius, and widening it would cost far more than it finds.
    embedding_extra_distance: int = 4
    # Stricter because nothing but the picture ties two shots taken hours apart together; within 8 the
    # hash index stays exact and groups 100,000 photos in about 3 s. A blurred or badly exposed frame
    # may join at the burst distances (see _join_flawed): real tripod bracket frames lie 8-14 apart.
    similar_max_distance: int = 8
    # A frame 2.5 EV over the scene measured 16 from it (distinct scenes: >= 24 at the same size in
    # tests/integration/test_curation.py, >= 16 over 300 generated scenes); only with an exposure
    # fault, and only inside the burst window or (spoiled by its exposure) among neighbouring files.
    exposure_extra_distance: int = 6


@dataclass(frozen=True)
class PhotoFacts:
    photo_id: int
    content_hash: str | None
    captured_at: float | None  # epoch seconds with sub-second fraction
    scene_hash: int | None
    embedding: np.ndarray | None  # L2-normalised, or None
    # Badly exposed (blown or crushed): clipping wipes out detail the hash sees, so within a burst
    # such a frame may lie a little further from its scene.
    exposure_fault: bool = False
    # Spoiled on its own (out of focus, smeared, nearly black or white, highlights lost over a large
    # area): the hash moves with it, the frame is a cull candidate anyway and cannot be the keeper of a
    # group it joins, so it may join its scene at the burst distance without times (see _join_flawed).
    spoiled: bool = False
    # Where the file lies among its folder's files in name order (folder, position): frames of one
    # framing are files shot one after another, which is what lets a flawed frame join them without
    # capture times. None: no such join.
    sequence: tuple[str, int] | None = None
    # Spoiled by its exposure (nearly black or white, highlights lost over a large area): its hash moves
    # most, so it may join its scene at the exposure allowance.
    badly_exposed: bool = False


@dataclass(frozen=True)
class Group:
    kind: str  # "exact" | "burst" | "similar"
    members: tuple[int, ...]  # photo ids, sorted by captured_at then id


def _order(p: PhotoFacts) -> tuple[bool, float, int]:
    # Photos without a capture time go last rather than being compared as time zero.
    return (p.captured_at is None, p.captured_at or 0.0, p.photo_id)


def _hash64(p: PhotoFacts) -> int:
    # Unsigned view, so hashes stored as signed 64-bit integers (SQLite) or numpy ints compare the same.
    return int(p.scene_hash or 0) & _MASK64


def _cosine_agrees(a: PhotoFacts, b: PhotoFacts, settings: GroupingSettings) -> bool:
    if a.embedding is None or b.embedding is None:
        return False
    return float(np.dot(a.embedding, b.embedding)) >= settings.embedding_min_cosine


def _exact_groups(photos: Sequence[PhotoFacts]) -> list[list[PhotoFacts]]:
    by_hash: dict[str, list[PhotoFacts]] = defaultdict(list)
    for p in photos:
        if p.content_hash is not None:
            by_hash[p.content_hash].append(p)
    return [members for members in by_hash.values() if len(members) > 1]


class _Burst:
    """A growing burst; frames are kept per distinct scene hash so a run of identical frames is checked once."""

    def __init__(self, first: PhotoFacts) -> None:
        self.frames = [first]
        self.last: float = first.captured_at or 0.0
        self.key: int = _hash64(first)
        self.by_hash: dict[int, list[PhotoFacts]] = {self.key: [first]}

    def worst_distance(self, p: PhotoFacts, settings: GroupingSettings) -> int | None:
        """Largest distance from `p` to a frame, or None unless `p` is alike to every frame (complete linkage)."""
        h = _hash64(p)
        worst = 0
        for value, frames in self.by_hash.items():
            d = (h ^ value).bit_count()
            if d > settings.scene_max_distance:
                if (p.exposure_fault or all(f.exposure_fault for f in frames)) and \
                        d <= settings.scene_max_distance + settings.exposure_extra_distance:
                    worst = max(worst, d)
                    continue
                # Embeddings only ever widen the match a little: a random-weight encoder must not decide alone.
                if d > settings.scene_max_distance + settings.embedding_extra_distance:
                    return None
                if not all(_cosine_agrees(p, f, settings) for f in frames):
                    return None
            worst = max(worst, d)
        return worst

    def add(self, p: PhotoFacts) -> None:
        self.frames.append(p)
        self.last = p.captured_at or 0.0
        self.by_hash.setdefault(_hash64(p), []).append(p)


def _burst_groups(photos: Sequence[PhotoFacts], settings: GroupingSettings) -> list[list[PhotoFacts]]:
    timed = sorted((p for p in photos if p.captured_at is not None and p.scene_hash is not None), key=_order)
    bursts: list[_Burst] = []
    active: list[_Burst] = []  # bursts whose last frame is within the window, least recently extended first
    for p in timed:
        t = p.captured_at or 0.0
        active = [b for b in active[-_MAX_ACTIVE_BURSTS:] if t - b.last <= settings.burst_window_s]
        h = _hash64(p)
        limit = settings.scene_max_distance + max(settings.embedding_extra_distance,
                                                  settings.exposure_extra_distance)
        best: _Burst | None = None
        best_worst = 0
        # Most recent first, so ties go to the burst just extended; the cheap test against each
        # burst's first frame skips most bursts (that frame must be alike too).
        for b in [b for b in reversed(active) if (h ^ b.key).bit_count() <= limit]:
            worst = b.worst_distance(p, settings)
            if worst is not None and (best is None or worst < best_worst):
                best, best_worst = b, worst
        if best is None:
            best = _Burst(p)
            bursts.append(best)
        else:
            best.add(p)
            active.remove(best)
        active.append(best)
    return [b.frames for b in bursts if len(b.frames) > 1]


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
    found: list[np.ndarray] = []
    for start, width in _band_layout(radius):
        keys = ((hashes >> np.uint64(start)) & np.uint64((1 << width) - 1)).astype(np.int64)
        # Counting sort: bands are at most 16 bits wide, so bucket offsets are one bincount away.
        order = np.argsort(keys, kind="stable")
        sizes = np.bincount(keys, minlength=1 << width)
        starts = np.cumsum(sizes) - sizes
        for flip in [0] + [1 << b for b in range(width)]:
            if flip == 0:
                # Same bucket: pair each member with those after it in the bucket.
                rank = np.empty(n, dtype=np.int64)
                rank[order] = np.arange(n) - starts[keys[order]]
                left = np.arange(n)
                counts = sizes[keys] - rank - 1
                first = starts[keys] + rank + 1
            else:
                # Only from the side with the bit clear, so each unordered pair is produced once.
                left = np.flatnonzero((keys & flip) == 0)
                counts = sizes[keys[left] ^ flip]
                first = starts[keys[left] ^ flip]
            total = int(counts.sum())
            if total == 0:
                continue
            offsets = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
            i = np.repeat(left, counts)
            j = order[np.repeat(first, counts) + offsets]
            close = _popcount(hashes[i] ^ hashes[j]) <= radius
            i, j = i[close], j[close]
            found.append(np.minimum(i, j) * n + np.maximum(i, j))
    if not found:
        return
    for code in np.unique(np.concatenate(found)).tolist():
        yield code // n, code % n


def _similar_groups(photos: Sequence[PhotoFacts], settings: GroupingSettings) -> list[list[PhotoFacts]]:
    # Spoiled frames join afterwards (_join_flawed): here they could claim a sound frame of their scene
    # before its sound siblings do, and split the scene.
    hashed = sorted((p for p in photos if p.scene_hash is not None and not p.spoiled), key=_order)
    values = sorted({_hash64(p) for p in hashed})
    # Photos with the same hash are trivially alike, so pairs are found between distinct hashes only.
    value_index = {v: i for i, v in enumerate(values)}
    near: dict[int, set[int]] = defaultdict(set)
    for i, j in _pairs_within(np.array(values, dtype=np.uint64), settings.similar_max_distance):
        near[i].add(j)
        near[j].add(i)
    photos_of: dict[int, list[PhotoFacts]] = defaultdict(list)
    for p in hashed:
        photos_of[value_index[_hash64(p)]].append(p)

    assigned: set[int] = set()
    groups: list[list[PhotoFacts]] = []
    for p in hashed:
        v = value_index[_hash64(p)]
        if p.photo_id in assigned or (len(photos_of[v]) < 2 and not near[v]):
            continue
        candidates = [q for u in {v} | near[v] for q in photos_of[u] if q.photo_id not in assigned and q is not p]
        group, group_values = [p], {v}
        for q in sorted(candidates, key=_order):
            u = value_index[_hash64(q)]
            # Complete linkage, so A~B and B~C never pull an unlike A and C together.
            if all(u == w or w in near[u] for w in group_values):
                group.append(q)
                group_values.add(u)
        if len(group) > 1:
            groups.append(group)
            assigned.update(q.photo_id for q in group)
    return groups


NEAR_FILES = 12  # how many files before or after a flawed frame in its folder are looked at for its scene


def _join_flawed(groups: list[tuple[str, list[PhotoFacts]]], remaining: Sequence[PhotoFacts],
                 settings: GroupingSettings) -> None:
    """Spoiled frames (blurred, badly exposed) left alone join their scene without capture times: the
    group all of whose frames they are near, or the nearest lone sound frame, at the burst distance (with
    the exposure allowance for a frame spoiled by its exposure: a bracket's -4.7 EV frame lies 14 from its
    +4.1 EV sibling). Only files shot around it (NEAR_FILES either side in its folder's name order) are
    looked at: across a whole library a 64-bit hash lies within 14 of some unrelated photo's by chance,
    among a dozen neighbours it rarely does. Two spoiled frames are never paired (one would be kept and
    so escape the blur and exposure rules), and a spoiled frame never becomes the keeper of a group with
    a sound frame (bestpick ranks faults of a frame's own first), so only it can be culled for joining."""
    flawed = [p for p in remaining if p.spoiled and p.scene_hash is not None and p.sequence is not None]
    if not flawed:
        return
    group_of: dict[int, int] = {q.photo_id: gi for gi, (_k, g) in enumerate(groups) for q in g}
    by_place: dict[tuple[str, int], PhotoFacts] = {}
    for _k, g in groups:
        by_place.update({q.sequence: q for q in g if q.sequence is not None})
    by_place.update({q.sequence: q for q in remaining if q.sequence is not None and q.scene_hash is not None})
    for p in flawed:
        limit = settings.scene_max_distance + (settings.exposure_extra_distance if p.badly_exposed else 0)
        h = _hash64(p)
        folder, at = p.sequence
        near = [by_place[(folder, i)] for i in range(at - NEAR_FILES, at + NEAR_FILES + 1)
                if i != at and (folder, i) in by_place]
        best: tuple[int, int | None, PhotoFacts | None] = (limit + 1, None, None)
        for gi in {group_of[q.photo_id] for q in near if q.photo_id in group_of}:
            members = groups[gi][1]
            if all(q.spoiled for q in members):
                continue
            worst = max((h ^ _hash64(q)).bit_count() for q in members)  # complete linkage
            if worst < best[0]:
                best = (worst, gi, None)
        for q in near:
            if q.photo_id not in group_of and not q.spoiled:
                d = (h ^ _hash64(q)).bit_count()
                if d < best[0]:
                    best = (d, None, q)
        worst, gi, pair = best
        if worst > limit:
            continue
        if pair is not None:
            groups.append(("similar", [pair, p]))
            gi = len(groups) - 1
            group_of[pair.photo_id] = gi
        else:
            groups[gi][1].append(p)
        group_of[p.photo_id] = gi


def group_photos(photos: Sequence[PhotoFacts], settings: GroupingSettings = GroupingSettings()) -> list[Group]:
    found_all: list[tuple[str, list[PhotoFacts]]] = []
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
        found_all.extend((kind, list(g)) for g in found)
    alike = [(k, g) for k, g in found_all if k != "exact"]  # exact copies share their bytes: none join them
    _join_flawed(alike, remaining, settings)
    found_all = [(k, g) for k, g in found_all if k == "exact"] + alike
    result = [Group(kind, tuple(p.photo_id for p in sorted(g, key=_order))) for kind, g in found_all]
    order = {p.photo_id: _order(p) for p in photos}
    return sorted(result, key=lambda g: order[g.members[0]])
