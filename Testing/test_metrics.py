"""Dice and Normalized Surface Dice: hand-computed cases, empty-mask conventions, spacing, per organ/slice."""

import math
from pathlib import Path

import numpy as np
import pytest

from CrossMRLib.errors import InputError
from CrossMRLib.metrics import NSD_TOLERANCE_MM, dice, organ_scores, slice_scores, summarize, surface_dice

CHAOS = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "chaos_t2spir"
DIAG = 0.5 * math.sqrt(2.0)  # contour length of a cut corner (2x2 neighbourhood with one pixel inside)


def square(size: int, top: int = 2, left: int = 2, shape=(12, 12)) -> np.ndarray:
    mask = np.zeros(shape, bool)
    mask[top:top + size, left:left + size] = True
    return mask


def shifted(mask: np.ndarray, axis: int, by: int = 1) -> np.ndarray:
    """`mask` moved by `by` voxels along `axis` (no wrap-around)."""
    out = np.zeros_like(mask)
    src = [slice(None)] * mask.ndim
    dst = [slice(None)] * mask.ndim
    src[axis], dst[axis] = slice(0, mask.shape[axis] - by), slice(by, None)
    out[tuple(dst)] = mask[tuple(src)]
    return out


def test_dice_of_squares_offset_by_one_pixel():
    # 4x4 squares, one column apart: overlap 4x3 = 12 -> 2 * 12 / (16 + 16)
    a = square(4)
    assert dice(a, shifted(a, 1)) == pytest.approx(0.75)
    cube = np.zeros((8, 8, 8), bool)
    cube[2:6, 2:6, 2:6] = True  # overlap 4x4x3 = 48 -> 96 / 128
    assert dice(cube, shifted(cube, 0)) == pytest.approx(0.75)
    assert dice(cube, cube) == 1.0


def test_empty_mask_conventions():
    empty, full = np.zeros((6, 6), bool), square(3, 1, 1, (6, 6))
    assert dice(empty, empty) == 1.0 and surface_dice(empty, empty, (1, 1), 3.0) == 1.0
    assert dice(full, empty) == 0.0 and surface_dice(full, empty, (1, 1), 3.0) == 0.0
    assert dice(empty, full) == 0.0 and surface_dice(empty, full, (1, 1), 3.0) == 0.0


def test_nsd_of_squares_offset_by_one_pixel_hand_computed():
    # Boundary elements sit on pixel corners. Of each 4x4 square's contour (12 unit edges + 4 cut corners),
    # the elements shared with the other square (distance 0) are exactly half of it; the rest lie 1 mm away.
    a = square(4)
    b = shifted(a, 1)
    assert surface_dice(a, b, (1.0, 1.0), 0.5) == pytest.approx(0.5, abs=1e-6)
    assert surface_dice(a, b, (1.0, 1.0), 1.0) == pytest.approx(1.0)  # distance == tolerance counts
    assert surface_dice(a, a, (1.0, 1.0), 0.0) == pytest.approx(1.0)


def test_anisotropic_spacing_changes_nsd_along_the_right_axis():
    a = square(4)
    b = shifted(a, 1)  # offset along axis 1 (columns)
    # rows 2 mm, columns 1 mm: the offset is 1 mm -> everything within 1.5 mm
    assert surface_dice(a, b, (2.0, 1.0), 1.5) == pytest.approx(1.0)
    # rows 1 mm, columns 2 mm: the offset is 2 mm. Per square, top+bottom edges (6 x 2 mm) and the two cut
    # corners on the shared side (length d = sqrt(1 + 4) / 2) match; of the side edges (6 x 1 mm) only the
    # two next to the shared corners lie within 1.5 mm (1 mm from the other square's top/bottom edge).
    d = 0.5 * math.sqrt(5.0)
    expected = (12 + 2 * d + 2) / (12 + 6 + 4 * d)
    assert surface_dice(a, b, (1.0, 2.0), 1.5) == pytest.approx(expected, abs=1e-5)
    assert expected < 0.75


def test_nsd_weights_boundary_by_length_hand_computed():
    # 3x3 square inside the 5x5 square around it. Inner contour: 8 unit edges + 4 cut corners, all 1 mm
    # from the outer contour. Outer contour: 16 unit edges (1 mm away) + 4 cut corners (sqrt(2) mm away).
    inner, outer = square(3, 3, 3), square(5, 2, 2)
    expected = (8 + 4 * DIAG + 16) / (8 + 4 * DIAG + 16 + 4 * DIAG)
    assert surface_dice(inner, outer, (1.0, 1.0), 1.2) == pytest.approx(expected, abs=1e-5)
    assert surface_dice(outer, inner, (1.0, 1.0), 1.2) == pytest.approx(expected, abs=1e-5)
    assert surface_dice(inner, outer, (1.0, 1.0), 1.5) == pytest.approx(1.0)


def test_3d_nsd_uses_spacing_in_array_axis_order():
    cube = np.zeros((10, 10, 10), bool)
    cube[3:7, 3:7, 3:7] = True
    moved = shifted(cube, 0)  # one slice along k
    assert surface_dice(cube, moved, (1.0, 1.0, 1.0), 1.0) == pytest.approx(1.0)
    assert surface_dice(cube, moved, (1.0, 5.0, 5.0), 3.0) == pytest.approx(1.0)  # k spacing is 1 mm
    thick = surface_dice(cube, moved, (5.0, 1.0, 1.0), 3.0)  # k spacing 5 mm > tolerance
    assert 0.3 < thick < 0.9


def test_shift_within_tolerance_gives_nsd_one_but_dice_below_one():
    # Every boundary point moved by v has a partner at distance |v|: NSD == 1 whenever |v| <= tolerance.
    rng = np.random.default_rng(3)
    blob = np.zeros((12, 40, 40), bool)
    blob[3:9, 8:30, 10:28] = rng.random((6, 22, 18)) > 0.2
    for axis, spacing, tol, full in ((2, (7.7, 1.25, 1.25), 3.0, True), (0, (7.7, 1.25, 1.25), 3.0, False),
                                     (0, (2.0, 1.25, 1.25), 3.0, True)):
        moved = shifted(blob, axis)
        assert dice(blob, moved) < 1.0
        value = surface_dice(blob, moved, spacing, tol)
        assert (value == pytest.approx(1.0)) is full, (axis, spacing, value)


def test_organ_scores_per_label():
    truth = np.zeros((8, 12, 12), np.uint8)
    truth[2:6, 2:6, 2:6] = 1
    truth[1:3, 8:11, 8:11] = 2
    truth[6:8, 8:11, 1:4] = 4
    pred = np.zeros_like(truth)
    pred[3:7, 2:6, 2:6] = 1  # liver moved one slice
    pred[truth == 2] = 2  # right kidney exact; left kidney absent in both; spleen missed
    scores = organ_scores(pred, truth, (1.0, 1.0, 1.0))
    assert set(scores) == {1, 2, 3, 4}
    assert scores[1]["dice"] == pytest.approx(0.75) and scores[1]["nsd"] == pytest.approx(1.0)
    assert scores[2] == {"dice": 1.0, "nsd": 1.0}
    assert scores[3] == {"dice": 1.0, "nsd": 1.0}
    assert scores[4] == {"dice": 0.0, "nsd": 0.0}
    strict = organ_scores(pred, truth, (1.0, 1.0, 1.0), organs=(1,), tolerances={1: 0.5})
    assert set(strict) == {1} and strict[1]["nsd"] < 1.0


def test_slice_scores_list_only_organs_present_on_each_slice():
    truth = np.zeros((4, 12, 12), np.uint8)
    pred = np.zeros_like(truth)
    truth[1] = square(4)
    pred[1] = shifted(square(4), 1)
    truth[2] = square(4)  # missed on slice 2
    pred[0][square(2, 8, 8)] = 2  # false positive kidney on slice 0
    scores = slice_scores(pred, truth, (1.0, 1.0), organs=(1, 2), tolerances={1: 0.5, 2: 3.0})
    assert len(scores) == 4
    assert scores[0] == {2: {"dice": 0.0, "nsd": 0.0}}
    assert scores[1][1]["dice"] == pytest.approx(0.75) and scores[1][1]["nsd"] == pytest.approx(0.5, abs=1e-6)
    assert set(scores[1]) == {1}
    assert scores[2] == {1: {"dice": 0.0, "nsd": 0.0}}
    assert scores[3] == {}
    single = slice_scores(pred[1], truth[1], (1.0, 1.0), organs=(1,), tolerances={1: 0.5})
    assert single == [scores[1]]


def test_summarize_mean_and_sample_sd():
    summary = summarize([
        {1: {"dice": 1.0, "nsd": 0.8}, 2: {"dice": 0.4, "nsd": 0.6}},
        {1: {"dice": 0.5, "nsd": 0.8}},
        {1: {"dice": 0.0, "nsd": 0.8}},
    ])
    assert summary[1]["dice"] == pytest.approx((0.5, 0.5))  # sqrt((0.25 + 0 + 0.25) / 2)
    assert summary[1]["nsd"] == pytest.approx((0.8, 0.0))
    assert summary[2]["dice"][0] == pytest.approx(0.4) and math.isnan(summary[2]["dice"][1])
    assert set(summary) == {1, 2}
    assert summarize([]) == {}


def test_bad_input_raises_input_error():
    a = square(4)
    with pytest.raises(InputError, match="shape"):
        dice(a, a[:-1])
    with pytest.raises(InputError, match="spacing"):
        surface_dice(a, a, (1.0, 1.0, 1.0), 3.0)
    with pytest.raises(InputError, match="spacing"):
        surface_dice(a, a, (1.0, 0.0), 3.0)
    with pytest.raises(InputError, match="tolerance"):
        surface_dice(a, a, (1.0, 1.0), -1.0)
    with pytest.raises(InputError, match="2D or 3D"):
        dice(a[None, None], a[None, None])
    with pytest.raises(InputError, match="tolerance"):
        organ_scores(a[None].astype(np.uint8), a[None].astype(np.uint8), (1, 1, 1), organs=(5,))
    with pytest.raises(InputError, match="3D"):
        organ_scores(a.astype(np.uint8), a.astype(np.uint8), (1, 1))


def four_organ_volume(shape=(40, 256, 256)) -> np.ndarray:
    z, y, x = np.ogrid[: shape[0], : shape[1], : shape[2]]
    labels = np.zeros(shape, np.uint8)
    for label, (cz, cy, cx, rz, ry, rx) in {1: (20, 110, 90, 15, 70, 60), 2: (22, 150, 60, 8, 25, 18),
                                            3: (22, 150, 190, 8, 25, 18), 4: (18, 100, 200, 9, 35, 25)}.items():
        labels[((z - cz) / rz) ** 2 + ((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2 < 1] = label
    return labels


def test_scores_on_a_full_four_organ_volume():
    truth = four_organ_volume()
    pred = shifted(shifted(truth, 1, 3), 0)
    scores = organ_scores(pred, truth, (7.7, 1.25, 1.25))
    assert all(0.5 < s["dice"] < 1.0 and 0.3 < s["nsd"] < 1.0 for s in scores.values())
    assert set(NSD_TOLERANCE_MM) == {1, 2, 3, 4}


@pytest.mark.skipif(not (CHAOS / "patient_01").exists(), reason="CHAOS data not available")
def test_real_labels_scores():
    import nibabel as nib

    labels = np.asarray(nib.load(CHAOS / "patient_01" / "T2SPIR" / "label.nii.gz").dataobj).astype(np.uint8)
    labels = np.ascontiguousarray(labels.transpose(2, 1, 0))  # (I, J, K) file -> (K, J, I)
    spacing = (7.7, 1.25, 1.25)
    assert all(s == {"dice": 1.0, "nsd": 1.0} for s in organ_scores(labels, labels, spacing).values())
    in_plane = organ_scores(shifted(labels, 2), labels, spacing)  # 1.25 mm shift < 3 mm tolerance
    assert all(s["nsd"] == pytest.approx(1.0) and s["dice"] < 1.0 for s in in_plane.values())
    across = organ_scores(shifted(labels, 0), labels, spacing)  # 7.7 mm shift > tolerances
    assert all(s["nsd"] < 1.0 for s in across.values())
    per_slice = slice_scores(shifted(labels, 2), labels, spacing[1:])
    assert all(s["nsd"] == pytest.approx(1.0) for entry in per_slice for s in entry.values())
