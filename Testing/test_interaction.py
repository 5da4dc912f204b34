"""The simulated correcting user of train/interaction.py: where it strokes, what it reports."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "train"))

import interaction  # noqa: E402
from CrossMRLib.corrections.strokes import ERASE  # noqa: E402
from synthetic import make_series  # noqa: E402


def test_the_stroke_lies_in_the_largest_error_region_on_its_largest_slice():
    truth = np.zeros((6, 40, 40), np.uint8)
    truth[:, 5:35, 5:20] = 1
    pred = truth.copy()
    pred[1:3, 5:35, 5:12] = 0  # liver missed on two slices (2 x 30 x 7 voxels) ...
    pred[2, 8:30, 12:15] = 0  # ... a little more on slice 2
    pred[4, 30:36, 25:35] = 4  # a small extra spleen
    stroke = interaction.error_stroke(pred, truth, (6.0, 1.5, 1.5))
    assert set(np.unique(stroke)) == {0, 1} and np.flatnonzero(stroke.any((1, 2))).tolist() == [2]
    assert ((truth == 1) & (pred != 1))[stroke > 0].all() and (stroke > 0).sum() >= 3
    pred[0:5, 20:30, 25:38] = 3  # now a large extra left kidney: an erase stroke inside it
    stroke = interaction.error_stroke(pred, truth, (6.0, 1.5, 1.5))
    assert set(np.unique(stroke)) == {0, ERASE} and (pred[stroke > 0] == 3).all()
    assert interaction.error_stroke(truth, truth, (6.0, 1.5, 1.5)) is None


def test_the_ceiling_fixes_the_largest_error_region_of_the_worst_series_each_round():
    truth = np.zeros((6, 40, 40), np.uint8)
    truth[:, 5:35, 5:20] = 1
    good = truth.copy()
    good[0, 5:8, 5:8] = 0  # 9 voxels missed
    bad = truth.copy()
    bad[1:3, 5:35, 5:12] = 0  # 420 voxels missed ...
    bad[4, 30:36, 25:35] = 4  # ... and 60 extra spleen voxels
    scores = interaction.ceiling({"a": good, "b": bad}, {"a": truth, "b": truth}, 3)
    assert scores[0]["b"] < scores[1]["b"] < 1.0 and scores[1]["a"] == scores[0]["a"]  # the missed liver first
    assert scores[2]["b"] == 1.0 and scores[3]["a"] == 1.0  # then the spleen; then the other series
    assert interaction.largest_error_region(truth, truth) is None


def test_curves_rounds_to_thresholds_and_the_table():
    runs = {"a": [{"model": {"dwi": 0.85}}, {"model": {"dwi": 0.93}}, {"model": {"dwi": 0.96}}],
            "b": [{"model": {"dwi": 0.89}}, {"model": {"dwi": 0.89}}, {"model": {"dwi": 0.94}}]}
    out = interaction.curves(runs)
    assert out["dwi"]["mean_dice"] == [0.87, 0.91, 0.95]
    assert out["dwi"]["rounds_to"] == {"0.90": 1, "0.95": 2}
    page = interaction.render({"rounds": 2, "studies": [1, 2], "phantom": {"model": out, "seconds": [0.8, 1.2]}})
    assert "| dwi | CrossMR | 0.870 | 0.910 | 0.950 | 1 | 2 |" in page and "median 1.00 s" in page


def test_the_simulated_user_corrects_the_worst_series_only():
    ref, ref_truth = make_series("t1w", shape_kji=(12, 56, 56), spacing=(6.0, 6.0, 10.0), origin=(-168, -168, -60))
    t2, t2_truth = make_series("t2w", shape_kji=(10, 48, 48), spacing=(7.0, 7.0, 12.0), origin=(-168, -168, -60),
                               contrast={0: 0.2, 1: 0.3, 2: 0.7, 3: 0.75, 4: 0.6}, seed=1)
    scribbles = np.zeros(ref.shape, np.uint8)
    scribbles[5][ref_truth.array[5] == 1] = 1
    truths = {"t1w": ref_truth.array, "t2w": t2_truth.array}
    run = interaction.simulate(ref, scribbles, [t2], truths, 1, "region-growing", log=lambda m: None)["rounds"]
    assert len(run) == 2 and run[1]["corrected"] == min(run[0]["model"], key=run[0]["model"].get)
    assert run[0]["ceiling"] == run[0]["model"] and min(run[1]["ceiling"].values()) >= min(run[0]["model"].values())
    other = "t1w" if run[1]["corrected"] == "t2w" else "t2w"
    assert run[1]["model"][other] == run[0]["model"][other] and run[1]["seconds"] > 0
