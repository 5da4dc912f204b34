"""Moving labelmaps between grids: sub-grid embedding and nearest-neighbour carrying by position."""

from __future__ import annotations

import numpy as np

from .pairing import SlicePairing
from .series import Series


def embed_in_grid(labels: np.ndarray, source_ijk_to_ras: np.ndarray, reference: Series,
                  tol_voxels: float = 0.1) -> np.ndarray | None:
    """Place `labels` (K, J, I) into `reference`'s grid when the source grid is the same lattice.

    The source may order its axes differently or run them the other way (NIfTI written by dcm2niix or
    ITK-SNAP from the same DICOM series), and Slicer crops saved segmentations to their extent, so it may
    also be a sub-block. Returns None when the lattices differ (other spacing/orientation, fractional
    offset) or labelled voxels fall outside the reference (`describe_grid_mismatch` says which).
    """
    aligned = align_to_reference(labels, source_ijk_to_ras, reference, tol_voxels)
    if aligned is None:
        return None
    labels, offset = aligned
    out = np.zeros(reference.shape, dtype=np.uint8)
    dst = [slice(max(o, 0), min(o + n, size)) for o, n, size in zip(offset, labels.shape, reference.shape)]
    src = [slice(d.start - o, d.stop - o) for d, o in zip(dst, offset)]
    if all(d.stop > d.start for d in dst):
        out[tuple(dst)] = labels[tuple(src)]
    dropped = int(np.count_nonzero(labels)) - int(np.count_nonzero(out))
    if dropped > 0:
        return None
    return out


def align_to_reference(labels: np.ndarray, source_ijk_to_ras: np.ndarray, reference: Series,
                       tol_voxels: float = 0.1) -> tuple[np.ndarray, tuple[int, int, int]] | None:
    """`labels` flipped/transposed into the reference's axis order and its (k, j, i) voxel offset there,
    or None when the source grid is not the reference lattice up to axis flips and permutations."""
    to_ref = np.linalg.inv(reference.ijk_to_ras) @ np.asarray(source_ijk_to_ras, dtype=np.float64)
    rotation, offset = to_ref[:3, :3].copy(), to_ref[:3, 3].copy()
    signed = np.round(rotation)
    if np.abs(rotation - signed).max() > 1e-3 or not _is_signed_permutation(signed):
        return None
    array = np.transpose(labels, (2, 1, 0))  # (I, J, K): axis a is source ijk axis a
    for axis in range(3):
        if signed[:, axis].sum() < 0:  # runs against the reference: flip it
            array = np.flip(array, axis)
            offset += signed[:, axis] * (array.shape[axis] - 1)
            signed[:, axis] *= -1
    order = [int(np.argmax(signed[r])) for r in range(3)]  # reference axis r <- source axis order[r]
    array = np.transpose(array, order)
    if np.abs(offset - np.round(offset)).max() > tol_voxels:
        return None
    oi, oj, ok = (int(v) for v in np.round(offset))
    return np.ascontiguousarray(np.transpose(array, (2, 1, 0))), (ok, oj, oi)


def _is_signed_permutation(matrix: np.ndarray) -> bool:
    return bool(np.all(np.abs(matrix).sum(axis=0) == 1) and np.all(np.abs(matrix).sum(axis=1) == 1))


def describe_grid_mismatch(labels: np.ndarray, source_ijk_to_ras: np.ndarray, reference: Series) -> str:
    """What differs between a labelmap's grid and the reference lattice, in words, for error messages."""
    source = np.asarray(source_ijk_to_ras, dtype=np.float64)
    spacing = np.linalg.norm(source[:3, :3], axis=0)
    ref_spacing = reference.spacing
    if not np.allclose(np.sort(spacing), np.sort(ref_spacing), rtol=1e-3, atol=1e-3):
        return (f"voxel size {_mm(spacing)} vs the reference's {_mm(ref_spacing)}, so it was painted on another "
                "series or resampled")
    directions = source[:3, :3] / spacing
    ref_directions = reference.ijk_to_ras[:3, :3] / ref_spacing
    cosines = np.abs(directions.T @ ref_directions).max(axis=1)
    if cosines.min() < 1 - 1e-4:
        angle = float(np.degrees(np.arccos(np.clip(cosines.min(), -1, 1))))
        return f"its axes are rotated by {angle:.1f} degrees from the reference's"
    aligned = align_to_reference(labels, source, reference)
    if aligned is None:
        return "its voxel centres are shifted by a fraction of a voxel from the reference's"
    array, offset = aligned
    return (f"it reaches past the reference: its labelled voxels start at voxel (k, j, i) = {offset} and span "
            f"{array.shape} of the reference's {reference.shape}")


def _mm(spacing: np.ndarray) -> str:
    return "x".join(f"{v:.3g}" for v in spacing) + " mm"


def carry_labels(labels: np.ndarray, source: Series, target: Series, pairing: SlicePairing,
                 max_distance_mm: float | None = None) -> np.ndarray:
    """Carry a (K, J, I) labelmap of `source` onto `target`, slice by slice, nearest neighbour.

    Each target slice takes the paired source slice. In-plane, a "position" pairing maps pixels through
    RAS; a "relative-order" pairing (geometry unusable) maps them by relative position in the field of
    view. Target slices farther than `max_distance_mm` from their source slice stay empty.
    """
    out = np.zeros(target.shape, dtype=np.uint8)
    _, j_count, i_count = target.shape
    jj, ii = np.meshgrid(np.arange(j_count), np.arange(i_count), indexing="ij")
    src_k, src_j, src_i = labels.shape
    to_source = np.linalg.inv(source.ijk_to_ras) @ target.ijk_to_ras
    for t, (r, distance) in enumerate(zip(pairing.reference_index, pairing.distance_mm)):
        if max_distance_mm is not None and not np.isnan(distance) and distance > max_distance_mm:
            continue
        if not labels[r].any():
            continue
        if pairing.rule == "position":
            points = np.stack([ii.ravel(), jj.ravel(), np.full(ii.size, t), np.ones(ii.size)])
            mapped = to_source @ points
            si = np.round(mapped[0]).astype(int).reshape(j_count, i_count)
            sj = np.round(mapped[1]).astype(int).reshape(j_count, i_count)
        else:
            si = np.round((ii + 0.5) * src_i / i_count - 0.5).astype(int)
            sj = np.round((jj + 0.5) * src_j / j_count - 0.5).astype(int)
        valid = (si >= 0) & (si < src_i) & (sj >= 0) & (sj < src_j)
        out[t][valid] = labels[r][sj[valid], si[valid]]
    return out
