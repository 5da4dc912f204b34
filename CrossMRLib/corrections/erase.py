"""Erase strokes: "no organ here" removes the organ under the stroke and the wrong piece connected to it.

For each organ the result has under an erase stroke, the organ's 3D connected piece touching the stroke is
removed, unless the piece also holds anchors of that organ (the user's organ strokes on the series, the
scribbles carried onto it): then only the part of the piece within `REACH_MM` of the erase stroke and nearer
(along the piece, in mm) to it than to those anchors goes. Organ strokes are never removed. (The reach keeps
a correction round fast: the split is computed in a box around the stroke only.)
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .strokes import ERASE

REACH_MM = 30.0  # an erase stroke on an anchored piece removes at most this far (along the piece) from itself
_STRUCTURE = np.ones((3, 3, 3), bool)  # the clean-up's connectivity (postprocess.keep_components_near_seeds)


def apply_erase(labels: np.ndarray, strokes: np.ndarray, anchors: np.ndarray, spacing_kji) -> np.ndarray:
    """`labels` (K, J, I) with the erase strokes (`strokes == ERASE`) applied; `anchors` (same grid) holds
    per voxel the organ that must stay (organ strokes and carried scribbles), `spacing_kji` is in mm."""
    erase = np.asarray(strokes) == ERASE
    if not erase.any():
        return labels
    out = labels.copy()
    for organ in np.unique(labels[erase]).tolist():
        if organ == 0:
            continue
        pieces, _ = ndimage.label(labels == organ, structure=_STRUCTURE)
        for piece in np.unique(pieces[erase]).tolist():
            if piece == 0:
                continue
            region = pieces == piece
            keep = region & (anchors == organ) & ~erase
            if keep.any():
                region = _nearer_to_erase(region, erase & region, keep, spacing_kji)
            out[region] = 0
    out[erase] = 0  # the stroke itself says: no organ here
    return out


def _nearer_to_erase(region: np.ndarray, erase: np.ndarray, keep: np.ndarray, spacing_kji) -> np.ndarray:
    """Voxels of `region` within `REACH_MM` of `erase` reached first from it when both fronts grow inside
    `region` at equal speed in mm (in-plane one voxel per step, across slices one slice per `ratio` steps);
    ties go to `keep`. Computed in the box `REACH_MM` around `erase` (anchors outside it are not needed)."""
    spacing = np.asarray(spacing_kji, dtype=float)
    pixel = float(np.mean(spacing[1:]))
    ratio = max(1, int(round(spacing[0] / pixel)))
    steps = int(np.ceil(REACH_MM / pixel))
    margin = [int(np.ceil(REACH_MM / spacing[0])) + 1, steps + 1, steps + 1]
    box = tuple(slice(max(int(a.min()) - m, 0), int(a.max()) + m + 1) for a, m in zip(np.nonzero(erase), margin))
    inside, mine, theirs = region[box], erase[box].copy(), keep[box].copy()
    plane = np.zeros((3, 3, 3), bool)
    plane[1] = True
    claimed = mine | theirs
    step = 0
    while step < steps:
        step += 1
        structure = _STRUCTURE if step % ratio == 0 else plane
        grow_theirs = ndimage.binary_dilation(theirs, structure) & inside & ~claimed
        grow_mine = ndimage.binary_dilation(mine, structure) & inside & ~claimed & ~grow_theirs
        if not grow_theirs.any() and not grow_mine.any():
            if (inside & ~claimed).any() and step % ratio != 0:
                continue  # only a cross-slice step can still reach the rest
            break
        theirs |= grow_theirs
        mine |= grow_mine
        claimed |= grow_theirs | grow_mine
    out = np.zeros(region.shape, bool)
    out[box] = mine & ~keep[box]
    return out
