"""Dice and Normalized Surface Dice (NSD), per organ, per 2D slice and per 3D volume.

Both metrics are computed by MONAI (`monai.metrics.compute_dice`, `compute_surface_dice`). NSD uses
MONAI's sub-voxel surface elements (`use_subvoxels=True`), which follows DeepMind's reference
`surface-distance` implementation (Nikolov et al. 2021): each boundary element is weighted by its
surface area (3D) or contour length (2D) in mm, so anisotropic voxels count correctly.

Conventions (a user relies on these when averaging):
- both masks empty -> Dice 1.0 and NSD 1.0 (nothing to find, nothing found);
- exactly one mask empty -> Dice 0.0 and NSD 0.0.
- `spacing` is ordered like the array axes: (k, j, i) mm for a (K, J, I) volume, (j, i) for a
  (J, I) slice. A `Series` gives (i, j, k), so pass `series.spacing[::-1]`.
- NSD tolerances are in mm (`NSD_TOLERANCE_MM`: liver 5 mm, kidneys and spleen 3 mm).
- `summarize` reports the mean and the sample standard deviation (ddof=1; NaN for a single value).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import torch
from monai.metrics import compute_dice, compute_surface_dice

from .errors import InputError
from .organs import ORGAN_BY_LABEL

NSD_TOLERANCE_MM: dict[int, float] = {1: 5.0, 2: 3.0, 3: 3.0, 4: 3.0}
DEFAULT_ORGANS: tuple[int, ...] = tuple(sorted(ORGAN_BY_LABEL))

OrganScores = dict[int, dict[str, float]]


def _check_pair(pred: np.ndarray, truth: np.ndarray, ndims: tuple[int, ...] = (2, 3)) -> None:
    if pred.shape != truth.shape:
        raise InputError(f"prediction shape {pred.shape} differs from reference shape {truth.shape}; "
                         "resample both onto the same grid")
    if pred.ndim not in ndims:
        wanted = " or ".join(f"{n}D" for n in ndims)
        raise InputError(f"masks must be {wanted}, got shape {pred.shape}; pass one slice or one volume")


def _check_spacing(spacing: Sequence[float], ndim: int) -> tuple[float, ...]:
    values = tuple(float(s) for s in spacing)
    if len(values) != ndim or not all(np.isfinite(values)) or min(values) <= 0:
        raise InputError(f"spacing {tuple(spacing)} must hold {ndim} positive mm values ordered like the array axes")
    return values


def _as_tensor(mask: np.ndarray) -> torch.Tensor:
    """Boolean (…) array -> float tensor shaped [batch=1, channel=1, …]."""
    return torch.from_numpy(np.ascontiguousarray(mask, dtype=np.float32))[None, None]


def dice(pred: np.ndarray, truth: np.ndarray) -> float:
    """Dice coefficient of two boolean masks (2D or 3D); see module docstring for empty masks."""
    pred, truth = np.asarray(pred, dtype=bool), np.asarray(truth, dtype=bool)
    _check_pair(pred, truth)
    has_pred, has_truth = bool(pred.any()), bool(truth.any())
    if not has_pred and not has_truth:
        return 1.0
    if not has_pred or not has_truth:
        return 0.0
    value = compute_dice(_as_tensor(pred), _as_tensor(truth), include_background=True, ignore_empty=False)
    return float(value[0, 0])


def surface_dice(pred: np.ndarray, truth: np.ndarray, spacing: Sequence[float], tolerance_mm: float) -> float:
    """Normalized Surface Dice of two boolean masks (2D or 3D) at `tolerance_mm`.

    `spacing` is in mm, ordered like the array axes. The fraction of both boundaries (by area or
    length) that lies within `tolerance_mm` of the other boundary.
    """
    pred, truth = np.asarray(pred, dtype=bool), np.asarray(truth, dtype=bool)
    _check_pair(pred, truth)
    spacing = _check_spacing(spacing, pred.ndim)
    if not np.isfinite(tolerance_mm) or tolerance_mm < 0:
        raise InputError(f"NSD tolerance {tolerance_mm} must be a finite number of mm >= 0")
    has_pred, has_truth = bool(pred.any()), bool(truth.any())
    if not has_pred and not has_truth:
        return 1.0
    if not has_pred or not has_truth:
        return 0.0
    # Crop to the union's bounding box (+1 voxel): MONAI crops too, but this keeps tensor copies small.
    union = pred | truth
    box = tuple(slice(max(int(idx.min()) - 1, 0), int(idx.max()) + 2) for idx in np.nonzero(union))
    pred, truth = pred[box], truth[box]
    y_pred = torch.cat([_as_tensor(~pred), _as_tensor(pred)], dim=1)  # one-hot [1, 2, ...]
    y = torch.cat([_as_tensor(~truth), _as_tensor(truth)], dim=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = compute_surface_dice(y_pred, y, class_thresholds=[float(tolerance_mm)], include_background=False,
                                     spacing=list(spacing), use_subvoxels=True)
    return float(value[0, 0])


def _check_labels(pred_labels: np.ndarray, true_labels: np.ndarray, organs: Iterable[int],
                  tolerances: Mapping[int, float], ndims: tuple[int, ...]) -> tuple[int, ...]:
    _check_pair(np.asarray(pred_labels), np.asarray(true_labels), ndims)
    organs = tuple(int(o) for o in organs)
    missing = [o for o in organs if o not in tolerances]
    if missing:
        raise InputError(f"no NSD tolerance for label(s) {missing}; add them to `tolerances`")
    return organs


def organ_scores(pred_labels: np.ndarray, true_labels: np.ndarray, spacing: Sequence[float],
                 organs: Iterable[int] = DEFAULT_ORGANS,
                 tolerances: Mapping[int, float] = NSD_TOLERANCE_MM) -> OrganScores:
    """Dice and NSD per organ of two (K, J, I) labelmaps: {label: {"dice": .., "nsd": ..}}.

    Every requested organ gets an entry; an organ absent from both volumes scores 1.0 / 1.0.
    """
    pred_labels, true_labels = np.asarray(pred_labels), np.asarray(true_labels)
    organs = _check_labels(pred_labels, true_labels, organs, tolerances, (3,))
    spacing = _check_spacing(spacing, 3)
    scores: OrganScores = {}
    for label in organs:
        pred, truth = pred_labels == label, true_labels == label
        scores[label] = {"dice": dice(pred, truth), "nsd": surface_dice(pred, truth, spacing, tolerances[label])}
    return scores


def slice_scores(pred_labels: np.ndarray, true_labels: np.ndarray, spacing_2d: Sequence[float],
                 organs: Iterable[int] = DEFAULT_ORGANS,
                 tolerances: Mapping[int, float] = NSD_TOLERANCE_MM) -> list[OrganScores]:
    """Dice and NSD per organ of every 2D slice pair of two (K, J, I) labelmaps (or one (J, I) pair).

    Returns one dict per slice, `{label: {"dice": .., "nsd": ..}}`, holding only the organs that occur
    in that slice of the prediction or the reference (a slice without any is an empty dict).
    `spacing_2d` is the in-plane (j, i) spacing in mm.
    """
    pred_labels, true_labels = np.asarray(pred_labels), np.asarray(true_labels)
    organs = _check_labels(pred_labels, true_labels, organs, tolerances, (2, 3))
    spacing_2d = _check_spacing(spacing_2d, 2)
    if pred_labels.ndim == 2:
        pred_labels, true_labels = pred_labels[None], true_labels[None]
    results: list[OrganScores] = [{} for _ in range(pred_labels.shape[0])]
    for label in organs:
        pred3, truth3 = pred_labels == label, true_labels == label
        present = np.flatnonzero(pred3.any(axis=(1, 2)) | truth3.any(axis=(1, 2)))
        for k in present:
            pred, truth = pred3[k], truth3[k]
            results[k][label] = {"dice": dice(pred, truth),
                                 "nsd": surface_dice(pred, truth, spacing_2d, tolerances[label])}
    return results


def summarize(scores: Iterable[Mapping[int, Mapping[str, float]]]) -> dict[int, dict[str, tuple[float, float]]]:
    """Mean and sample SD per organ and metric over many score dicts (volumes or slices).

    Organs missing from a dict are skipped for that dict; organs never scored are left out.
    """
    collected: dict[int, dict[str, list[float]]] = {}
    for entry in scores:
        for label, metrics in entry.items():
            for name, value in metrics.items():
                collected.setdefault(int(label), {}).setdefault(name, []).append(float(value))
    summary: dict[int, dict[str, tuple[float, float]]] = {}
    for label in sorted(collected):
        summary[label] = {}
        for name, values in collected[label].items():
            arr = np.asarray(values, dtype=np.float64)
            sd = float(arr.std(ddof=1)) if arr.size > 1 else float("nan")
            summary[label][name] = (float(arr.mean()), sd)
    return summary
