"""Technical quality and scene hashes measured on generated photos (and the shared sample photos when present)."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from PIL import Image

import imagegen as gen
from app.core.grouping import GroupingSettings
from app.core.quality import (
    ANALYSIS_SIZE,
    QualityThresholds,
    TechnicalQuality,
    faults,
    hamming,
    measure_quality,
    scene_hash,
)

BIG = (4800, 3200)  # full size of the photo the generated images stand in for, so size is no fault
SCENE_MAX = GroupingSettings().scene_max_distance


@pytest.fixture(scope="module")
def scenes() -> list[Image.Image]:
    return [gen.scene(seed) for seed in (1, 2, 3)]


def test_sharpness_falls_with_every_step_of_blur(scenes):
    for img in scenes:
        values = [measure_quality(gen.blurred(img, r), BIG).sharpness if r else measure_quality(img, BIG).sharpness
                  for r in (0, 0.5, 1, 2, 4)]
        assert values == sorted(values, reverse=True)
        assert values[0] > 10 * values[3]


def test_sharp_scene_is_fine_and_blurred_one_is_blurry(scenes):
    for img in scenes:
        assert faults(measure_quality(img, BIG)) == []
        assert "blurry" in faults(measure_quality(gen.blurred(img, 2), BIG))


def test_shallow_depth_of_field_is_not_called_blurry(scenes):
    for img in scenes:
        portrait = measure_quality(gen.shallow_dof(img, subject=0.3, radius=8), BIG)
        all_blurred = measure_quality(gen.blurred(img, 8), BIG)
        assert "blurry" not in faults(portrait)
        assert "blurry" in faults(all_blurred)


def test_noise_does_not_pass_for_detail(scenes):
    small = scenes[0].resize((ANALYSIS_SIZE, 683))
    q = measure_quality(gen.noisy(gen.blurred(small, 3), 8), BIG)
    assert "blurry" in faults(q)
    assert "noisy" in faults(q)


@pytest.mark.parametrize("sigma", [2.0, 5.0, 10.0])
def test_noise_estimate_matches_added_noise(scenes, sigma):
    # Independent noise per channel reaches luminance scaled by |(0.299, 0.587, 0.114)| = 0.669.
    added = sigma * 0.669
    flat = gen.noisy(Image.new("RGB", (ANALYSIS_SIZE, 683), (120, 120, 120)), sigma)
    assert measure_quality(flat, BIG).noise == pytest.approx(added, rel=0.1)
    clean = scenes[1].resize((ANALYSIS_SIZE, 683))
    grain = measure_quality(clean, BIG).noise  # the generator's own grain adds in quadrature
    textured = measure_quality(gen.noisy(clean, sigma), BIG).noise
    assert textured == pytest.approx(np.hypot(added, grain), rel=0.15)


def test_exposure_faults(scenes):
    img = scenes[0]
    normal = measure_quality(img, BIG)
    dark = measure_quality(gen.exposed(img, -3), BIG)
    blown = measure_quality(gen.exposed(img, 2), BIG)
    crushed = measure_quality(gen.black_point(img, 150), BIG)
    assert dark.brightness < normal.brightness < blown.brightness
    assert "too dark" in faults(dark)
    assert "blown highlights" in faults(blown) and blown.clipped_highlights > 0.1
    assert "crushed shadows" in faults(crushed) and crushed.crushed_shadows > 0.25
    assert normal.clipped_highlights < 0.01 and normal.crushed_shadows < 0.01


def test_low_resolution_is_judged_on_the_full_size_not_the_decode(scenes):
    decode = gen.downscaled(scenes[0], 0.5)
    assert "low resolution" not in faults(measure_quality(decode, BIG))
    assert "low resolution" in faults(measure_quality(decode, decode.size))


def test_values_compare_across_decode_sizes():
    large = gen.scene(4, size=(2400, 1600))
    at_analysis = large.resize((ANALYSIS_SIZE, 683), Image.Resampling.BILINEAR)
    a, b = measure_quality(large, BIG), measure_quality(at_analysis, BIG)
    assert a.sharpness == pytest.approx(b.sharpness, rel=0.25)
    assert a.brightness == pytest.approx(b.brightness, abs=0.01)
    assert (a.width, a.height) == BIG


def test_tiny_and_flat_images_do_not_break():
    q = measure_quality(Image.new("RGB", (2, 2), (255, 255, 255)), (2, 2))
    assert q.clipped_highlights == 1.0 and q.sharpness == 0.0
    flat = measure_quality(Image.new("RGB", (300, 200), (0, 0, 0)), (300, 200))
    assert flat.crushed_shadows == 1.0 and "too dark" in faults(flat)


def test_dict_round_trip_through_json(scenes):
    q = measure_quality(scenes[2], BIG)
    again = TechnicalQuality.from_dict(json.loads(json.dumps(q.to_dict())))
    assert again == q
    assert set(q.to_dict()) == {
        "sharpness", "clipped_highlights", "crushed_shadows", "brightness", "noise", "width", "height"
    }


def test_thresholds_change_the_verdict(scenes):
    q = measure_quality(gen.blurred(scenes[0], 1.5), BIG)
    assert "blurry" not in faults(q, QualityThresholds(blur=q.sharpness / 2))
    assert "blurry" in faults(q, QualityThresholds(blur=q.sharpness * 2))


def test_scene_hash_survives_exposure_blur_noise_and_small_shifts(scenes):
    for img in scenes:
        h = scene_hash(img)
        variants = [
            gen.exposed(img, -3), gen.exposed(img, -2), gen.exposed(img, 1), gen.exposed(img, 2),
            gen.blurred(img, 3), gen.noisy(img, 8), gen.downscaled(img, 0.25),
            gen.shifted(img, 12, -8), gen.shifted(img, -36, 24), gen.cropped(img, 0.95),
            gen.blurred(gen.exposed(img, -2), 2),
        ]
        distances = [hamming(h, scene_hash(v)) for v in variants]
        assert max(distances) <= SCENE_MAX, distances


def test_different_scenes_hash_apart():
    hashes = [scene_hash(gen.scene(seed, size=(600, 400))) for seed in range(10, 40)]
    closest = min(hamming(a, b) for a, b in itertools.combinations(hashes, 2))
    assert closest > SCENE_MAX


def test_hamming_reads_signed_storage_like_unsigned():
    h = (1 << 63) | 0b1011
    signed = h - (1 << 64)
    assert hamming(h, signed) == 0
    assert hamming(signed, 0b1000) == 3
    assert hamming(0, (1 << 64) - 1) == 64


PHOTOS = gen.sample_photos()


@pytest.mark.skipif(not PHOTOS, reason="no shared sample photos on this machine")
@pytest.mark.parametrize("path", PHOTOS[:4], ids=lambda p: p.stem)
def test_sample_photo(path):
    img = Image.open(path).convert("RGB")
    sharp = measure_quality(img, img.size)
    soft = measure_quality(gen.blurred(img, 4), img.size)
    assert faults(sharp) == []
    assert "blurry" in faults(soft) and soft.sharpness < sharp.sharpness
    h = scene_hash(img)
    assert hamming(h, scene_hash(gen.exposed(img, -2))) <= SCENE_MAX
    assert hamming(h, scene_hash(gen.shifted(img, 20, 10))) <= SCENE_MAX
    others = [scene_hash(Image.open(p)) for p in PHOTOS if p != path]
    assert min(hamming(h, o) for o in others) > SCENE_MAX
