"""Reading the user's scribbles: labelmaps, Slicer .seg.nrrd files, organ-name matching, bad input."""

import logging

import nrrd
import numpy as np
import pytest

from CrossMRLib.errors import InputError
from CrossMRLib.io import write_labels_nifti, write_series_nifti
from CrossMRLib.organs import organ_from_name, organ_from_terminology, ORGAN_BY_LABEL
from CrossMRLib.scribbles.read import read_scribbles, validate_scribbles
from synthetic import make_series


@pytest.mark.parametrize("name,label", [
    ("Liver", 1), ("liver", 1), ("right kidney", 2), ("Kidney right", 2), ("R kidney", 2), ("kidney_R", 2),
    ("Rt. Kidney", 2), ("left kidney", 3), ("Kidney (left)", 3), ("L kidney", 3), ("lkidney", 3), ("SPLEEN", 4),
])
def test_segment_names_match_organs(name, label):
    assert organ_from_name(name).label == label


@pytest.mark.parametrize("name", ["kidney", "kidneys", "Segment_1", "right liver", "", "background"])
def test_ambiguous_or_unknown_names_match_nothing(name):
    assert organ_from_name(name) is None


def test_terminology_codes_match_organs_including_laterality():
    for label in (1, 2, 3, 4):
        assert organ_from_terminology(ORGAN_BY_LABEL[label].terminology_entry()).label == label
    assert organ_from_terminology("x~SCT^64033007^Kidney~^^~y") is None  # kidney without side


@pytest.fixture()
def reference():
    return make_series("t1w", shape_kji=(10, 32, 32), spacing=(10.0, 10.0, 12.0))[0]


def scribble_array(reference):
    scribbles = np.zeros(reference.shape, np.uint8)
    scribbles[5, 10:12, 8:14] = 1
    scribbles[3, 20:22, 8:10] = 2
    scribbles[4, 20:22, 22:24] = 3
    scribbles[6, 14:16, 24:27] = 4
    return scribbles


def test_labelmap_in_the_reference_grid_is_read_as_is(tmp_path, reference):
    scribbles = scribble_array(reference)
    write_labels_nifti(scribbles, reference, tmp_path / "scribbles.nii.gz")
    np.testing.assert_array_equal(read_scribbles(tmp_path / "scribbles.nii.gz", reference), scribbles)


def test_labelmap_on_another_grid_is_rejected(tmp_path, reference):
    other = make_series("other", shape_kji=(10, 32, 32), spacing=(9.0, 10.0, 12.0))[0]
    write_labels_nifti(scribble_array(reference), other, tmp_path / "scribbles.nii.gz")
    with pytest.raises(InputError, match="not in the reference grid"):
        read_scribbles(tmp_path / "scribbles.nii.gz", reference)


def test_scribble_values_outside_0_to_4_are_rejected(tmp_path, reference):
    scribbles = scribble_array(reference)
    scribbles[0, 0, 0] = 7
    write_labels_nifti(scribbles, reference, tmp_path / "scribbles.nii.gz")
    with pytest.raises(InputError, match="must be 0..4.*found 7"):
        read_scribbles(tmp_path / "scribbles.nii.gz", reference)
    write_series_nifti(reference.with_array(scribble_array(reference) * 0.5), tmp_path / "float.nii.gz")
    with pytest.raises(InputError, match="must be 0..4"):
        read_scribbles(tmp_path / "float.nii.gz", reference)


def test_empty_scribbles_and_missing_organs(reference, caplog):
    with pytest.raises(InputError, match="scribbles are empty"):
        validate_scribbles(np.zeros(reference.shape, np.uint8), reference)
    scribbles = scribble_array(reference)
    scribbles[scribbles == 4] = 0
    with caplog.at_level(logging.WARNING, logger="crossmr"):
        assert validate_scribbles(scribbles, reference) == [1, 2, 3]
    assert "no scribble for spleen" in caplog.text


def write_slicer_seg(path, labels_by_segment, matrix, offset=(0, 0, 0)):
    """A .seg.nrrd as Slicer writes it: cropped to the painted extent, LPS space, named segments."""
    header = {"type": "unsigned char", "dimension": 3, "space": "left-posterior-superior",
              "kinds": ["domain"] * 3, "encoding": "gzip"}
    lps = np.diag([-1.0, -1.0, 1.0, 1.0]) @ matrix
    oi, oj, ok = offset
    header["space directions"] = lps[:3, :3].T
    header["space origin"] = (lps @ np.array([oi, oj, ok, 1.0]))[:3]
    data = np.zeros(next(iter(labels_by_segment.values()))[1].shape, np.uint8)
    for index, (name, (value, mask)) in enumerate(labels_by_segment.items()):
        data[mask] = value
        header[f"Segment{index}_ID"] = f"Segment_{index + 1}"
        header[f"Segment{index}_Name"] = name
        header[f"Segment{index}_LabelValue"] = str(value)
        header[f"Segment{index}_Layer"] = "0"
        header[f"Segment{index}_Tags"] = "Segmentation.Status:inprogress|"
    nrrd.write(str(path), data, header, index_order="C")


def test_cropped_slicer_segmentation_is_matched_by_name_and_placed_in_the_reference_grid(tmp_path, reference, caplog):
    shape = (4, 10, 12)
    block = {
        "Liver": (1, np.zeros(shape, bool)), "Kidney R": (2, np.zeros(shape, bool)),
        "kidney left": (3, np.zeros(shape, bool)), "Tumour": (4, np.zeros(shape, bool)),
    }
    block["Liver"][1].__setitem__((1, 2, slice(3, 6)), True)
    block["Kidney R"][1].__setitem__((2, 5, slice(1, 3)), True)
    block["kidney left"][1].__setitem__((3, 8, slice(9, 11)), True)
    block["Tumour"][1].__setitem__((0, 0, 0), True)
    write_slicer_seg(tmp_path / "scribbles.seg.nrrd", block, reference.ijk_to_ras, offset=(5, 6, 3))
    with caplog.at_level(logging.WARNING, logger="crossmr"):
        scribbles = read_scribbles(tmp_path / "scribbles.seg.nrrd", reference)
    assert "'Tumour' match no organ" in caplog.text
    assert scribbles.shape == reference.shape
    assert set(np.unique(scribbles)) == {0, 1, 2, 3}
    assert scribbles[3 + 1, 6 + 2, 5 + 3] == 1 and scribbles[3 + 2, 6 + 5, 5 + 1] == 2
    assert scribbles[3 + 3, 6 + 8, 5 + 10] == 3 and scribbles[3, 6, 5] == 0


def test_segmentation_without_any_organ_segment_is_rejected(tmp_path, reference):
    mask = np.zeros((2, 3, 4), bool)
    mask[0, 0, 0] = True
    write_slicer_seg(tmp_path / "s.seg.nrrd", {"Segment_1": (1, mask)}, reference.ijk_to_ras)
    with pytest.raises(InputError, match="no segment matches an organ.*'Segment_1'"):
        read_scribbles(tmp_path / "s.seg.nrrd", reference)


def test_missing_scribble_file_is_a_clear_error(tmp_path, reference):
    with pytest.raises(InputError, match="no such scribble file"):
        read_scribbles(tmp_path / "none.seg.nrrd", reference)
