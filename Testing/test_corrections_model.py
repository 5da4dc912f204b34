"""Corrections with the shipped weights on the generated sample study (subsampled in-plane for speed): a stroke
on a target segments there what the reference's scribbles missed, same-series prompting included."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

import CrossMRLib
from CrossMRLib.corrections.session import CorrectionSession
from CrossMRLib.methods.crossmr_model import CrossMRModelMethod
from CrossMRLib.metrics import dice
from CrossMRLib.model.weights import WEIGHTS_FILE

SPLEEN = 4


@pytest.fixture(scope="module")
def shipped() -> CrossMRModelMethod:
    return CrossMRModelMethod(Path(CrossMRLib.__file__).resolve().parents[1] / "Resources" / "Models" / WEIGHTS_FILE,
                              threads=2)


def _scribbles_without_spleen(truth: np.ndarray) -> np.ndarray:
    """A stroke on every third slice of the liver and both kidneys; the spleen forgotten."""
    out = np.zeros(truth.shape, np.uint8)
    for organ in (1, 2, 3):
        for k in np.flatnonzero((truth == organ).any((1, 2)))[1::3]:
            core = ndimage.binary_erosion(truth[k] == organ, iterations=2)
            rows = np.flatnonzero(core.any(1))
            if rows.size:
                j = rows[len(rows) // 2]
                out[k, j][core[j]] = organ
    return out


def _one_stroke(truth: np.ndarray, organ: int) -> np.ndarray:
    """One line through the middle of the organ on the slice where it is largest."""
    out = np.zeros(truth.shape, np.uint8)
    k = int(np.argmax((truth == organ).sum((1, 2))))
    core = ndimage.binary_erosion(truth[k] == organ, iterations=1)
    j = np.flatnonzero(core.any(1))[int(core.any(1).sum()) // 2]
    out[k, j][core[j]] = organ
    return out


def test_a_stroke_on_a_target_segments_what_the_reference_missed_there_only(study, shipped):
    reference, dwi = study.images["t1w"], study.images["dwi"]
    truth = {n: np.asarray(study.labels[n].array, np.uint8) for n in ("t1w", "dwi")}
    session = CorrectionSession(reference, _scribbles_without_spleen(truth["t1w"]), [dwi], method=shipped)
    first = session.run()
    assert not (first.labels["dwi"] == SPLEEN).any()
    stroke = _one_stroke(truth["dwi"], SPLEEN)
    fixed = session.correct("dwi", stroke)
    spleen = dice(fixed.labels["dwi"] == SPLEEN, truth["dwi"] == SPLEEN)
    print(f"DWI spleen DSC from one stroke: {spleen:.3f}")
    assert spleen > 0.7, spleen  # the model found the spleen on the other slices from one stroke on one slice
    assert spleen > 3 * dice(stroke == SPLEEN, truth["dwi"] == SPLEEN)
    for organ in (1, 2, 3):  # the other organs keep their quality
        before = dice(first.labels["dwi"] == organ, truth["dwi"] == organ)
        assert dice(fixed.labels["dwi"] == organ, truth["dwi"] == organ) > before - 0.02, organ
    assert list(fixed.labels) == ["dwi"] and np.array_equal(session.labels["t1w"], first.labels["t1w"])
