"""Organ volumes and the cross-series consistency check: true labels pass, a broken series is flagged."""

import csv

import numpy as np
from scipy import ndimage

from CrossMRLib.series import Series, make_ijk_to_ras
from CrossMRLib.volumes import CONSISTENCY_THRESHOLD, consistency_warnings, organ_volumes_ml, volume_table, write_volumes_csv

SERIES = ("t1w", "t2w", "dwi", "inphase", "opposed")


def test_volume_is_voxel_count_times_voxel_volume():
    grid = Series(np.zeros((4, 5, 6), np.float32), make_ijk_to_ras((1.5, 2.0, 5.0), (0, 0, 0)), "s")
    labels = np.zeros(grid.shape, np.uint8)
    labels[0, :2, :3] = 1  # 6 voxels of 15 mm3
    labels[3, 4, 5] = 4
    assert organ_volumes_ml(labels, grid) == {"liver": 0.09, "right kidney": 0.0, "left kidney": 0.0, "spleen": 0.015}


def test_true_labels_agree_and_a_deliberately_broken_series_is_flagged(study, tmp_path):
    labels = {n: study.labels[n].array.astype(np.uint8) for n in SERIES}
    grids = {n: study.images[n] for n in SERIES}
    rows = volume_table(labels, grids, [1, 2, 3, 4])
    assert len(rows) == 20 and not any(r.flagged for r in rows)
    assert max(abs(r.deviation) for r in rows) < CONSISTENCY_THRESHOLD
    broken = dict(labels)
    spleen = labels["t2w"] == 4
    broken["t2w"] = np.where(spleen & ~ndimage.binary_erosion(spleen, np.ones((1, 3, 3)), 2), 0, labels["t2w"])
    broken["t2w"] = broken["t2w"].astype(np.uint8)
    rows = volume_table(broken, grids, [1, 2, 3, 4])
    assert [(r.series, r.organ) for r in rows if r.flagged] == [("t2w", "spleen")]
    warnings = consistency_warnings(rows)
    assert len(warnings) == 1 and warnings[0].startswith("t2w: spleen volume") and "below the study median" in warnings[0]
    back = list(csv.DictReader(write_volumes_csv(rows, tmp_path / "volumes.csv").open()))
    assert [r["flagged"] for r in back].count("True") == 1 and float(back[0]["volume_ml"]) == rows[0].volume_ml


def test_an_organ_cut_off_by_a_series_coverage_is_marked_not_flagged(study):
    labels = {n: study.labels[n].array.astype(np.uint8) for n in SERIES}
    liver_slices = np.flatnonzero((labels["dwi"] == 1).any(axis=(1, 2)))
    start = int(np.median(liver_slices))
    short = Series(study.images["dwi"].array[start:], study.images["dwi"].ijk_to_ras, "dwi")
    short.ijk_to_ras[:3, 3] += short.ijk_to_ras[:3, 2] * start  # a slab starting mid-liver
    labels["dwi"] = labels["dwi"][start:]
    grids = {**{n: study.images[n] for n in SERIES}, "dwi": short}
    row = next(r for r in volume_table(labels, grids, [1]) if r.series == "dwi")
    assert row.cut_off and row.deviation < -CONSISTENCY_THRESHOLD and not row.flagged


def test_organs_without_scribbles_and_organs_found_nowhere_are_not_flagged(study):
    labels = {n: np.zeros(study.labels[n].shape, np.uint8) for n in SERIES}
    rows = volume_table(labels, {n: study.images[n] for n in SERIES}, [1])
    assert {r.organ for r in rows} == {"liver"} and not any(r.flagged for r in rows)
    assert all(r.median_ml is None and r.deviation is None for r in rows)
