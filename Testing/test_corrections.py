"""Corrections (#39): stroke checks, erase strokes, same-series token choice, re-running one series with cached
encoder outputs, and `crossmr segment --strokes SERIES FILE`."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from CrossMRLib.cli import main
from CrossMRLib.corrections.erase import apply_erase
from CrossMRLib.corrections.session import CorrectionSession
from CrossMRLib.corrections.strokes import ERASE, validate_strokes
from CrossMRLib.corrections.tokens import own_rows
from CrossMRLib.errors import InputError
from CrossMRLib.io import read_series, write_labels_nifti, write_series_nifti
from CrossMRLib.methods.crossmr_model import CrossMRModelMethod
from CrossMRLib.model.config import ModelConfig
from CrossMRLib.model.network import CrossMRNet
from CrossMRLib.model.weights import save_weights
from CrossMRLib.pipeline import segment_study
from CrossMRLib.series import Series
from synthetic import make_series, noise_series

TINY = ModelConfig(input_size=64, embed_dim=16, depths=(1, 1, 1, 1), hidden_dim=32, num_queries=3, num_points=4)


def _series(name: str, seed: int, shape=(12, 40, 48), spacing=(4.0, 4.0, 6.0), origin=(0.0, 0.0, 0.0)) -> Series:
    return noise_series(name, seed, shape, spacing, origin)


def _scribbles(shape) -> np.ndarray:
    s = np.zeros(shape, np.uint8)
    s[2:10, 10:14, 10:30] = 1
    s[4:8, 25:28, 30:36] = 3
    return s


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> CrossMRModelMethod:
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("w") / "tiny.pt"
    save_weights(CrossMRNet(TINY), path, {"presence_thresholds": [0.3] * 4})
    return CrossMRModelMethod(weights=path, threads=1)


def test_an_erase_stroke_removes_the_wrong_piece_up_to_the_organs_strokes_and_never_a_stroke():
    labels = np.zeros((5, 30, 60), np.uint8)
    labels[:, 5:25, 5:25] = 1  # the liver ...
    labels[1:4, 12:16, 25:50] = 1  # ... leaking along a bridge into a neighbour
    labels[:, 5:25, 52:58] = 1  # and a separate wrong piece
    anchors = np.zeros_like(labels)
    anchors[:, 15, 10] = 1  # the scribbles carried onto the series
    anchors[2, 14, 24] = 1  # an organ stroke right at the bridge
    strokes = np.zeros_like(labels)
    strokes[2, 13:15, 44:47] = ERASE
    strokes[2, 10:20, 55] = ERASE
    out = apply_erase(labels, strokes, anchors, (6.0, 2.0, 2.0))
    assert (out[anchors > 0] == 1).all()  # strokes stay
    assert not out[:, 5:25, 52:58].any()  # the separate wrong piece goes whole
    assert not out[1:4, 12:16, 40:50].any()  # the bridge near the erase stroke goes on every slice it spans
    assert (out[:, 5:25, 5:25] == 1).all()  # the liver itself stays
    assert (out[strokes == ERASE] == 0).all()
    assert np.array_equal(apply_erase(labels, np.zeros_like(labels), anchors, (6.0, 2.0, 2.0)), labels)


def test_own_strokes_reach_the_slices_within_reach_only():
    has = np.zeros((10, 4), bool)
    has[3, 0] = has[8, 2] = True
    rows = own_rows(has, slice_mm=5.0, reach_mm=10.0)
    assert rows[:, 0].tolist() == [-1, 3, 3, 3, 3, 3, -1, -1, -1, -1]
    assert rows[:, 2].tolist() == [-1] * 6 + [8, 8, 8, 8]
    assert (rows[:, [1, 3]] == -1).all()


def test_bad_strokes_get_one_line_errors():
    ref, tgt = _series("t1w", 0), _series("dwi", 1, shape=(10, 30, 36))
    good = np.zeros(tgt.shape, np.uint8)
    good[3, 5:9, 5:9] = 2
    good[4, 5:9, 5:9] = ERASE
    assert set(validate_strokes({"dwi": good}, [ref, tgt])) == {"dwi"}
    assert validate_strokes({"dwi": np.zeros(tgt.shape, np.uint8)}, [ref, tgt]) == {}  # empty: no strokes
    cases = [({"adc": good}, "not in this run"), ({"dwi": np.zeros(ref.shape, np.uint8)}, "own grid"),
             ({"dwi": np.where(good == 2, 7, good)}, r"value\(s\) 7")]
    for strokes, message in cases:
        with pytest.raises(InputError, match=message) as info:
            segment_study(ref, _scribbles(ref.shape), [tgt], "region-growing", strokes=strokes)
        assert "\n" not in str(info.value)
    with pytest.raises(InputError, match="not in this run"):
        segment_study(ref, _scribbles(ref.shape), [tgt], "region-growing", only=["t2w"])


def test_rerunning_one_series_decodes_only_and_leaves_the_others_alone(tiny):
    ref, t2, dwi = _series("t1w", 0), _series("t2w", 1, origin=(2.0, -3.0, 1.0)), _series("dwi", 2, shape=(10, 36, 44))
    scribbles = _scribbles(ref.shape)
    plain = segment_study(ref, scribbles, [t2, dwi], tiny)
    session = CorrectionSession(ref, scribbles, [t2, dwi], method=tiny)
    calls = []
    encode = tiny.model.encode
    tiny.model.encode = lambda x, **kw: calls.append(len(x)) or encode(x, **kw)
    try:
        first = session.run()
        encoded_first = sum(calls)
        stroke = np.zeros(dwi.shape, np.uint8)
        stroke[5, 12:15, 20:30] = 4  # an organ the reference scribbles lack
        stroke[6, 20:22, 5:12] = ERASE
        before = {name: labels.copy() for name, labels in session.labels.items()}
        fixed = session.correct("dwi", stroke)
        again = session.correct("dwi", stroke)
    finally:
        tiny.model.encode = encode
    assert all(np.array_equal(first.labels[n], plain.labels[n]) for n in plain.labels)  # same as a plain run
    assert encoded_first == sum(calls)  # the corrections encoded nothing: every slice's features were cached
    assert list(fixed.labels) == ["dwi"]  # only the corrected series comes back ...
    assert all(np.array_equal(session.labels[n], before[n]) for n in ("t1w", "t2w"))  # ... the others are untouched
    assert (fixed.labels["dwi"][stroke == 4] == 4).all() and (fixed.labels["dwi"][stroke == ERASE] == 0).all()
    assert not np.array_equal(fixed.labels["dwi"], before["dwi"])
    assert np.array_equal(again.labels["dwi"], fixed.labels["dwi"])
    assert fixed.stroked == ["dwi"]


@pytest.fixture()
def cli_study(tmp_path):
    ref, ref_labels = make_series("t1w", shape_kji=(16, 84, 84), spacing=(4.0, 4.0, 8.0), origin=(-168, -168, -64))
    t2, t2_labels = make_series("t2w", shape_kji=(12, 70, 70), spacing=(4.8, 4.8, 10.0), origin=(-170, -170, -60),
                                contrast={0: 0.2, 1: 0.3, 2: 0.7, 3: 0.75, 4: 0.6}, seed=1)
    for series in (ref, t2):
        write_series_nifti(series, tmp_path / f"{series.name}.nii.gz")
    scribbles = np.zeros(ref.shape, np.uint8)
    scribbles[ref_labels.array == 1] = 1  # the liver only
    write_labels_nifti(scribbles, ref, tmp_path / "scribbles.nii.gz")
    strokes = np.zeros(t2.shape, np.uint8)
    k = int(np.argmax((t2_labels.array == 4).sum((1, 2))))
    strokes[k][(t2_labels.array[k] == 4)] = 4  # the spleen, painted on T2w alone
    write_labels_nifti(strokes, t2, tmp_path / "t2w_strokes.nii.gz")
    return tmp_path, t2_labels.array


def _segment(folder, *extra):
    return main(["segment", str(folder / "t1w.nii.gz"), str(folder / "scribbles.nii.gz"), str(folder / "t2w.nii.gz"),
                 "-o", str(folder / "out"), "--method", "region-growing", "--overwrite", *extra])


def test_cli_strokes_on_a_target_end_to_end(cli_study):
    folder, truth = cli_study
    assert _segment(folder, "--strokes", "t2w", str(folder / "t2w_strokes.nii.gz")) == 0
    out = folder / "out"
    t2 = read_series(out / "t2w.labels.nii.gz").array
    t1 = read_series(out / "t1w.labels.nii.gz").array
    assert (t2 == 4).sum() > 0.5 * (truth == 4).sum() and not (t1 == 4).any()  # the spleen on T2w alone
    record = json.loads((out / "crossmr_run.json").read_text())
    assert record["series_with_strokes"] == ["t2w"] and record["inputs"]["strokes"]["t2w"].endswith("t2w_strokes.nii.gz")
    spleen = [row for row in (out / "volumes.csv").read_text().splitlines() if ",spleen," in row]
    assert sorted(row.split(",")[0] for row in spleen) == ["t1w", "t2w"]  # an organ stroked on one series is listed


def test_cli_bad_strokes_exit_2_with_one_line(cli_study, capsys):
    folder, _ = cli_study
    bad = np.zeros((12, 70, 70), np.uint8)
    bad[3, 3, 3] = 9
    t2 = read_series(folder / "t2w.nii.gz")
    write_labels_nifti(bad, t2, folder / "bad_values.nii.gz")
    t1 = read_series(folder / "t1w.nii.gz")
    write_labels_nifti(np.zeros(t1.shape, np.uint8), t1, folder / "wrong_grid.nii.gz")
    for extra, message in ((["t2w", "bad_values.nii.gz"], "values must be"),
                           (["t2w", "wrong_grid.nii.gz"], "not on the grid of 't2w'"),
                           (["adc", "t2w_strokes.nii.gz"], "no series of this run")):
        capsys.readouterr()
        assert _segment(folder, "--strokes", extra[0], str(folder / extra[1])) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and message in err and len(err.splitlines()) == 1, err


def test_strokes_on_one_echo_rerun_both_echoes_with_the_same_masks(tiny):
    ref = _series("t1w", 0)
    inphase = _series("inphase", 3, shape=(10, 36, 44), origin=(1.0, 1.0, 2.0))
    opposed = Series(_series("x", 4, shape=(10, 36, 44)).array, inphase.ijk_to_ras, "opposed")
    session = CorrectionSession(ref, _scribbles(ref.shape), [inphase, opposed], method=tiny)
    session.run()
    stroke = np.zeros(inphase.shape, np.uint8)
    stroke[4, 10:13, 10:20] = 2
    fixed = session.correct("inphase", stroke)
    assert list(fixed.labels) == ["inphase", "opposed"] and fixed.together == [["inphase", "opposed"]]
    assert np.array_equal(fixed.labels["inphase"], fixed.labels["opposed"]) and (fixed.labels["opposed"][stroke == 2] == 2).all()
