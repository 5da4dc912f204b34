"""Registration-based label transfer: exact geometry into ITK, and motion between series recovered."""

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from CrossMRLib.errors import InputError  # noqa: E402
from CrossMRLib.series import Series, make_ijk_to_ras  # noqa: E402
from train.baselines.registration import (RegisteredMethod, RegistrationSettings, register, to_sitk,  # noqa: E402
                                          transfer_labels)

FAST = RegistrationSettings(work_mm=4.0, sampling=0.3, rigid_iterations=60, bspline_iterations=30, mesh_mm=50.0)


def body(points: np.ndarray, shift: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Image and labels of a blob 'abdomen' at RAS points (..., 3); organs moved by `shift` mm."""
    image = np.where(np.linalg.norm((points - [0, 0, 0]) / [90, 70, 60], axis=-1) < 1, 0.3, 0.0)
    labels = np.zeros(points.shape[:-1], np.uint8)
    organs = {1: ([-35, 5, 10], [35, 30, 35], 0.8), 2: ([-30, -35, -20], [15, 12, 22], 0.6),
              3: ([35, -35, -15], [15, 12, 22], 0.5), 4: ([45, 0, 20], [18, 25, 25], 0.9)}
    for organ, (centre, radii, value) in organs.items():
        inside = np.linalg.norm((points - np.add(centre, shift)) / radii, axis=-1) < 1
        image, labels = np.where(inside, value, image), np.where(inside, organ, labels)
    return image.astype(np.float32), labels


def series(name: str, signs: tuple[float, float, float], spacing: tuple[float, float, float], shape_kji,
           shift=(0.0, 0.0, 0.0), invert=False) -> tuple[Series, np.ndarray]:
    """Blob study sampled on a grid stored with the given axis signs (RAS (1, 1, 1), LPS (-1, -1, 1)...)."""
    counts = np.array(shape_kji[::-1], float)
    directions = np.diag(signs)
    origin = -directions @ (np.array(spacing) * (counts - 1) / 2)
    matrix = make_ijk_to_ras(spacing, tuple(origin), directions)
    k, j, i = np.meshgrid(*(np.arange(n) for n in shape_kji), indexing="ij")
    points = (matrix @ np.stack([i, j, k, np.ones_like(i)]).reshape(4, -1))[:3].T.reshape(*shape_kji, 3)
    image, labels = body(points, np.array(shift))
    rng = np.random.default_rng(len(name))
    image = (1.0 - image if invert else image) + 0.02 * rng.standard_normal(image.shape).astype(np.float32)
    return Series(image.astype(np.float32), matrix, name, name), labels


def mean_dice(a: np.ndarray, b: np.ndarray) -> float:
    scores = [2 * ((a == o) & (b == o)).sum() / max((a == o).sum() + (b == o).sum(), 1) for o in range(1, 5)]
    return float(np.mean(scores))


def test_sitk_image_has_the_series_geometry_in_lps():
    ref, _ = series("t1w", (-1.0, 1.0, -1.0), (1.5, 2.0, 5.0), (8, 20, 30))
    image = to_sitk(ref.array, ref.ijk_to_ras)
    for ijk in [(0, 0, 0), (29, 19, 7), (3, 11, 5)]:
        ras = ref.ijk_to_ras @ np.array([*ijk, 1.0])
        lps = image.TransformIndexToPhysicalPoint(ijk)
        assert np.allclose(lps, [-ras[0], -ras[1], ras[2]])
    assert image.GetSize() == (30, 20, 8)


def test_breath_hold_motion_between_series_is_recovered_across_storage_orientations_and_contrasts():
    ref, ref_labels = series("t1w", (1.0, 1.0, 1.0), (4.0, 4.0, 5.0), (22, 40, 48))
    target, truth = series("t2w", (-1.0, -1.0, 1.0), (4.5, 4.5, 6.0), (18, 36, 42), shift=(3.0, 8.0, 12.0),
                           invert=True)  # organs moved, body still: only the B-spline stage can follow
    transform = register(target, ref, FAST)
    moved = transfer_labels(ref_labels, ref, target, transform)
    identity = transfer_labels(ref_labels, ref, target, to_sitk_identity())
    assert mean_dice(identity, truth) < 0.6  # the check can fail: without registration the organs miss
    assert mean_dice(moved, truth) > max(mean_dice(identity, truth) + 0.15, 0.7)


def to_sitk_identity():
    import SimpleITK as sitk

    return sitk.Transform(3, sitk.sitkIdentity)


def test_registered_method_returns_reference_labels_on_the_reference_and_times_each_target():
    ref, ref_labels = series("t1w", (1.0, 1.0, 1.0), (6.0, 6.0, 8.0), (12, 30, 32))
    target, _ = series("dwi", (-1.0, 1.0, 1.0), (6.0, 6.0, 8.0), (12, 30, 32), shift=(0.0, 4.0, 6.0))
    method = RegisteredMethod(lambda reference, scribbles: ref_labels, FAST, threads=1)
    assert np.array_equal(method.segment_target(ref, ref_labels, ref), ref_labels)
    out = method.segment_target(ref, ref_labels, target)
    assert out.shape == target.shape and set(np.unique(out)) <= {0, 1, 2, 3, 4}
    assert method.seconds["dwi"] > 0


def test_labels_off_the_reference_grid_are_a_one_line_error():
    ref, ref_labels = series("t1w", (1.0, 1.0, 1.0), (4.0, 4.0, 6.0), (6, 10, 12))
    with pytest.raises(InputError, match="not on the reference grid"):
        transfer_labels(ref_labels[:-1], ref, ref, to_sitk_identity())
