"""Clean-up of predicted labels: per organ, keep the 3D pieces that belong to the user's scribbles, and
keep the user's own strokes labelled as drawn.

A network can paint an organ's look-alike on slices where the organ is absent (a bowel loop taken for a
kidney). Keeping only the largest piece then keeps the wrong one when the look-alike is bigger, so
CrossMR keeps the pieces near the scribbles carried onto the series by position instead.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

NEAR_MM = 10.0  # pieces this close to a carried scribble are kept (breathing moves organs a few mm)


def keep_components_near_seeds(labels: np.ndarray, seeds: np.ndarray, spacing_kji, near_mm: float = NEAR_MM) -> np.ndarray:
    """Per organ: keep the 3D connected pieces within `near_mm` of that organ's seeds.

    If no piece is that close, the single nearest piece is kept; an organ without seeds keeps its
    largest piece. `labels` and `seeds` share one (K, J, I) grid; `spacing_kji` is in mm.
    """
    spacing = np.asarray(spacing_kji, dtype=float)
    out = labels.copy()
    structure = np.ones((3, 3, 3), bool)
    # the pieces of an organ lie in its bounding box: label only that
    for organ, box in enumerate(ndimage.find_objects(labels), start=1):
        if box is None:
            continue
        pieces, count = ndimage.label(labels[box] == organ, structure=structure)
        if count <= 1:
            continue
        seed_points = np.argwhere(seeds == organ) * spacing
        if len(seed_points) == 0:
            sizes = np.bincount(pieces.ravel())[1:]
            keep = [int(np.argmax(sizes)) + 1]
        else:
            tree = cKDTree(seed_points)
            voxels = np.argwhere(pieces > 0) + np.array([b.start for b in box])
            # only "within near_mm?" matters unless no piece is: a bounded search prunes the tree
            distance, _ = tree.query(voxels * spacing, k=1, distance_upper_bound=near_mm * (1 + 1e-9))
            if not np.isfinite(distance).any():
                distance, _ = tree.query(voxels * spacing, k=1)
            nearest = np.full(count + 1, np.inf)
            np.minimum.at(nearest, pieces[pieces > 0], distance)
            keep = [p for p in range(1, count + 1) if nearest[p] <= near_mm] or [int(np.argmin(nearest[1:])) + 1]
        out[box][(pieces > 0) & ~np.isin(pieces, keep)] = 0
    return out


def keep_strokes(labels: np.ndarray, strokes: np.ndarray) -> np.ndarray:
    """`labels` with every stroke pixel (label > 0 in `strokes`, same grid) set to the stroke's organ: a
    pixel the user painted as an organ is that organ in the result."""
    out = labels.copy()
    painted = strokes > 0
    out[painted] = strokes[painted]
    return out
