"""Grouping of exact copies, bursts and similar shots, on hashes of generated photos and on constructed hashes."""

from __future__ import annotations

import itertools
from dataclasses import replace
import random

import numpy as np
import pytest

import imagegen as gen
from app.core.grouping import Group, GroupingSettings, PhotoFacts, _pairs_within, group_photos
from app.core.quality import hamming, scene_hash

SETTINGS = GroupingSettings()


def facts(photo_id: int, t: float | None, h: int | None, content: str | None = None, emb=None) -> PhotoFacts:
    return PhotoFacts(photo_id, content or f"file-{photo_id}", t, h, emb)


def flip(h: int, *bits: int) -> int:
    for b in bits:
        h ^= 1 << int(b)
    return h


def random_unit(rng: np.random.Generator, dim: int = 64) -> np.ndarray:
    v = rng.normal(size=dim)
    return v / np.linalg.norm(v)


@pytest.fixture(scope="module")
def hashes() -> dict[str, int]:
    """Scene hashes of generated frames: a burst of scene 1 with its flawed frames, and two other scenes."""
    one, two, three = gen.scene(1), gen.scene(2), gen.scene(3)
    frames = {
        "one": one,
        "one_shift": gen.shifted(one, 12, -8),
        "one_blur": gen.blurred(gen.shifted(one, -20, 6), 3),
        "one_dark": gen.exposed(gen.shifted(one, 5, 5), -2.5),
        "one_blown": gen.exposed(one, 1.5),
        "two": two,
        "two_shift": gen.shifted(two, -15, 10),
        "three": three,
    }
    return {name: scene_hash(img) for name, img in frames.items()}


def kinds(groups: list[Group]) -> dict[tuple[int, ...], str]:
    return {g.members: g.kind for g in groups}


def test_burst_of_one_scene_with_flawed_frames(hashes):
    names = ["one", "one_shift", "one_blur", "one_dark", "one_blown"]
    photos = [facts(i, 100.0 + 0.1 * i, hashes[n]) for i, n in enumerate(names)]
    assert group_photos(photos) == [Group("burst", (0, 1, 2, 3, 4))]


def test_interleaved_scenes_make_two_bursts(hashes):
    names = ["one", "two", "one_shift", "two_shift", "one_dark", "three"]
    photos = [facts(i, 0.1 * i, hashes[n]) for i, n in enumerate(names)]
    assert kinds(group_photos(photos)) == {(0, 2, 4): "burst", (1, 3): "burst"}


def test_different_scenes_are_not_grouped(hashes):
    photos = [facts(i, 0.1 * i, hashes[n]) for i, n in enumerate(["one", "two", "three"])]
    assert group_photos(photos) == []
    far = [facts(i, 3600.0 * i, hashes[n]) for i, n in enumerate(["one", "two", "three"])]
    assert group_photos(far) == []


def test_same_scene_hours_apart_is_similar_not_burst(hashes):
    photos = [facts(1, 0.0, hashes["one"]), facts(2, 7200.0, hashes["one_dark"]), facts(3, 9000.0, hashes["two"])]
    assert group_photos(photos) == [Group("similar", (1, 2))]


def test_burst_chains_in_time_but_a_long_gap_ends_it():
    h = 0x0F0F_F0F0_3C3C_C3C3
    photos = [facts(i, t, flip(h, i)) for i, t in enumerate([0.0, 1.5, 3.0, 4.5])]
    photos.append(facts(9, 7.0, flip(h, 9)))  # 2.5 s after the last frame
    assert kinds(group_photos(photos)) == {(0, 1, 2, 3): "burst"}


def test_burst_window_setting_is_honoured():
    h = 0x1234_5678_9ABC_DEF0
    photos = [facts(1, 0.0, h), facts(2, 1.5, flip(h, 3))]
    assert group_photos(photos, GroupingSettings(burst_window_s=1.0)) == [Group("similar", (1, 2))]


def test_exact_duplicates_group_first_whatever_their_times_and_hashes():
    photos = [
        facts(1, 0.0, 0xAAAA, content="same"),
        facts(2, 99999.0, None, content="same"),
        facts(3, None, None, content="same"),
        facts(4, 0.1, 0xAAAA),  # would be a burst with photo 1, but 1 is already an exact copy
    ]
    assert group_photos(photos) == [Group("exact", (1, 2, 3))]


def test_no_chaining_in_bursts():
    a = 0
    b = flip(a, *range(0, 8))  # 8 from A
    c = flip(b, *range(8, 16))  # 8 from B, 16 from A
    assert hamming(a, b) <= SETTINGS.scene_max_distance < hamming(a, c)
    groups = group_photos([facts(1, 0.0, a), facts(2, 0.1, b), facts(3, 0.2, c)])
    assert groups == [Group("burst", (1, 2))]


def test_no_chaining_in_similar_groups():
    a = 0
    b = flip(a, *range(0, 8))
    c = flip(b, *range(8, 16))
    assert hamming(a, b) <= SETTINGS.similar_max_distance < hamming(a, c)
    groups = group_photos([facts(1, 0.0, a), facts(2, 1000.0, b), facts(3, 2000.0, c)])
    assert groups == [Group("similar", (1, 2))]


def test_frames_of_one_framing_group_without_capture_times(hashes):
    # Blurred, re-exposed and shifted frames of scene one, no capture times: one group of similar
    # shots; the other scenes stay apart.
    names = ["one", "one_shift", "one_blur", "one_dark", "one_blown", "two", "three"]
    # As the library passes them: the blurred frame is out of focus, the others lose shadows or highlights.
    flawed = {"one_blur": {"spoiled": True}, "one_dark": {"exposure_fault": True},
              "one_blown": {"exposure_fault": True, "spoiled": True, "badly_exposed": True}}
    photos = [PhotoFacts(i, f"file-{i}", None, hashes[n], None, sequence=("shoot", i), **flawed.get(n, {}))
              for i, n in enumerate(names)]
    assert group_photos(photos) == [Group("similar", (0, 1, 2, 3, 4))]
    smeared = scene_hash(gen.motion_blurred(gen.scene(2), 15, 30))
    photos.append(PhotoFacts(9, "file-9", None, smeared, None, spoiled=True, sequence=("shoot", 9)))
    assert Group("similar", (5, 9)) in group_photos(photos)
    # Spoiled files far apart in their folder (or in another folder) are not taken for one framing;
    # the sound ones (the darker frame lost nothing) group on their hashes as before.
    far = [replace(p, sequence=("shoot", 100 * p.photo_id)) for p in photos]
    assert [g.members for g in group_photos(far)] == [(0, 1, 3)]


def test_a_badly_exposed_frame_joins_its_scene_at_the_exposure_allowance():
    h = 0x00FF_00FF_00FF_00FF
    near = flip(h, *range(6))
    far = flip(h, 0, 1, 2, *range(40, 51))  # 14 from both: beyond the scene distance, within the allowance
    assert hamming(h, far) == hamming(near, far) == 14
    plain = [replace(facts(i, None, x), sequence=("f", i)) for i, x in ((1, h), (2, near), (3, far))]
    blurred = PhotoFacts(3, "file-3", None, far, None, spoiled=True, sequence=("f", 3))  # no allowance: out
    assert group_photos(plain[:2] + [blurred]) == [Group("similar", (1, 2))]
    assert group_photos(plain) == [Group("similar", (1, 2))]
    dark = PhotoFacts(3, "file-3", None, far, None, exposure_fault=True, spoiled=True, badly_exposed=True,
                      sequence=("f", 3))
    assert group_photos(plain[:2] + [dark]) == [Group("similar", (1, 2, 3))]
    # Alone, it pairs with the nearest sound frame; too far from everything, it stays alone; two
    # spoiled frames are never paired (one of them would be kept).
    assert group_photos([dark, replace(plain[1], spoiled=True)]) == []
    assert group_photos([plain[0], dark]) == [Group("similar", (1, 3))]
    stranger = PhotoFacts(4, "file-4", None, flip(h, *range(20, 46)), None, exposure_fault=True, spoiled=True,
                          badly_exposed=True, sequence=("f", 4))
    assert group_photos(plain[:2] + [stranger]) == [Group("similar", (1, 2))]


def test_random_embeddings_change_nothing(hashes):
    rng = np.random.default_rng(7)
    names = ["one", "two", "one_shift", "two_shift", "one_dark", "three", "one_blown"]
    plain = [facts(i, 0.1 * i, hashes[n]) for i, n in enumerate(names)]
    noisy = [facts(i, 0.1 * i, hashes[n], emb=random_unit(rng)) for i, n in enumerate(names)]
    # A random-weight encoder puts every photo close together: it must not merge different scenes.
    same = random_unit(rng)
    crowded = [facts(i, 0.1 * i, hashes[n], emb=same) for i, n in enumerate(names)]
    expected = group_photos(plain)
    assert group_photos(noisy) == expected
    assert group_photos(crowded) == expected
    assert expected == [Group("burst", (0, 2, 4, 6)), Group("burst", (1, 3))]


def test_agreeing_embeddings_widen_a_burst_a_little():
    rng = np.random.default_rng(3)
    e = random_unit(rng)
    h = 0xDEAD_BEEF_0BAD_F00D
    near = flip(h, *range(14))  # beyond scene_max_distance, within the embedding allowance
    far = flip(h, *range(20))
    assert group_photos([facts(1, 0.0, h, emb=e), facts(2, 0.1, near, emb=e)]) == [Group("burst", (1, 2))]
    assert group_photos([facts(1, 0.0, h, emb=e), facts(2, 0.1, near, emb=random_unit(rng))]) == []
    assert group_photos([facts(1, 0.0, h, emb=e), facts(2, 0.1, near)]) == []
    assert group_photos([facts(1, 0.0, h, emb=e), facts(2, 0.1, far, emb=e)]) == []


def test_missing_time_or_hash():
    h = 0x5555_AAAA_5555_AAAA
    photos = [facts(1, None, h), facts(2, None, flip(h, 1, 2)), facts(3, 0.0, None), facts(4, 0.1, None)]
    assert group_photos(photos) == [Group("similar", (1, 2))]


def test_output_does_not_depend_on_input_order(hashes):
    rng = random.Random(5)
    photos = [facts(i, 0.1 * i, hashes[n]) for i, n in enumerate(sorted(hashes))]
    photos += [facts(100 + i, 5000.0 + i * 900, hashes[n]) for i, n in enumerate(sorted(hashes))]
    expected = group_photos(photos)
    for _ in range(5):
        rng.shuffle(photos)
        assert group_photos(photos) == expected


def test_hashes_stored_signed_group_the_same():
    h = (1 << 63) | 0x1234
    unsigned = [facts(1, 0.0, h), facts(2, 9000.0, flip(h, 5))]
    signed = [facts(1, 0.0, h - (1 << 64)), facts(2, 9000.0, flip(h, 5) - (1 << 64))]
    assert group_photos(unsigned) == group_photos(signed) == [Group("similar", (1, 2))]


def _clustered_library(n: int, seed: int) -> list[PhotoFacts]:
    """Scenes revisited with a few bits changed, shot in bursts, copied now and then."""
    rng = np.random.default_rng(seed)
    centres = [int(x) for x in rng.integers(0, 2**63, size=max(1, n // 6), dtype=np.int64)]
    photos, t = [], 0.0
    for i in range(n):
        t += float(rng.choice([0.2, 0.8, 3.0, 600.0]))
        h = flip(centres[int(rng.integers(len(centres)))], *rng.choice(64, size=int(rng.integers(0, 9)), replace=False))
        content = f"copy-{i - 1}" if i and rng.random() < 0.05 else f"copy-{i}"
        photos.append(facts(i, t, h, content=content))
    return photos


def test_groups_satisfy_every_rule_on_a_clustered_library():
    photos = _clustered_library(3000, seed=11)
    by_id = {p.photo_id: p for p in photos}
    groups = group_photos(photos)
    seen: set[int] = set()
    for g in groups:
        assert len(g.members) >= 2
        assert not seen & set(g.members)
        seen |= set(g.members)
        members = [by_id[i] for i in g.members]
        assert [(p.captured_at, p.photo_id) for p in members] == sorted((p.captured_at, p.photo_id) for p in members)
        if g.kind == "exact":
            assert len({p.content_hash for p in members}) == 1
            continue
        limit = SETTINGS.scene_max_distance if g.kind == "burst" else SETTINGS.similar_max_distance
        # Complete linkage: every pair alike, not just a chain of neighbours.
        assert all(hamming(a.scene_hash, b.scene_hash) <= limit for a, b in itertools.combinations(members, 2))
        if g.kind == "burst":
            gaps = np.diff([p.captured_at for p in members])
            assert (gaps <= SETTINGS.burst_window_s).all()
    assert {g.kind for g in groups} == {"exact", "burst", "similar"}


def test_hash_index_finds_exactly_the_pairs_brute_force_finds():
    rng = np.random.default_rng(2)
    centres = rng.integers(0, 2**63, size=40, dtype=np.int64).astype(np.uint64)
    values = {int(c) ^ sum(1 << int(b) for b in rng.choice(64, size=int(rng.integers(0, 12)), replace=False))
              for c in centres for _ in range(30)}
    hashes = np.array(sorted(values), dtype=np.uint64)
    xor = (hashes[:, None] ^ hashes[None, :]).reshape(-1, 1).view(np.uint8)
    distance = np.unpackbits(xor, axis=1).sum(axis=1).reshape(len(hashes), len(hashes))
    for radius in (0, 3, 6, 8, 12):
        expected = {(i, j) for i, j in zip(*np.nonzero(distance <= radius)) if i < j}
        assert set(_pairs_within(hashes, radius)) == expected


def test_a_hundred_thousand_photos_group_in_one_call():
    rng = np.random.default_rng(0)
    n = 100_000
    scenes = rng.integers(0, 2**63, size=n, dtype=np.int64)
    photos, t = [], 1.6e9
    for i in range(n):
        if i % 5:  # four more frames of each scene, 0.1 s apart, a bit or two changed
            h, t = flip(photos[-1].scene_hash, int(rng.integers(64))), t + 0.1
        else:
            h, t = int(scenes[i]), t + float(rng.uniform(5, 600))
        photos.append(facts(i, t, h, content=f"c{i - 1 if i % 1000 == 999 else i}"))
    # Every 7th scene is shot twice more, a day apart and a bit away: a similar pair beside the burst.
    revisited = range(0, n, 35)
    for k, i in enumerate(revisited):
        photos.append(facts(n + 2 * k, t + 1e6 + k * 100, flip(int(scenes[i]), 0)))
        photos.append(facts(n + 2 * k + 1, t + 2e6 + k * 100, flip(int(scenes[i]), 1)))
    groups = group_photos(photos)
    counts = {k: sum(g.kind == k for g in groups) for k in ("exact", "burst", "similar")}
    assert counts == {"exact": 100, "burst": n // 5, "similar": len(revisited)}
    assert sum(len(g.members) for g in groups) == len(photos)


@pytest.mark.skipif(not gen.REAL.is_dir(), reason="no shared real photos on this machine")
def test_real_pairs_and_a_real_bracket_group_without_times_and_apart_from_each_other():
    from app.core.decode import decode
    from app.core.quality import exposure_faults, faults, measure_quality

    files = [("blur_gopro_deepdeblur_pairs", n) for n in
             ("Flower_blur1.png", "Flower_sharp1.png", "Istanbul_blur1.png", "Istanbul_sharp1.png")]
    files += [("exposure_series_stlouis", n) for n in
              ("0_StLouisArchMultExpEV-4.72.jpeg", "1_StLouisArchMultExpEV-1.82.jpeg",
               "2_StLouisArchMultExpEV+1.18.jpeg", "3_StLouisArchMultExpEV+4.09.jpeg")]
    photos = []
    for i, (folder, name) in enumerate(files):
        d = decode(gen.REAL / folder / name)  # as the library reads it (large JPEGs at reduced size)
        img = d.image
        q = measure_quality(img, (d.width, d.height))
        lost = q.clipped_highlights + q.crushed_shadows
        photos.append(PhotoFacts(i, name, None, scene_hash(img), None, sequence=(folder, i),
                                 exposure_fault=bool(exposure_faults(q)) or lost >= 0.05,
                                 spoiled=bool(faults(q)), badly_exposed=bool(exposure_faults(q))))
    assert sorted(g.members for g in group_photos(photos)) == [(0, 1), (2, 3), (4, 5, 6, 7)]
