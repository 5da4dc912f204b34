"""Slice pairing by physical position, and the relative-order fallback."""

import numpy as np
import pytest

from CrossMRLib.errors import InputError
from CrossMRLib.pairing import pair_slices, relative_order_pairing
from CrossMRLib.series import Series
from synthetic import grid


def series(shape=(20, 8, 8), spacing=(5.0, 5.0, 6.0), origin=(0.0, 0.0, 0.0), flip_k=False, directions=None, name="s"):
    return Series(np.zeros(shape, np.float32), grid(shape, spacing, origin, flip_k, directions), name)


def test_same_geometry_pairs_each_slice_with_itself():
    ref = series()
    pairing = pair_slices(ref, series(name="t"))
    assert pairing.rule == "position"
    np.testing.assert_array_equal(pairing.reference_index, np.arange(20))
    np.testing.assert_allclose(pairing.distance_mm, 0.0, atol=1e-9)


def test_reversed_slice_order_pairs_by_position_not_index():
    ref = series()
    target = series(flip_k=True, name="t")  # same slab, slice 0 is now the top
    pairing = pair_slices(ref, target)
    np.testing.assert_array_equal(pairing.reference_index, np.arange(20)[::-1])
    np.testing.assert_allclose(pairing.distance_mm, 0.0, atol=1e-9)


def test_different_count_and_spacing_pairs_nearest_and_reports_distance():
    ref = series((20, 8, 8), spacing=(5, 5, 6.0))  # z = 0..114 mm
    target = series((12, 10, 10), spacing=(4, 4, 9.0), origin=(3.0, -2.0, 4.0), name="t")  # z = 4..103 mm
    pairing = pair_slices(ref, target)
    z_target = 4.0 + 9.0 * np.arange(12)
    expected = np.round(z_target / 6.0).astype(int)
    np.testing.assert_array_equal(pairing.reference_index, expected)
    np.testing.assert_allclose(pairing.distance_mm, np.abs(z_target - 6.0 * expected), atol=1e-9)
    assert pairing.distance_mm.max() <= 3.0 + 1e-9


def test_partial_overlap_pairs_outside_slices_with_the_end_slice():
    ref = series((10, 8, 8), spacing=(5, 5, 5.0))  # 0..45 mm
    target = series((10, 8, 8), spacing=(5, 5, 5.0), origin=(0, 0, 30.0), name="t")  # 30..75 mm
    pairing = pair_slices(ref, target)
    assert pairing.rule == "position"
    assert pairing.reference_index.tolist() == [6, 7, 8, 9, 9, 9, 9, 9, 9, 9]
    assert pairing.distance_mm[-1] == pytest.approx(30.0)


def test_no_overlap_falls_back_to_relative_order_with_reason():
    ref = series((10, 8, 8))
    target = series((4, 8, 8), origin=(0, 0, 500.0), name="far")
    pairing = pair_slices(ref, target)
    assert pairing.rule == "relative-order"
    assert "does not overlap" in pairing.reason and "far" in pairing.reason
    assert pairing.reference_index.tolist() == [0, 3, 6, 9]  # round(i * 9 / 3)
    assert np.isnan(pairing.distance_mm).all()


def test_relative_order_follows_anatomy_when_slice_order_is_reversed():
    ref = series((10, 8, 8))
    target = series((4, 8, 8), origin=(0, 0, 500.0), flip_k=True, name="t")
    pairing = relative_order_pairing(ref, target, "test")
    assert pairing.reference_index.tolist() == [9, 6, 3, 0]


def test_single_slice_target_and_reference():
    ref = series((10, 8, 8))
    one = series((1, 8, 8), origin=(0, 0, 24.0), name="one")
    assert pair_slices(ref, one).reference_index.tolist() == [4]
    assert pair_slices(one, ref).reference_index.tolist() == [0] * 10


def test_near_axial_tilt_is_accepted_but_sagittal_is_rejected():
    angle = np.radians(10)
    tilt = np.array([[1, 0, 0], [0, np.cos(angle), -np.sin(angle)], [0, np.sin(angle), np.cos(angle)]])
    assert pair_slices(series(), series(directions=tilt, name="tilted")).rule == "position"
    sagittal = np.array([[0, 0, 1], [1, 0, 0], [0, 1, 0]], float)
    with pytest.raises(InputError, match="sagittal/coronal/oblique"):
        pair_slices(series(), series(directions=sagittal, name="sag"))


def test_pairing_table_rows_are_json_friendly():
    rows = pair_slices(series(), series(name="t")).as_rows()
    assert rows[3] == {"target": 3, "reference": 3, "distance_mm": 0.0}
