"""train/error_breakdown.py: its split of an organ's errors by height (inferior, middle and superior thirds) and its
one-line error for a subject missing from the CHAOS folder."""

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "train"))

from error_breakdown import height_thirds, main  # noqa: E402


def test_errors_are_counted_in_the_third_of_the_organ_they_lie_in_whichever_way_slices_run():
    truth = np.zeros((9, 4, 4), bool)
    truth[0:9, 1:3, 1:3] = True  # an organ over 9 slices, 4 voxels each
    pred = truth.copy()
    pred[0, 1, 1] = False  # one voxel missed on slice 0
    pred[8, 0, 0] = True  # one voxel too many on slice 8
    up = height_thirds(truth, pred, superior=1)  # slice 0 is the organ's inferior end
    np.testing.assert_array_equal(up, [[12, 1, 0], [12, 0, 0], [12, 0, 1]])
    down = height_thirds(truth, pred, superior=-1)  # slice 0 is its superior end
    np.testing.assert_array_equal(down, [[12, 0, 1], [12, 0, 0], [12, 1, 0]])
    assert not height_thirds(np.zeros_like(truth), pred, superior=1).any()  # no organ: nothing counted


def test_a_subject_missing_from_the_chaos_folder_is_named_in_one_line(tmp_path):
    (tmp_path / "patient_33").mkdir()
    with pytest.raises(SystemExit, match="no CHAOS subject 02 at .*; pass --chaos and --subjects"):
        main(["--chaos", str(tmp_path), "--subjects", "33", "02"])
