"""A DICOM study in: `crossmr series`, series picked by number/description, DICOM SEG out and read back."""

import json

import numpy as np
import pydicom
import pytest

from CrossMRLib.cli import main
from CrossMRLib.dicom.load import load_series
from CrossMRLib.dicom.scan import scan_study
from CrossMRLib.grids import align_to_reference
from CrossMRLib.io import read_series
from CrossMRLib.organs import ORGANS

SEGMENTED = ("3_t1_vibe_tra", "5_t1_fl2d_in_phase", "6_t1_fl2d_opp_phase", "7_t2_haste_tra_fs", "8_ep2d_dwi_b0_b800")
PHANTOM_NAME = {"3": "t1w", "5": "inphase", "6": "opposed", "7": "t2w", "8": "dwi"}


@pytest.fixture(scope="module")
def segmented(dicom_study, tmp_path_factory):
    """`crossmr segment STUDY --reference 3 --targets all --format dicom-seg,nifti` (region growing), once."""
    folder, scribbles, _ = dicom_study
    out = tmp_path_factory.mktemp("seg") / "out"
    code = main(["segment", str(folder), str(scribbles), "--reference", "3", "--targets", "all", "--format",
                 "dicom-seg,nifti", "--method", "region-growing", "-o", str(out)])
    assert code == 0
    return out


@pytest.fixture(scope="module")
def dicom_images(study):
    """The phantom images written to the DICOM study (in-plane subsampled as the sample study is)."""
    return study.images


def test_series_lists_every_series_with_its_contrast_and_what_all_leaves_out(dicom_study, capsys):
    folder, _, _ = dicom_study
    assert main(["series", str(folder)]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[1:] if line[:1].isdigit()}
    assert sorted(rows, key=int) == ["1", "3", "5", "6", "7", "8", "9"]
    expected = {"3": "T1w", "5": "in-phase", "6": "opposed-phase", "7": "T2w", "8": "DWI"}
    for number, contrast in expected.items():
        assert f" {contrast} " in rows[number] + " " and "left out" not in rows[number], rows[number]
    assert "0,800" in rows["8"]
    assert "left out of 'all': localiser" in rows["1"] and "derived image" in rows["9"]


def test_segment_by_series_number_writes_a_dicom_seg_per_series_that_reads_back(dicom_study, dicom_images, segmented):
    import highdicom as hd

    folder, _, _ = dicom_study
    images = dicom_images
    found = {s.name: s for s in scan_study(folder)}
    assert sorted(p.name for p in segmented.glob("*.seg.dcm")) == sorted(f"{n}.seg.dcm" for n in SEGMENTED)
    record = json.loads((segmented / "crossmr_run.json").read_text())
    assert record["inputs"]["dicom_series"]["3_t1_vibe_tra"]["series_number"] == 3
    for name in SEGMENTED:
        labels = read_series(segmented / f"{name}.labels.nii.gz")
        source = found[name]
        seg = hd.seg.segread(segmented / f"{name}.seg.dcm")
        assert seg.Modality == "SEG" and seg.FrameOfReferenceUID == source.frame_of_reference
        assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == source.uid
        # frames in the source's slice order: the loader's k order, as recorded for the series
        series = load_series(source)
        files = series.meta["dicom_files"]
        uids = [pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID for f in files]
        back = seg.get_pixels_by_source_instance(uids, combine_segments=True, skip_overlap_checks=True)
        np.testing.assert_array_equal(back, labels.array)
        for description, organ in zip(seg.SegmentSequence, ORGANS):
            prop = description.SegmentedPropertyTypeCodeSequence[0]
            assert (description.SegmentNumber, description.SegmentLabel, prop.CodeValue, prop.CodingSchemeDesignator) == \
                   (organ.label, organ.name, organ.snomed_code, "SCT")
            assert description.SegmentedPropertyCategoryCodeSequence[0].CodeValue == "123037004"
            modifiers = [m.CodeValue for m in prop.get("SegmentedPropertyTypeModifierCodeSequence", [])]
            assert modifiers == ([organ.modifier_code] if organ.modifier_code else [])
        # the series was read on the phantom's physical grid (the reader may order slices the other way)
        phantom = images[PHANTOM_NAME[name.split("_")[0]]]
        aligned, offset = align_to_reference(phantom.array, phantom.ijk_to_ras, labels)
        assert offset == (0, 0, 0) and aligned.shape == labels.shape
        np.testing.assert_allclose(series.array, aligned, atol=0.5)


def test_all_leaves_out_the_localiser_and_the_adc_map_with_a_message(dicom_study, tmp_path, capsys):
    folder, scribbles, _ = dicom_study
    assert main(["segment", str(folder), str(scribbles), "--reference", "T1 VIBE tra", "--targets", "7",
                 "--method", "region-growing", "-o", str(tmp_path / "one")]) == 0
    assert sorted(p.name for p in (tmp_path / "one").glob("*.labels.nii.gz")) == \
           ["3_t1_vibe_tra.labels.nii.gz", "7_t2_haste_tra_fs.labels.nii.gz"]
    capsys.readouterr()
    assert main(["segment", str(folder), str(scribbles), "--reference", "3", "--method", "region-growing",
                 "--format", "nifti", "-o", str(tmp_path / "all")]) == 0
    assert "left out of --targets all: 1_localizer (localiser), 9_ep2d_dwi_adc (derived image)" in capsys.readouterr().err


def test_volumes_agree_with_organ_voxels_times_voxel_volume(segmented):
    import csv

    record = json.loads((segmented / "crossmr_run.json").read_text())
    rows = list(csv.DictReader((segmented / "volumes.csv").open()))
    assert len(rows) == len(SEGMENTED) * 4 and record["volumes"]
    for row in rows:
        series = record["series"][row["series"]]
        label = next(o.label for o in ORGANS if o.name == row["organ"])
        voxel_ml = np.prod(series["spacing_ijk_mm"]) / 1000
        assert float(row["volume_ml"]) == pytest.approx(series["organ_voxels"][str(label)] * voxel_ml, rel=1e-3, abs=0.01)
        if row["flagged"] == "True":
            assert any(w.startswith(f"{row['series']}: {row['organ']} volume") for w in record["warnings"])


def test_single_series_folders_and_dwi_b_values_keep_working(dicom_study):
    folder, _, truth = dicom_study
    dwi = read_series(folder / "DICOM" / "S0008")
    assert dwi.name == "S0008" and dwi.shape == truth["dwi"].shape
    assert len(dwi.meta["dicom_files"]) == dwi.num_slices
    assert all(pydicom.dcmread(f, stop_before_pixels=True).DiffusionBValue == 800 for f in dwi.meta["dicom_files"])
    b0 = read_series(folder / "DICOM" / "S0008", volume=0)
    assert b0.array.mean() > dwi.array.mean()  # b0 is brighter than b800


def bad_cases(folder, scribbles, tmp_path):
    nifti = tmp_path / "t1w.nii.gz"
    from CrossMRLib.io import write_series_nifti

    write_series_nifti(read_series(folder / "DICOM" / "S0003"), nifti)
    s = str(scribbles)
    return {
        "unknown series": ([str(folder), s, "--reference", "33"], "no series '33'"),
        "two series match": ([str(folder), s, "--reference", "T1"], "matches 3 series"),
        "unknown target": ([str(folder), s, "--reference", "3", "--targets", "b800", "nothing"], "no series 'nothing'"),
        "targets without reference": ([str(folder), s, "--targets", "all"], "--reference"),
        "study without reference": ([str(folder), s], "holds 7 DICOM series"),
        "dicom-seg from NIfTI": ([str(nifti), s, "--format", "dicom-seg"], "needs DICOM input"),
        "unknown format": ([str(nifti), s, "--format", "dicom"], "--format"),
        "files and --targets": ([str(folder), s, str(nifti), "--reference", "3", "--targets", "7"], "not both"),
    }


def test_bad_study_inputs_exit_2_with_one_line_and_write_nothing(dicom_study, tmp_path, capsys):
    folder, scribbles, _ = dicom_study
    for case, (args, message) in bad_cases(folder, scribbles, tmp_path).items():
        capsys.readouterr()
        code = main(["segment", *args, "-o", str(tmp_path / "out"), "--method", "region-growing"])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2, case
        assert err[-1].startswith("error: ") and message in err[-1], (case, err)
        assert not (tmp_path / "out").exists(), case


def test_a_chaos_volume_written_as_dicom_reads_back_and_takes_a_seg(tmp_path):
    import highdicom as hd

    from CrossMRLib.dicom.seg import make_dicom_seg
    from CrossMRLib.dicom.write import SeriesHeader, StudyIds, write_dicom_series
    from CrossMRLib.grids import embed_in_grid

    folder = __import__("pathlib").Path("/work/shared/data/chaos_t2spir/patient_01/T2SPIR")
    if not (folder / "image.nii.gz").is_file():
        pytest.skip("CHAOS T2-SPIR data is not on this machine")
    image = read_series(folder / "image.nii.gz")
    truth = np.rint(read_series(folder / "label.nii.gz").array).astype(np.uint8)
    write_dicom_series(image, tmp_path / "chaos" / "S0004", StudyIds(), SeriesHeader(4, "T2 SPIR tra", 80.0, 1500.0,
                                                                                        sequence="SE"))
    (only,) = scan_study(tmp_path / "chaos")
    back = load_series(only)
    aligned = embed_in_grid(truth, image.ijk_to_ras, back)  # same lattice, possibly another slice order
    assert aligned is not None and back.shape == image.shape
    span = float(image.array.max() - image.array.min())
    carried = align_to_reference(image.array, image.ijk_to_ras, back)[0]
    np.testing.assert_allclose(back.array, carried, atol=span / 60000)  # 16-bit storage
    seg = hd.seg.Segmentation.from_dataset(make_dicom_seg(aligned, back, 1004))
    uids = [pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID for f in back.meta["dicom_files"]]
    np.testing.assert_array_equal(seg.get_pixels_by_source_instance(uids, combine_segments=True,
                                                                    skip_overlap_checks=True), aligned)
