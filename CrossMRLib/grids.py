"""Moving labelmaps between grids: sub-grid embedding and nearest-neighbour carrying by position."""

from __future__ import annotations

import numpy as np

from .pairing import SlicePairing
from .series import Series


def embed_in_grid(labels: np.ndarray, source_ijk_to_ras: np.ndarray, reference: Series,
                  tol_voxels: float = 0.1) -> np.ndarray | None:
    """Place `labels` (K, J, I) into `reference`'s grid when the source grid is the same lattice.

    Slicer crops saved segmentations to their extent, so a scribble file is often a sub-block of the
    reference grid. Returns None when the lattices differ (other spacing/orientation, fractional offset).
    """
    to_ref = np.linalg.inv(reference.ijk_to_ras) @ np.asarray(source_ijk_to_ras, dtype=np.float64)
    if np.abs(to_ref[:3, :3] - np.eye(3)).max() > 1e-3:
        return None
    offset = to_ref[:3, 3]
    if np.abs(offset - np.round(offset)).max() > tol_voxels:
        return None
    oi, oj, ok = (int(v) for v in np.round(offset))
    out = np.zeros(reference.shape, dtype=np.uint8)
    k_count, j_count, i_count = labels.shape
    dst = [slice(max(o, 0), min(o + n, size)) for o, n, size in zip((ok, oj, oi), (k_count, j_count, i_count), reference.shape)]
    src = [slice(d.start - o, d.stop - o) for d, o in zip(dst, (ok, oj, oi))]
    if all(d.stop > d.start for d in dst):
        out[tuple(dst)] = labels[tuple(src)]
    dropped = int(np.count_nonzero(labels)) - int(np.count_nonzero(out))
    if dropped > 0:
        return None
    return out


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
