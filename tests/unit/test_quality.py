"""Technical quality and scene hashes, measured on generated photos and, where ../shared is present,
on real labelled photos (blurred/sharp pairs, a tripod bracket, a real camera shake) and the sample photos."""

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
    relative_focus,
    scene_hash,
)

BIG = (4800, 3200)  # full size of the photo the generated images stand in for
SCENE_MAX = GroupingSettings().scene_max_distance
T = QualityThresholds()


def texts(q: TechnicalQuality) -> list[str]:
    return [f.text for f in faults(q)]


def rules(q: TechnicalQuality) -> set[str]:
    return {f.rule for f in faults(q)}


@pytest.fixture(scope="module")
def scenes() -> list[Image.Image]:
    return [gen.scene(seed) for seed in (1, 2, 3)]


# --- focus -------------------------------------------------------------------------------------

def test_focus_falls_with_every_step_of_blur(scenes):
    for img in scenes:
        values = [measure_quality(gen.blurred(img, r) if r else img, BIG).focus for r in (0, 0.5, 1, 2, 4)]
        assert values == sorted(values, reverse=True)
        assert values[0] > 10 * values[3]


def test_a_one_pixel_blur_measures_under_six_tenths_of_the_sharp_frame(scenes):
    for img in scenes:
        sharp = measure_quality(img, BIG)
        soft = measure_quality(gen.blurred(img, 1), BIG)
        assert relative_focus(sharp, soft) < 0.6
        assert soft.focus < 0.6 * sharp.focus


def test_focus_does_not_change_with_exposure(scenes):
    # Same focus, exposures from two stops under to one over: within 15% of each other on the tiles
    # both frames can judge (a frame's clipped highlights are left out of the comparison).
    for img in scenes:
        frames = [measure_quality(gen.exposed(img, ev) if ev else img, BIG) for ev in (-2, -1, 0, 1)]
        for a, b in itertools.combinations(frames, 2):
            share = relative_focus(a, b)
            assert share is not None and 0.85 <= share <= 1 / 0.85, (a.brightness, b.brightness, share)


def test_frames_of_another_shape_are_not_compared_tile_by_tile(scenes):
    wide = measure_quality(scenes[0], BIG)
    square = measure_quality(gen.cropped(scenes[0], 1.0).crop((0, 0, 800, 800)), (3200, 3200))
    assert relative_focus(wide, square) is None


def test_fog_haze_and_low_contrast_are_not_blur(scenes):
    for img in scenes:
        sharp = measure_quality(img, BIG)
        for hazy in (gen.fogged(img, 0.6), gen.fogged(img, 0.8, level=128)):
            q = measure_quality(hazy, BIG)
            assert "blur" not in rules(q)
            assert relative_focus(sharp, q) > 0.8


def test_a_sharp_subject_on_a_blurred_background_is_sharp(scenes):
    for img in scenes:
        portrait = measure_quality(gen.shallow_dof(img, subject=0.3, radius=8), BIG)
        all_blurred = measure_quality(gen.blurred(img, 8), BIG)
        assert "blur" not in rules(portrait)
        assert texts(all_blurred) == ["out of focus"]


def test_out_of_focus_over_the_whole_frame_is_a_fault_alone(scenes):
    for img in scenes:
        assert faults(measure_quality(img, BIG)) == []
        q = measure_quality(gen.blurred(img, 4), BIG)
        assert texts(q) == ["out of focus"] and q.blur_px >= T.out_of_focus_px


@pytest.mark.parametrize("angle", [0, 30, 90, 135])
def test_motion_blur_is_found_and_named_apart_from_defocus(scenes, angle):
    for img in scenes:  # a 19 px smear on a 1200 px frame: 16 px on a 1024 px screen
        q = measure_quality(gen.motion_blurred(img, 19, angle), BIG)
        assert texts(q) == ["motion blur"], (angle, q.motion_px, q.motion_ratio)
        # the smear's direction is measured (to the nearest of eight directions)
        assert min(abs(q.motion_angle - angle) % 180, 180 - abs(q.motion_angle - angle) % 180) <= 23
    # an even blur is not called motion blur
    assert "motion blur" not in texts(measure_quality(gen.blurred(scenes[0], 4), BIG))


def test_noise_does_not_pass_for_detail(scenes):
    small = scenes[0].resize((ANALYSIS_SIZE, 683))
    clean = measure_quality(small, BIG)
    q = measure_quality(gen.noisy(gen.blurred(small, 3), 8), BIG)
    assert q.noise > 3.0
    # Grain is subtracted before focus is measured: the blurred, grainy frame stays far softer.
    assert relative_focus(clean, q) < 0.2 and q.blur_px > 3 * clean.blur_px


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


# --- exposure ----------------------------------------------------------------------------------

def test_exposure_is_judged_by_what_is_lost(scenes):
    img = scenes[0]
    normal = measure_quality(img, BIG)
    blown = measure_quality(gen.exposed(img, 2.5), BIG)
    black = measure_quality(gen.exposed(img, -10), BIG)
    assert faults(normal) == [] and normal.clipped_highlights < 0.01 and normal.crushed_shadows < 0.01
    assert blown.clipped_highlights > T.lost_highlights
    assert texts(blown) == [f"highlights lost on {round(blown.clipped_highlights * 100)}% of the frame"]
    assert texts(black) == ["nearly black"]


def test_low_key_and_high_key_photos_with_intact_tones_are_fine(scenes):
    # Dark and bright on purpose, shadows and highlights intact: a mean far from grey is no fault.
    low_key = measure_quality(gen.exposed(scenes[1], -2.5), BIG)
    high_key = measure_quality(gen.fogged(scenes[1], 0.7, level=235), BIG)
    assert low_key.brightness < 0.25 and high_key.brightness > 0.75
    assert faults(low_key) == [] and faults(high_key) == []


def test_an_overcast_grey_sky_is_not_blown():
    # A flat light-grey sky over a darker landscape: bright, detailless, but not clipped.
    sky = np.full((800, 1200, 3), 228, np.uint8)
    sky[500:] = np.asarray(gen.scene(4, (1200, 300)))
    q = measure_quality(Image.fromarray(sky), BIG)
    assert q.clipped_highlights == 0.0 and "exposure" not in rules(q)


def test_a_lamp_or_a_glint_is_not_lost_highlights(scenes):
    img = np.asarray(scenes[2]).copy()
    for x, y in ((100, 100), (600, 300), (900, 650)):
        img[y:y + 5, x:x + 5] = 255  # small specular points
    assert measure_quality(Image.fromarray(img), BIG).clipped_highlights == 0.0


def test_resolution_is_shown_never_a_fault(scenes):
    small = gen.downscaled(scenes[0], 0.4)
    q = measure_quality(small, small.size)
    assert q.megapixels < 1.0 and faults(q) == []


def test_values_compare_across_decode_sizes():
    large = gen.scene(4, size=(2400, 1600))
    at_analysis = large.resize((ANALYSIS_SIZE, 683), Image.Resampling.BILINEAR)
    a, b = measure_quality(large, BIG), measure_quality(at_analysis, BIG)
    assert a.focus == pytest.approx(b.focus, rel=0.25)
    assert a.brightness == pytest.approx(b.brightness, abs=0.01)
    assert (a.width, a.height) == BIG


def test_tiny_and_flat_images_do_not_break():
    q = measure_quality(Image.new("RGB", (2, 2), (255, 255, 255)), (2, 2))
    assert q.clipped_highlights == 1.0 and q.focus == 0.0 and q.blur_px is None
    assert texts(q) == ["nearly white"]
    flat = measure_quality(Image.new("RGB", (300, 200), (0, 0, 0)), (300, 200))
    assert flat.crushed_shadows == 1.0 and texts(flat) == ["nearly black"]
    grey = measure_quality(Image.new("RGB", (300, 200), (128, 128, 128)), (300, 200))
    assert grey.blur_px is None and faults(grey) == []  # nothing to judge focus on: no verdict


def test_dict_round_trip_through_json(scenes):
    q = measure_quality(scenes[2], BIG)
    again = TechnicalQuality.from_dict(json.loads(json.dumps(q.to_dict())))
    assert again == q and again.focus_tiles == q.focus_tiles
    assert relative_focus(q, again) == pytest.approx(1.0)


def test_thresholds_change_the_verdict(scenes):
    q = measure_quality(gen.blurred(scenes[0], 1.5), BIG)
    assert "out of focus" not in texts(q) or q.blur_px >= T.out_of_focus_px
    assert [f.text for f in faults(q, QualityThresholds(out_of_focus_px=q.blur_px / 2))] == ["out of focus"]
    assert faults(q, QualityThresholds(out_of_focus_px=q.blur_px * 2)) == []


# --- scene hash --------------------------------------------------------------------------------

def test_scene_hash_survives_exposure_blur_noise_and_small_shifts(scenes):
    for img in scenes:
        h = scene_hash(img)
        variants = [
            gen.exposed(img, -3), gen.exposed(img, -2), gen.exposed(img, 1), gen.exposed(img, 2),
            gen.blurred(img, 3), gen.noisy(img, 8), gen.downscaled(img, 0.25),
            gen.shifted(img, 12, -8), gen.shifted(img, -36, 24), gen.cropped(img, 0.95),
            gen.blurred(gen.exposed(img, -2), 2), gen.motion_blurred(img, 15, 30),
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


# --- real photos (../shared/real and ../shared/photos, when present) ----------------------------

PHOTOS = gen.sample_photos()
needs_real = pytest.mark.skipif(not gen.REAL.is_dir(), reason="no shared real photos on this machine")
real = gen.real_quality


@needs_real
@pytest.mark.parametrize("scene", ["Flower", "Istanbul"])
def test_real_blurred_frames_measure_softer_than_their_sharp_sibling(scene):
    sharp = real("blur_gopro_deepdeblur_pairs", f"{scene}_sharp1.png")
    blurred = real("blur_gopro_deepdeblur_pairs", f"{scene}_blur1.png")
    assert faults(sharp) == []
    assert relative_focus(sharp, blurred) < 0.55


@needs_real
def test_a_real_camera_shake_is_motion_blur():
    assert texts(real("pkg_skimage_photos", "clock_motion.png")) == ["motion blur"]


@needs_real
@pytest.mark.parametrize("name", ["astronaut.png", "camera.png", "chelsea.png", "coffee.png", "coins.png",
                                  "moon.png", "rocket.jpg", "text.png", "page.png", "gravel.png"])
def test_real_sharp_small_photos_have_no_fault(name):
    # Small (under 0.5 MP), low contrast (the moon), textures and text: none is a fault alone.
    assert faults(real("pkg_skimage_photos", name)) == []


@needs_real
def test_a_real_bracket_loses_shadows_then_highlights_and_keeps_its_focus():
    names = ["0_StLouisArchMultExpEV-4.72.jpeg", "1_StLouisArchMultExpEV-1.82.jpeg",
             "2_StLouisArchMultExpEV+1.18.jpeg", "3_StLouisArchMultExpEV+4.09.jpeg"]
    q = [real("exposure_series_stlouis", n) for n in names]
    assert texts(q[0]) == ["nearly black"]
    assert q[1].crushed_shadows > 0.3 and faults(q[1]) == []  # a dark night scene alone is no fault
    assert faults(q[2]) == []
    assert rules(q[3]) == {"exposure"} and "highlights lost" in texts(q[3])[0]
    for a, b in itertools.combinations(q[1:], 2):  # same tripod, same focus
        share = relative_focus(a, b)
        assert share is None or 0.7 <= share <= 1 / 0.7


@needs_real
def test_real_overexposed_photos_say_how_much_is_lost():
    q = real("exposure_afifi_examples", "a3354-MB_070908_069_P1.5.JPG")
    assert texts(q) == [f"highlights lost on {round(q.clipped_highlights * 100)}% of the frame"]
    assert q.clipped_highlights > 0.3


@pytest.mark.skipif(not PHOTOS, reason="no shared sample photos on this machine")
@pytest.mark.parametrize("path", PHOTOS[:4], ids=lambda p: p.stem)
def test_sample_photo(path):
    img = Image.open(path).convert("RGB")
    sharp = measure_quality(img, img.size)
    soft = measure_quality(gen.blurred(img, 5), img.size)
    assert faults(sharp) == []
    assert "out of focus" in texts(soft) and relative_focus(sharp, soft) < 0.4
    assert relative_focus(sharp, measure_quality(gen.blurred(img, 1), img.size)) < 0.6
    for ev in (-2, -1):
        assert 0.8 <= relative_focus(sharp, measure_quality(gen.exposed(img, ev), img.size)) <= 1.25
    h = scene_hash(img)
    assert hamming(h, scene_hash(gen.exposed(img, -2))) <= SCENE_MAX
    assert hamming(h, scene_hash(gen.shifted(img, 20, 10))) <= SCENE_MAX
    others = [scene_hash(Image.open(p)) for p in PHOTOS if p != path]
    assert min(hamming(h, o) for o in others) > SCENE_MAX
