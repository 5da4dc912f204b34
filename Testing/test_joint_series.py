"""Series on one grid (the in- and opposed-phase echoes of one acquisition) are segmented together by
default and get the same masks; `--separate-series` / joint=False segments each on its own."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from CrossMRLib.cli import main
from CrossMRLib.errors import InputError
from CrossMRLib.io import write_labels_nifti, write_series_nifti
from CrossMRLib.methods.crossmr_model import CrossMRModelMethod
from CrossMRLib.model.config import ModelConfig
from CrossMRLib.model.network import CrossMRNet
from CrossMRLib.model.weights import save_weights
from CrossMRLib.pairing import pair_slices
from CrossMRLib.pipeline import segment_study
from CrossMRLib.series import Series, same_grid_groups
from synthetic import noise_series

TINY = ModelConfig(input_size=64, embed_dim=16, depths=(1, 1, 1, 1), hidden_dim=32, num_queries=3, num_points=4)
SPACING = (4.0, 4.0, 6.0)


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("w") / "tiny.pt"
    save_weights(CrossMRNet(TINY), path, {"presence_thresholds": [0.3] * 4})  # organs show up on most slices
    return path


@pytest.fixture(scope="module")
def method(weights) -> CrossMRModelMethod:
    return CrossMRModelMethod(weights=weights, threads=1)


def _series(name: str, seed: int, origin=(0.0, 0.0, 0.0), spacing=SPACING, shape=(6, 40, 48)) -> Series:
    return noise_series(name, seed, shape, spacing, origin)


def _scribbles(shape) -> np.ndarray:
    s = np.zeros(shape, np.uint8)
    s[1:5, 10:14, 10:30] = 1
    s[2:4, 25:28, 30:36] = 3
    return s


def _study():
    """Reference, a target on another grid, and two 'echoes' sharing a third grid (different voxels)."""
    ref = _series("t1w", 0)
    other = _series("t2w", 1, origin=(3.0, -2.0, 1.0), spacing=(4.4, 4.4, 6.0), shape=(6, 36, 44))
    inphase = _series("inphase", 2, origin=(1.0, 1.0, 2.0))
    opposed = Series(_series("x", 3).array, inphase.ijk_to_ras + 1e-5, "opposed")  # float-rounding off, same grid
    return ref, other, inphase, opposed


def test_same_grid_groups_keep_the_input_order():
    ref, other, inphase, opposed = _study()
    assert same_grid_groups([ref, inphase, other, opposed]) == [[0], [1, 3], [2]]
    assert same_grid_groups([inphase, _series("shifted", 2, origin=(1.0, 1.0, 2.5))]) == [[0], [1]]


def test_echoes_get_the_same_masks_and_one_series_alone_is_segmented_as_before(method):
    ref, _, inphase, opposed = _study()
    scr = _scribbles(ref.shape)
    pairing = pair_slices(ref, inphase)
    both = method.segment_targets(ref, scr, [inphase, opposed], [pairing, pair_slices(ref, opposed)])
    assert np.array_equal(both[0], both[1]) and both[0].any()
    alone = method.segment_target(ref, scr, inphase, pairing)
    assert np.array_equal(method.segment_targets(ref, scr, [inphase], [pairing])[0], alone)
    twin = inphase.with_array(inphase.array.copy(), "twin")  # the same image twice: the same as once
    assert all(np.array_equal(out, alone) for out in method.segment_targets(ref, scr, [inphase, twin], [pairing] * 2))
    assert not np.array_equal(both[0], alone)  # the opposed echo's evidence counts


def test_series_on_different_grids_are_refused_together(method):
    ref, other, inphase, _ = _study()
    with pytest.raises(InputError, match="not on one grid"):
        method.segment_targets(ref, _scribbles(ref.shape), [inphase, other],
                               [pair_slices(ref, inphase), pair_slices(ref, other)])


def test_segment_study_joins_same_grid_series_by_default_and_not_when_told(method):
    ref, other, inphase, opposed = _study()
    scr = _scribbles(ref.shape)
    joint = segment_study(ref, scr, [other, inphase, opposed], method=method)
    assert list(joint.labels) == ["t1w", "t2w", "inphase", "opposed"]
    assert joint.together == [["inphase", "opposed"]]
    assert np.array_equal(joint.labels["inphase"], joint.labels["opposed"])
    apart = segment_study(ref, scr, [other, inphase, opposed], method=method, joint=False)
    assert apart.together == []
    assert np.array_equal(apart.labels["inphase"], method.segment_target(ref, scr, inphase, pair_slices(ref, inphase)))
    assert np.array_equal(apart.labels["t2w"], joint.labels["t2w"])
    grown = segment_study(ref, scr, [inphase, opposed], method="region-growing")  # no probabilities to average
    assert grown.together == []


def test_cli_records_which_series_were_segmented_together(weights, tmp_path):
    ref, _, inphase, opposed = _study()
    for series in (ref, inphase, opposed):
        write_series_nifti(series, tmp_path / f"{series.name}.nii.gz")
    write_labels_nifti(_scribbles(ref.shape), ref, tmp_path / "scribbles.nii.gz")
    together = {}
    for extra in ([], ["--separate-series"]):
        out = tmp_path / f"out{len(extra)}"
        assert main(["segment", str(tmp_path / "t1w.nii.gz"), str(tmp_path / "scribbles.nii.gz"),
                     str(tmp_path / "inphase.nii.gz"), str(tmp_path / "opposed.nii.gz"), "-o", str(out),
                     "--weights", str(weights), "--threads", "1", *extra]) == 0
        together[bool(extra)] = json.loads((out / "crossmr_run.json").read_text())["segmented_together"]
    assert together == {False: [["inphase", "opposed"]], True: []}


def test_a_target_on_the_reference_grid_is_segmented_with_the_reference(method):
    """Strokes on the in-phase echo: the opposed echo gets the reference's masks, strokes included."""
    _, _, inphase, opposed = _study()
    scr = _scribbles(inphase.shape)
    result = segment_study(inphase, scr, [opposed], method=method)
    assert result.together == [["inphase", "opposed"]]
    assert np.array_equal(result.labels["inphase"], result.labels["opposed"])
    assert (result.labels["opposed"][scr > 0] == scr[scr > 0]).all()
