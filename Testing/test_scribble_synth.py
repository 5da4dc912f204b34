"""Synthetic free-form scribbles: inside their organ, dense/sparse slice coverage, shape, tiny organs, speed."""

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy import ndimage

from CrossMRLib.errors import InputError
from CrossMRLib.scribbles.synth import (StrokeStyle, stroke_in_mask, synthesize_background_scribbles,
                                        synthesize_scribbles)

CHAOS = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "chaos_t2spir"
SPACING = (1.25, 1.25)


def ellipsoids(shape=(24, 128, 128)) -> np.ndarray:
    """Four ellipsoid organs; the kidneys and spleen taper to a few pixels at their poles."""
    z, y, x = np.ogrid[: shape[0], : shape[1], : shape[2]]
    labels = np.zeros(shape, np.uint8)
    k, s = shape[0] / 24, shape[1] / 128
    organs = {1: (12, 55, 45, 9, 35, 30), 2: (13.3, 80, 28, 5.5, 12, 9), 3: (13.3, 80, 96, 5.5, 12, 9),
              4: (10, 50, 100, 6, 17, 12)}
    for label, (cz, cy, cx, rz, ry, rx) in organs.items():
        inside = (((z - cz * k) / (rz * k)) ** 2 + ((y - cy * s) / (ry * s)) ** 2
                  + ((x - cx * s) / (rx * s)) ** 2) < 1
        labels[inside] = label
    return labels


def organ_slices(labels: np.ndarray, label: int) -> set[int]:
    return set(np.flatnonzero((labels == label).any(axis=(1, 2))).tolist())


def disc(radius: float, shape=(101, 101)) -> np.ndarray:
    y, x = np.ogrid[: shape[0], : shape[1]]
    return (y - shape[0] // 2) ** 2 + (x - shape[1] // 2) ** 2 <= radius ** 2


@pytest.mark.parametrize("mode", ["dense", "sparse"])
def test_every_scribble_voxel_lies_in_its_own_organ(mode):
    labels = ellipsoids()
    for seed in range(5):
        scribbles = synthesize_scribbles(labels, mode, np.random.default_rng(seed), max_slices=3, spacing=SPACING)
        assert scribbles.dtype == np.uint8 and scribbles.shape == labels.shape
        drawn = scribbles > 0
        assert drawn.any()
        assert np.array_equal(labels[drawn], scribbles[drawn])


def test_dense_covers_every_slice_holding_the_organ():
    labels = ellipsoids()
    scribbles = synthesize_scribbles(labels, "dense", np.random.default_rng(0), spacing=SPACING)
    for label in (1, 2, 3, 4):
        assert organ_slices(scribbles, label) == organ_slices(labels, label)
    # the pole slices hold only a handful of pixels and still get a scribble
    smallest = min((labels[k] == 2).sum() for k in organ_slices(labels, 2))
    assert smallest < 40


def test_sparse_touches_one_to_max_slices_per_organ():
    labels = ellipsoids()
    for max_slices in (1, 2, 4):
        counts = set()
        for seed in range(12):
            scribbles = synthesize_scribbles(labels, "sparse", np.random.default_rng(seed), max_slices=max_slices,
                                             spacing=SPACING)
            for label in (1, 2, 3, 4):
                touched = organ_slices(scribbles, label)
                assert 1 <= len(touched) <= max_slices
                assert touched <= organ_slices(labels, label)
                counts.add(len(touched))
        assert counts == set(range(1, max_slices + 1))  # the count itself is random in 1..max_slices


def test_sparse_prefers_the_central_large_slices():
    labels = ellipsoids()
    areas = (labels == 1).sum(axis=(1, 2))
    chosen = []
    for seed in range(200):
        scribbles = synthesize_scribbles(labels, "sparse", np.random.default_rng(seed), organs=(1,), spacing=SPACING)
        chosen.append(areas[next(iter(organ_slices(scribbles, 1)))])
    # a uniform choice would average 0.73 of the largest area (+- 0.02); area-weighted choice is near 0.88
    assert np.mean(chosen) > 0.8 * areas.max()


def test_same_seed_same_scribbles_and_other_seed_differs():
    labels = ellipsoids()
    a = synthesize_scribbles(labels, "dense", np.random.default_rng(7), spacing=SPACING)
    b = synthesize_scribbles(labels, "dense", np.random.default_rng(7), spacing=SPACING)
    c = synthesize_scribbles(labels, "dense", np.random.default_rng(8), spacing=SPACING)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    s1 = synthesize_scribbles(labels, "sparse", np.random.default_rng(3), max_slices=3, spacing=SPACING)
    s2 = synthesize_scribbles(labels, "sparse", np.random.default_rng(3), max_slices=3, spacing=SPACING)
    assert np.array_equal(s1, s2)


def test_strokes_are_elongated_lines_not_dots():
    organ = disc(40)  # 80 mm wide at 1 mm spacing
    for seed in range(10):
        stroke = stroke_in_mask(organ, np.random.default_rng(seed))
        pixels = np.argwhere(stroke)
        assert len(pixels) > 40
        assert ndimage.label(stroke)[1] == 1  # one connected stroke
        extent = max(np.ptp(pixels[:, 0]), np.ptp(pixels[:, 1])) + 1
        assert extent >= 12  # at least one 6 mm segment beyond the brush width
        assert extent > 1.8 * len(pixels) / extent  # longer than its mean thickness


def test_strokes_keep_off_the_organ_boundary():
    organ = disc(30)
    eroded = ndimage.binary_erosion(organ, iterations=2)
    for seed in range(10):
        stroke = stroke_in_mask(organ, np.random.default_rng(seed))
        assert stroke.any() and not (stroke & ~eroded).any()


def test_stroke_size_is_set_in_millimetres():
    # The same 60 mm organ at 1 mm and at 0.5 mm pixels: similar stroke areas in mm^2.
    def mean_area_mm2(radius_px: float, pixel_mm: float) -> float:
        organ = disc(radius_px, (int(2 * radius_px) + 11,) * 2)
        areas = [stroke_in_mask(organ, np.random.default_rng(s), (pixel_mm, pixel_mm)).sum() * pixel_mm ** 2
                 for s in range(12)]
        return float(np.mean(areas))

    coarse, fine = mean_area_mm2(30, 1.0), mean_area_mm2(60, 0.5)
    assert 0.6 < fine / coarse < 1.6


def test_style_controls_width():
    organ = disc(40)
    thin = StrokeStyle(radius_mm=(0.5, 0.5), segments=(3, 3), segment_mm=(15, 15))
    thick = StrokeStyle(radius_mm=(3.5, 3.5), segments=(3, 3), segment_mm=(15, 15))
    assert (stroke_in_mask(organ, np.random.default_rng(0), style=thick).sum()
            > 3 * stroke_in_mask(organ, np.random.default_rng(0), style=thin).sum())


@pytest.mark.parametrize("pixels", [[(5, 5)], [(5, 5), (5, 6)], [(5, 5), (6, 6)], [(5, 5), (6, 5), (6, 6)]])
def test_tiny_organs_still_get_a_scribble_pixel(pixels):
    mask = np.zeros((12, 12), bool)
    for p in pixels:
        mask[p] = True
    for seed in range(5):
        stroke = stroke_in_mask(mask, np.random.default_rng(seed), spacing=SPACING)
        assert stroke.any() and not (stroke & ~mask).any()
    labels = mask[None].astype(np.uint8) * 3
    scribbles = synthesize_scribbles(labels, "dense", np.random.default_rng(0), spacing=SPACING)
    assert (scribbles == 3).any() and np.array_equal(labels[scribbles > 0], scribbles[scribbles > 0])


def test_thin_organ_and_organ_at_the_image_border():
    line = np.zeros((20, 40), bool)
    line[10, 5:35] = True
    corner = np.zeros((20, 40), bool)
    corner[:6, :8] = True
    for mask in (line, corner):
        stroke = stroke_in_mask(mask, np.random.default_rng(1))
        assert stroke.any() and not (stroke & ~mask).any()
    assert not stroke_in_mask(np.zeros((5, 5), bool), np.random.default_rng(0)).any()


@st.composite
def blob_masks(draw):
    shape = (draw(st.integers(4, 64)), draw(st.integers(4, 64)))
    seed = draw(st.integers(0, 2 ** 31))
    noise = np.random.default_rng(seed).random(shape)
    smooth = ndimage.gaussian_filter(noise, sigma=draw(st.floats(0.5, 4.0)))
    mask = smooth > np.quantile(smooth, draw(st.floats(0.3, 0.999)))
    spacing = (draw(st.floats(0.4, 4.0)), draw(st.floats(0.4, 4.0)))
    return mask, spacing, seed


@settings(max_examples=30, deadline=None)
@given(blob_masks())
def test_property_strokes_stay_inside_random_blobs(case):
    mask, spacing, seed = case
    stroke = stroke_in_mask(mask, np.random.default_rng(seed), spacing)
    assert stroke.shape == mask.shape and stroke.dtype == bool
    assert not (stroke & ~mask).any()
    assert stroke.any() == mask.any()


def test_invalid_arguments_raise_clear_errors():
    labels = ellipsoids((4, 32, 32))
    with pytest.raises(ValueError, match="'dense' or 'sparse'"):
        synthesize_scribbles(labels, "sparce")
    with pytest.raises(InputError, match="max_slices"):
        synthesize_scribbles(labels, "sparse", max_slices=0)
    with pytest.raises(InputError, match="spacing"):
        synthesize_scribbles(labels, spacing=(1.0, -1.0))
    with pytest.raises(InputError, match=r"\(K, J, I\)"):
        synthesize_scribbles(labels[0])
    with pytest.raises(InputError, match="2D"):
        stroke_in_mask(labels > 0, np.random.default_rng(0))


def test_background_scribbles_lie_outside_all_organs_on_scribbled_slices():
    labels = ellipsoids()
    rng = np.random.default_rng(0)
    scribbles = synthesize_scribbles(labels, "sparse", rng, max_slices=3, spacing=SPACING)
    background = synthesize_background_scribbles(labels, rng, scribbles, spacing=SPACING)
    assert background.dtype == bool and background.shape == labels.shape
    assert background.any() and not (labels[background] != 0).any()
    scribbled = set(np.flatnonzero(scribbles.any(axis=(1, 2))).tolist())
    assert set(np.flatnonzero(background.any(axis=(1, 2))).tolist()) == scribbled
    # not touching any organ, and near the organs (within the 20 mm band)
    distance = ndimage.distance_transform_edt(labels == 0, sampling=(100.0, *SPACING))
    assert distance[background].min() > SPACING[0]
    assert distance[background].max() <= 20.0
    without = synthesize_background_scribbles(labels, np.random.default_rng(1), spacing=SPACING)
    assert set(np.flatnonzero(without.any(axis=(1, 2))).tolist()) == set(
        np.flatnonzero((labels > 0).any(axis=(1, 2))).tolist())


def test_dense_scribbles_on_a_full_volume_cover_every_organ_slice():
    labels = ellipsoids((40, 256, 256))
    scribbles = synthesize_scribbles(labels, "dense", np.random.default_rng(0), spacing=SPACING)
    assert all(organ_slices(scribbles, o) == organ_slices(labels, o) for o in (1, 2, 3, 4))


@pytest.mark.skipif(not (CHAOS / "patient_01").exists(), reason="CHAOS data not available")
def test_real_labels_dense_scribbles():
    import nibabel as nib

    labels = np.asarray(nib.load(CHAOS / "patient_01" / "T2SPIR" / "label.nii.gz").dataobj).astype(np.uint8)
    labels = np.ascontiguousarray(labels.transpose(2, 1, 0))  # (I, J, K) file -> (K, J, I)
    scribbles = synthesize_scribbles(labels, "dense", np.random.default_rng(0), spacing=SPACING)
    drawn = scribbles > 0
    assert np.array_equal(labels[drawn], scribbles[drawn])
    for label in (1, 2, 3, 4):
        assert organ_slices(scribbles, label) == organ_slices(labels, label)
