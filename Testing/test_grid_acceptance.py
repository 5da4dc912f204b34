"""Scribbles saved by another tool on the reference's lattice with axes flipped or permuted are accepted;
other geometries are refused with a message that says what differs."""

import numpy as np
import pytest

from CrossMRLib.errors import InputError
from CrossMRLib.io import write_labels_nifti
from CrossMRLib.scribbles.read import read_scribbles
from CrossMRLib.series import Series
from synthetic import make_series


@pytest.fixture()
def reference():
    return make_series("t1w", shape_kji=(9, 20, 24), spacing=(2.0, 2.5, 6.0), origin=(-30, -25, -20))[0]


def scribbles_on(reference):
    scribbles = np.zeros(reference.shape, np.uint8)
    scribbles[2, 3:6, 4:9] = 1
    scribbles[6, 12, 20] = 4
    scribbles[8, 19, 0] = 2  # a corner voxel: catches an off-by-one in the flips
    return scribbles


def reordered(series_array, matrix, flips, order):
    """The same voxels and lattice with array axes (k, j, i) flipped and then permuted (as dcm2niix may)."""
    array, matrix = series_array.copy(), matrix.copy()
    for axis in flips:  # axis in (k, j, i) numbering
        ijk = 2 - axis
        array = np.flip(array, axis)
        matrix[:3, 3] += matrix[:3, ijk] * (array.shape[axis] - 1)
        matrix[:3, ijk] *= -1
    array = np.transpose(array, order)
    columns = [2 - order[2 - c] for c in range(3)]  # new ijk column c is old ijk column columns[c]
    matrix[:3, :3] = matrix[:3, columns]
    return np.ascontiguousarray(array), matrix


@pytest.mark.parametrize("flips, order", [((1,), (0, 1, 2)), ((0, 1), (0, 1, 2)), ((1,), (0, 2, 1)),
                                          ((0,), (2, 1, 0)), ((0, 1, 2), (1, 2, 0))])
def test_the_reference_lattice_with_axes_flipped_or_permuted_is_accepted(tmp_path, reference, flips, order):
    scribbles = scribbles_on(reference)
    array, matrix = reordered(scribbles, reference.ijk_to_ras, flips, order)
    assert array.shape != scribbles.shape or flips  # really stored another way
    write_labels_nifti(array, Series(array, matrix, "s"), tmp_path / "scribbles.nii.gz")
    np.testing.assert_array_equal(read_scribbles(tmp_path / "scribbles.nii.gz", reference), scribbles)


def test_a_flipped_and_cropped_part_is_accepted(tmp_path, reference):
    scribbles = scribbles_on(reference)
    scribbles[8, 19, 0] = 0
    crop = scribbles[1:7, 2:15, 3:22]
    matrix = reference.ijk_to_ras.copy()
    matrix[:3, 3] += matrix[:3, :3] @ np.array([3, 2, 1])
    array, matrix = reordered(crop, matrix, (1, 2), (0, 2, 1))
    write_labels_nifti(array, Series(array, matrix, "s"), tmp_path / "scribbles.nii.gz")
    np.testing.assert_array_equal(read_scribbles(tmp_path / "scribbles.nii.gz", reference), scribbles)


def test_other_geometries_are_refused_saying_what_differs(tmp_path, reference):
    scribbles = scribbles_on(reference)
    cases = {}
    shifted = reference.ijk_to_ras.copy()
    shifted[:3, 3] += shifted[:3, 0] * 0.5
    cases["shifted by a fraction of a voxel"] = shifted
    coarser = reference.ijk_to_ras.copy()
    coarser[:3, 0] *= 1.5
    cases["voxel size 3x2.5x6 mm vs the reference's 2x2.5x6 mm"] = coarser
    angle = np.radians(10)
    rotated = reference.ijk_to_ras.copy()
    rotated[:3, :3] = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]]) @ rotated[:3, :3]
    cases["rotated by 10.0 degrees"] = rotated
    moved = reference.ijk_to_ras.copy()
    moved[:3, 3] += moved[:3, 2] * 3
    cases["reaches past the reference"] = moved
    for message, matrix in cases.items():
        write_labels_nifti(scribbles, Series(scribbles, matrix, "s"), tmp_path / "scribbles.nii.gz")
        with pytest.raises(InputError, match="not in the reference grid") as error:
            read_scribbles(tmp_path / "scribbles.nii.gz", reference)
        assert message in str(error.value), str(error.value)
