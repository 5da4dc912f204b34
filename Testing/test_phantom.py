"""Phantom generator: contract, geometry, textbook contrast, SNR, volumes, determinism, CLI."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
from scipy import ndimage

from CrossMRLib.errors import InputError
from CrossMRLib.io import read_series
from CrossMRLib.phantom import SERIES_NAMES, generate_study, write_study
from CrossMRLib.phantom.anatomy import build_anatomy
from CrossMRLib.phantom.study import ALL_IMAGES, plan_acquisition
from CrossMRLib.phantom.tissues import CODE

# stated ranges (README of the phantom, docstrings of acquisition.py / anatomy.py)
SNR_RANGE = {"t1w": (15, 50), "t2w": (10, 40), "dwi_b0": (8, 30), "dwi": (2, 15), "inphase": (15, 50)}
VOLUME_RANGE_ML = {"liver": (1000, 3000), "right kidney": (100, 300), "left kidney": (100, 300), "spleen": (100, 700)}


@pytest.fixture(scope="module")
def normal():
    return generate_study(0, fatty_liver=False)


@pytest.fixture(scope="module")
def fatty():
    return generate_study(1, fatty_liver=True)


def _mean(study, name, mask):
    return float(study.images[name].array[mask].mean())


def _organ(study, name, label):
    """Interior of an organ (eroded in-plane) in a series grid."""
    mask = study.labels[name].array == label
    return ndimage.binary_erosion(mask, structure=np.ones((1, 3, 3), bool)) if mask.sum() > 200 else mask


def _tissue(study, name, *tissue_names):
    codes = [CODE[t] for t in tissue_names]
    mask = np.isin(study.tissues[name].array, codes)
    return ndimage.binary_erosion(mask, structure=np.ones((1, 3, 3), bool))


def _ras_centroid(series, mask):
    k, j, i = np.nonzero(mask)
    ijk = np.stack([i, j, k, np.ones_like(i)]).astype(float)
    return (series.ijk_to_ras @ ijk)[:3].mean(axis=1)


def test_contract(normal):
    assert SERIES_NAMES == ("t1w", "t2w", "dwi", "inphase", "opposed")
    assert set(normal.images) == set(SERIES_NAMES) | {"dwi_b0"} == set(normal.labels)
    for name, image in normal.images.items():
        labels = normal.labels[name]
        assert image.array.dtype == np.float32 and labels.array.dtype == np.uint8
        assert image.shape == labels.shape and np.array_equal(image.ijk_to_ras, labels.ijk_to_ras)
        assert image.modality == name
        assert set(np.unique(labels.array)) == {0, 1, 2, 3, 4}
    json.dumps(normal.params)
    assert normal.params["seed"] == 0 and set(normal.params["series"]) == set(ALL_IMAGES)


def test_right_organs_lie_at_positive_ras_x_as_in_chaos(normal):
    for name, image in normal.images.items():
        lab = normal.labels[name].array
        x = {label: _ras_centroid(image, lab == label)[0] for label in (1, 2, 3, 4)}
        assert x[1] > 0 and x[2] > 0 > x[3] and x[4] < 0, name
        centre = {label: _ras_centroid(image, lab == label) for label in (2, 3)}
        assert centre[2][2] < centre[3][2] + 5, "right kidney should not lie above the left"


def test_series_geometries_differ_like_clinical_series(normal):
    grids = {n: normal.images[n] for n in ("t1w", "t2w", "dwi", "inphase")}
    spacings = [tuple(np.round(s.spacing, 2)) for s in grids.values()]
    assert len(set(spacings)) == 4
    assert len({s.num_slices for s in grids.values()}) >= 3
    thickness = [normal.params["series"][n]["geometry"]["thickness"] for n in grids]
    assert all(3.0 <= t <= 8.0 for t in thickness)
    tops = [s.slice_centres()[:, 2].max() for s in grids.values()]
    assert max(tops) - min(tops) > 1.0
    # in- and opposed-phase come from one dual-echo acquisition: same grid
    assert np.array_equal(normal.images["inphase"].ijk_to_ras, normal.images["opposed"].ijk_to_ras)
    assert normal.images["dwi"].spacing[0] > 1.5 * normal.images["t2w"].spacing[0]


def test_feet_first_slice_order_occurs_and_geometry_matches():
    flipped = [name for seed in range(6) for name, g in plan_acquisition(seed)[1].items() if g.feet_first]
    assert flipped
    _, geoms, _ = plan_acquisition(0)
    for g in geoms.values():
        assert (g.ijk_to_ras()[2, 2] < 0) == g.feet_first


def test_t1w_liver_brighter_than_spleen_fat_bright(normal, fatty):
    for s in (normal, fatty):
        liver, spleen = _mean(s, "t1w", _organ(s, "t1w", 1)), _mean(s, "t1w", _organ(s, "t1w", 4))
        fat = _mean(s, "t1w", _tissue(s, "t1w", "subcutaneous fat"))
        assert liver > 1.1 * spleen and fat > 1.3 * liver


def test_t2w_spleen_brighter_than_liver_fluid_brightest(normal):
    means = {l: _mean(normal, "t2w", _organ(normal, "t2w", l)) for l in (1, 2, 3, 4)}
    fluid = _mean(normal, "t2w", _tissue(normal, "t2w", "GI fluid", "CSF", "bile"))
    assert means[4] > 1.5 * means[1]
    assert fluid > max(means.values())
    assert _mean(normal, "t2w", _tissue(normal, "t2w", "subcutaneous fat")) < means[1]  # fat suppressed


def test_dwi_spleen_and_kidneys_brighter_than_liver(normal, fatty):
    for s in (normal, fatty):
        m = {l: _mean(s, "dwi", _organ(s, "dwi", l)) for l in (1, 2, 3, 4)}
        assert m[4] > 1.5 * m[1] and m[2] > 1.1 * m[1] and m[3] > 1.1 * m[1]
        b0 = {l: _mean(s, "dwi_b0", _organ(s, "dwi_b0", l)) for l in (1, 4)}
        assert m[1] < 0.7 * b0[1] and m[4] < b0[4]


def _phase_ratio(study, mask):
    return _mean(study, "opposed", mask) / _mean(study, "inphase", mask)


def test_opposed_phase_drops_in_fatty_liver_only(normal, fatty):
    assert _phase_ratio(fatty, _organ(fatty, "inphase", 1)) < 0.8
    assert _phase_ratio(normal, _organ(normal, "inphase", 1)) > 0.9


def test_opposed_phase_india_ink_at_fat_water_boundaries(normal):
    kidneys = np.isin(normal.labels["inphase"].array, (2, 3))
    ring = ndimage.binary_dilation(kidneys, np.ones((1, 3, 3), bool)) & ~kidneys
    interior = ndimage.binary_erosion(kidneys, np.ones((1, 5, 5), bool))
    fat = _tissue(normal, "inphase", "subcutaneous fat")
    assert _phase_ratio(normal, ring) < 0.8 * _phase_ratio(normal, interior)
    assert _phase_ratio(normal, ring) < 0.8 * _phase_ratio(normal, fat)


def test_snr_within_stated_range(normal):
    for name, (lo, hi) in SNR_RANGE.items():
        image = normal.images[name].array
        air = ndimage.binary_erosion(normal.tissues[name].array == CODE["air"], np.ones((1, 5, 5), bool))
        sigma = image[air].mean() / np.sqrt(np.pi / 2)  # Rayleigh background
        snr = _mean(normal, name, _organ(normal, name, 1)) / sigma
        assert lo <= snr <= hi, (name, snr)


def test_label_volumes_in_adult_ranges(normal, fatty):
    volumes = [normal.params["organ_volumes_ml"], fatty.params["organ_volumes_ml"]]
    volumes += [_volumes(build_anatomy(seed)) for seed in (2, 3)]
    for vol in volumes:
        for organ, (lo, hi) in VOLUME_RANGE_ML.items():
            assert lo <= vol[organ] <= hi, (organ, vol[organ])
    for name in ("t2w", "dwi"):  # each series' labelmap holds the whole organ
        series = normal.labels[name]
        voxel_ml = float(np.prod(series.spacing)) / 1000
        liver_ml = float((series.array == 1).sum()) * voxel_ml
        assert abs(liver_ml / volumes[0]["liver"] - 1) < 0.15


def _volumes(anatomy):
    voxel_ml = float(np.prod(anatomy.grid.spacing)) / 1000
    counts = np.bincount(anatomy.labels.ravel(), minlength=5)
    return {"liver": counts[1] * voxel_ml, "right kidney": counts[2] * voxel_ml, "left kidney": counts[3] * voxel_ml,
            "spleen": counts[4] * voxel_ml}


def _spread(image, mask):
    """Coefficient of variation inside a mask (eroded in-plane): low when the mask covers one tissue."""
    inside = ndimage.binary_erosion(mask, np.ones((1, 3, 3), bool))
    values = image[inside]
    return float(values.std() / values.mean())


def test_labels_align_with_image_content(normal):
    for name in ALL_IMAGES:
        image, lab = normal.images[name].array, normal.labels[name].array
        for label in (1, 2, 3, 4):
            organ = lab == label
            ring = ndimage.binary_dilation(organ, np.ones((1, 7, 7), bool)) & ~organ
            inside, around = _mean(normal, name, _organ(normal, name, label)), _mean(normal, name, ring)
            assert abs(inside - around) > 0.05 * max(inside, around), (name, label, inside, around)
            # the organ is more homogeneous under its own label than under the label moved by ~2 cm
            shift = int(round(20 / normal.images[name].spacing[0]))
            aligned, moved = _spread(image, organ), _spread(image, np.roll(organ, shift, axis=2))
            assert aligned < moved, (name, label, aligned, moved)


def test_unsupported_field_strength_is_a_user_error():
    with pytest.raises(InputError, match="1.5 or 3"):
        generate_study(0, field_strength=2.0)


def test_cli_writes_studies_and_preview_with_identical_bytes_for_same_seed(normal, tmp_path):
    from CrossMRLib.commands.phantom import add_parser, run

    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["phantom", "--out", str(tmp_path / "cli"), "--seed", "0", "--preview", "--fatty-liver", "no"])
    assert args.func(args) == 0 and run is args.func
    folder = tmp_path / "cli" / "study_0"
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted([f"{n}.nii.gz" for n in ALL_IMAGES] + [f"{n}.labels.nii.gz" for n in ALL_IMAGES] + ["study.json",
                                                                                                  "t1w_scribbles.nii.gz"])
    assert (tmp_path / "cli" / "phantom_preview_0.png").stat().st_size > 10_000
    again = write_study(normal, tmp_path / "api")
    for name in (n for n in names if n != "t1w_scribbles.nii.gz"):  # the scribbles: test_phantom_dicom.py
        assert (folder / name).read_bytes() == (again / name).read_bytes(), name
    back = read_series(folder / "dwi.nii.gz")
    assert np.allclose(back.ijk_to_ras, normal.images["dwi"].ijk_to_ras, atol=1e-4)
    assert np.array_equal(back.array, normal.images["dwi"].array)
    assert json.loads((folder / "study.json").read_text())["seed"] == 0


def test_chemical_shift_echo_times_follow_field_strength():
    for field, (op, ip) in ((1.5, (2.30, 4.60)), (3.0, (1.15, 2.30))):
        seqs = plan_acquisition(5, field)[0]
        assert seqs["opposed"].te == pytest.approx(op, rel=0.03) and seqs["inphase"].te == pytest.approx(ip, rel=0.03)
        assert 75 <= seqs["t2w"].te <= 100 and seqs["t2w"].fat_sat > 0.5 and seqs["dwi"].b == 800 and seqs["dwi_b0"].b == 0


def test_seeds_with_a_collapsed_bowel_box_still_generate():
    """Seed 1013 once crashed in paint_small_bowel (its bowel box had low > high on one axis)."""
    study = generate_study(1013)
    assert (study.labels["t1w"].array == 1).any()
