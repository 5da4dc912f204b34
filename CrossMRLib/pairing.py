"""Slice pairing: which reference slice each target slice of the same patient corresponds to.

Primary rule: physical position along the reference slice normal (the nearest reference slice, distance
reported in mm). Fallback, when geometry cannot be used (the series do not overlap along the normal, or
the slice planes are too oblique to each other): the CrossMR paper's relative-order rule, target slice i
of n -> reference slice round(i * (m - 1) / (n - 1)), ordered along the reference normal so head-first
and feet-first series still agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import InputError
from .series import Series

MAX_PLANE_ANGLE_DEG = 30.0  # axial or near-axial series only


@dataclass
class SlicePairing:
    """One row per target slice: the reference slice it is paired with."""

    reference_index: np.ndarray  # (n,) int
    distance_mm: np.ndarray  # (n,) float; NaN under the fallback rule
    rule: str  # "position" or "relative-order"
    reason: str = ""  # why the fallback was used ("" for "position")

    @property
    def target_index(self) -> np.ndarray:
        return np.arange(len(self.reference_index))

    def as_rows(self) -> list[dict]:
        """JSON-friendly table: target, reference, distance_mm (None under the fallback)."""
        return [
            {"target": int(t), "reference": int(r), "distance_mm": None if np.isnan(d) else round(float(d), 3)}
            for t, r, d in zip(self.target_index, self.reference_index, self.distance_mm)
        ]


def identity_pairing(series: Series) -> SlicePairing:
    """Pairing of a series with itself."""
    n = series.num_slices
    return SlicePairing(np.arange(n), np.zeros(n), "position")


def plane_angle_deg(reference: Series, target: Series) -> float:
    """Angle between the two series' slice planes (0 = parallel)."""
    cosine = abs(float(np.dot(reference.slice_normal, target.slice_normal)))
    return float(np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0))))


def check_orientation(reference: Series, target: Series) -> None:
    """Reject a target whose slices are not (near-)parallel to the reference's, with a clear message."""
    angle = plane_angle_deg(reference, target)
    if angle > MAX_PLANE_ANGLE_DEG:
        raise InputError(
            f"series '{target.name}' is {angle:.0f} degrees oblique to the reference '{reference.name}' "
            f"(sagittal/coronal/oblique); CrossMR supports axial or near-axial series (within "
            f"{MAX_PLANE_ANGLE_DEG:.0f} degrees): reformat it to axial first or leave it out")


def relative_order_pairing(reference: Series, target: Series, reason: str) -> SlicePairing:
    """The paper's rule, applied in anatomical order (along the reference normal)."""
    m, n = reference.num_slices, target.num_slices
    normal = reference.slice_normal
    ref_order = np.argsort(reference.slice_centres() @ normal, kind="stable")
    tgt_rank = np.argsort(np.argsort(target.slice_centres() @ normal, kind="stable"), kind="stable")
    if n == 1:
        positions = np.array([(m - 1) / 2.0])
    else:
        positions = tgt_rank * (m - 1) / (n - 1)
    ref_rank = np.floor(positions + 0.5).astype(int)
    return SlicePairing(ref_order[ref_rank], np.full(n, np.nan), "relative-order", reason)


def pair_slices(reference: Series, target: Series) -> SlicePairing:
    """Pair every target slice with a reference slice (see module docstring)."""
    check_orientation(reference, target)
    normal = reference.slice_normal
    ref_pos = reference.slice_centres() @ normal
    tgt_pos = target.slice_centres() @ normal
    ref_thickness = float(reference.spacing[2]) if reference.num_slices == 1 else float(np.abs(np.diff(ref_pos)).min())
    low, high = ref_pos.min() - ref_thickness / 2.0, ref_pos.max() + ref_thickness / 2.0
    inside = (tgt_pos >= low) & (tgt_pos <= high)
    if not inside.any():
        return relative_order_pairing(
            reference, target,
            f"'{target.name}' does not overlap '{reference.name}' along the slice normal "
            f"(target {tgt_pos.min():.1f}..{tgt_pos.max():.1f} mm, reference {low:.1f}..{high:.1f} mm)")
    nearest = np.abs(tgt_pos[:, None] - ref_pos[None, :]).argmin(axis=1)
    return SlicePairing(nearest, np.abs(tgt_pos - ref_pos[nearest]), "position")
