"""Reading and writing series: NIfTI, NRRD/MHA, DICOM folders, 4D, NaN, 2D; .seg.nrrd round trip."""

import logging

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk

from CrossMRLib.errors import InputError
from CrossMRLib.io import read_seg_nrrd, read_series, write_labels_nifti, write_seg_nrrd, write_series_nifti
from CrossMRLib.organs import ORGANS
from CrossMRLib.series import Series, make_ijk_to_ras

ANGLE = np.radians(7)
OBLIQUE = np.array([[np.cos(ANGLE), -np.sin(ANGLE), 0], [np.sin(ANGLE), np.cos(ANGLE), 0], [0, 0, 1]])


def sample_series(name="t1w", flip=False):
    rng = np.random.default_rng(1)
    directions = OBLIQUE.copy()
    if flip:
        directions[:, 2] *= -1
    matrix = make_ijk_to_ras((1.37, 1.41, 6.5), (-183.25, 97.125, -45.5), directions)
    return Series(rng.random((7, 11, 13)).astype(np.float32) * 900, matrix, name)


def corners_ras(series):
    k, j, i = series.shape
    points = np.array([[0, 0, 0, 1], [i - 1, 0, 0, 1], [0, j - 1, 0, 1], [0, 0, k - 1, 1], [i - 1, j - 1, k - 1, 1]], float).T
    return (series.ijk_to_ras @ points)[:3].T


@pytest.mark.parametrize("flip", [False, True])
def test_nifti_round_trip_preserves_voxels_and_geometry(tmp_path, flip):
    series = sample_series(flip=flip)
    write_series_nifti(series, tmp_path / "t1w.nii.gz")
    back = read_series(tmp_path / "t1w.nii.gz")
    assert back.name == "t1w" and back.shape == series.shape
    np.testing.assert_allclose(back.array, series.array, rtol=1e-6)
    np.testing.assert_allclose(corners_ras(back), corners_ras(series), atol=1e-4)


def test_labels_nifti_is_uint8_in_the_series_grid(tmp_path):
    series = sample_series()
    labels = (series.array > 450).astype(np.uint8) * 3
    write_labels_nifti(labels, series, tmp_path / "t1w.labels.nii.gz")
    image = nib.load(str(tmp_path / "t1w.labels.nii.gz"))
    assert image.get_data_dtype() == np.uint8
    back = read_series(tmp_path / "t1w.labels.nii.gz")
    assert back.name == "t1w"
    np.testing.assert_array_equal(back.array, labels)
    np.testing.assert_allclose(corners_ras(back), corners_ras(series), atol=1e-4)


def itk_image(series):
    """The same series as an ITK image (LPS), built independently of the reader."""
    image = sitk.GetImageFromArray(series.array)
    lps = np.diag([-1.0, -1.0, 1.0]) @ series.ijk_to_ras[:3, :3]
    spacing = np.linalg.norm(lps, axis=0)
    image.SetSpacing(spacing.tolist())
    image.SetDirection((lps / spacing).ravel().tolist())
    image.SetOrigin((np.diag([-1.0, -1.0, 1.0]) @ series.ijk_to_ras[:3, 3]).tolist())
    return image


@pytest.mark.parametrize("suffix", [".nrrd", ".mha"])
def test_nrrd_and_mha_are_read_in_ras(tmp_path, suffix):
    series = sample_series(flip=True)
    sitk.WriteImage(itk_image(series), str(tmp_path / f"dwi{suffix}"))
    back = read_series(tmp_path / f"dwi{suffix}")
    assert back.name == "dwi"
    np.testing.assert_allclose(back.array, series.array, rtol=1e-6)
    np.testing.assert_allclose(corners_ras(back), corners_ras(series), atol=1e-4)


def test_dicom_folder_is_read_as_one_series_in_ras(tmp_path):
    series = sample_series()
    series.array = series.array.astype(np.int16)
    image = itk_image(series)
    folder = tmp_path / "T2 axial"
    folder.mkdir()
    writer = sitk.ImageFileWriter()
    writer.KeepOriginalImageUIDOn()
    direction = image.GetDirection()
    for k in range(image.GetDepth()):
        slice_image = image[:, :, k]
        for tag, value in [("0020|000e", "1.2.826.0.1.3680043.2.1125.1.1"),
                           ("0020|000d", "1.2.826.0.1.3680043.2.1125.1.2"),
                           ("0008|0060", "MR"),
                           ("0020|0037", "\\".join(f"{v:.6f}" for v in (direction[0], direction[3], direction[6],
                                                                         direction[1], direction[4], direction[7]))),
                           ("0020|0032", "\\".join(f"{v:.6f}" for v in image.TransformIndexToPhysicalPoint((0, 0, k)))),
                           ("0020|0013", str(k + 1)),
                           ("0008|0018", f"1.2.826.0.1.3680043.2.1125.1.3.{k + 1}")]:
            slice_image.SetMetaData(tag, value)
        writer.SetFileName(str(folder / f"slice{k:03d}.dcm"))
        writer.Execute(slice_image)
    back = read_series(folder)
    assert back.name == "T2 axial" and back.shape == series.shape
    np.testing.assert_array_equal(back.array, series.array)
    np.testing.assert_allclose(corners_ras(back), corners_ras(series), atol=1e-3)


def test_folder_without_dicom_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="no DICOM series"):
        read_series(tmp_path)


def test_missing_and_unreadable_files_are_clear_errors(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_series(tmp_path / "nothing.nii.gz")
    broken = tmp_path / "broken.nii.gz"
    broken.write_bytes(b"this is not an image")
    with pytest.raises(InputError, match="cannot be read as an image"):
        read_series(broken)
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(InputError, match="unsupported file type"):
        read_series(tmp_path / "notes.txt")


def write_4d(path, volumes, affine=np.eye(4)):
    nib.save(nib.Nifti1Image(np.stack([v.transpose(2, 1, 0) for v in volumes], axis=-1), affine), str(path))


def test_4d_dwi_uses_highest_b_value_from_bval_file(tmp_path, caplog):
    volumes = [np.full((3, 4, 5), v, np.float32) for v in (900.0, 500.0, 300.0)]
    write_4d(tmp_path / "dwi.nii.gz", volumes)
    (tmp_path / "dwi.bval").write_text("0 800 400\n")
    with caplog.at_level(logging.WARNING, logger="crossmr"):
        series = read_series(tmp_path / "dwi.nii.gz")
    assert series.shape == (3, 4, 5) and float(series.array.mean()) == 500.0
    assert "b=800" in caplog.text


def test_4d_without_b_values_takes_most_diffusion_weighted_volume_or_the_chosen_one(tmp_path):
    volumes = [np.full((3, 4, 5), v, np.float32) for v in (900.0, 200.0, 500.0)]
    write_4d(tmp_path / "dwi.nii.gz", volumes)
    assert float(read_series(tmp_path / "dwi.nii.gz").array.mean()) == 200.0
    assert float(read_series(tmp_path / "dwi.nii.gz", volume=2).array.mean()) == 500.0
    with pytest.raises(InputError, match="out of range.*0..2"):
        read_series(tmp_path / "dwi.nii.gz", volume=3)


def test_nan_and_inf_voxels_are_replaced_with_a_warning(tmp_path, caplog):
    series = sample_series()
    series.array[0, 0, :3] = [np.nan, np.inf, -np.inf]
    write_series_nifti(series, tmp_path / "t2w.nii.gz")
    with caplog.at_level(logging.WARNING, logger="crossmr"):
        back = read_series(tmp_path / "t2w.nii.gz")
    assert np.isfinite(back.array).all()
    assert "3 NaN/infinite" in caplog.text
    series.array[:] = np.nan
    write_series_nifti(series, tmp_path / "nan.nii.gz")
    with pytest.raises(InputError, match="every voxel is NaN"):
        read_series(tmp_path / "nan.nii.gz")


def test_2d_image_becomes_a_single_slice_series(tmp_path):
    nib.save(nib.Nifti1Image(np.ones((6, 5), np.float32), np.diag([2.0, 2.0, 5.0, 1.0])), str(tmp_path / "one.nii"))
    series = read_series(tmp_path / "one.nii")
    assert series.shape == (1, 5, 6)


def test_seg_nrrd_round_trip_keeps_labels_geometry_names_colours_and_terminology(tmp_path):
    series = sample_series()
    labels = np.zeros(series.shape, np.uint8)
    labels[1:3, 2:5, 2:6] = 1
    labels[4, 6:9, 7:10] = 3
    write_seg_nrrd(labels, series, tmp_path / "t1w.seg.nrrd")
    layers, matrix, segments = read_seg_nrrd(tmp_path / "t1w.seg.nrrd")
    np.testing.assert_array_equal(layers[0], labels)
    np.testing.assert_allclose(matrix, series.ijk_to_ras, atol=1e-6)
    assert [s.name for s in segments] == ["liver", "right kidney", "left kidney", "spleen"]
    assert [s.label_value for s in segments] == [1, 2, 3, 4]
    assert "SCT^24028007^Right" in segments[1].terminology and "SCT^64033007^Kidney" in segments[1].terminology
    import nrrd

    header = nrrd.read_header(str(tmp_path / "t1w.seg.nrrd"))
    assert header["Segment0_Color"] == " ".join(f"{c:.6f}" for c in ORGANS[0].color_float)
    assert header["Segment1_Extent"] == "0 -1 0 -1 0 -1"  # right kidney is empty here
