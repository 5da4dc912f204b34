"""Classical method: seeded region growing on each target from scribbles carried over by position.

No training and no model: each organ's scribbles are carried onto the target by physical position, the
organ's intensity range is estimated on the target itself under those seeds (so it works on any contrast),
and the 3D connected region of similar intensity around the seeds, near them, becomes the organ.
Correction strokes on the target are seeds too (organ strokes) or barriers (erase strokes, then applied as
in `CrossMRLib/corrections/erase.py`).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..corrections.erase import apply_erase
from ..corrections.strokes import ERASE, positive
from ..errors import Cancelled
from ..grids import carry_labels
from ..organs import ORGANS
from ..pairing import SlicePairing
from ..postprocess import keep_strokes
from ..preprocess import normalize_intensity
from ..series import Series
from .base import CancelCallback

MARGIN_MM = 40.0  # organs grow at most this far (in-plane) from their carried scribbles
K_SIGMA = 2.5


class RegionGrowingMethod:
    """Seeded region growing (the classical fallback, `--method region-growing`)."""

    name = "region-growing"
    weights_sha256 = None

    def segment_target(self, reference: Series, scribbles: np.ndarray, target: Series, pairing: SlicePairing,
                       cancel: CancelCallback | None = None, strokes: np.ndarray | None = None) -> np.ndarray:
        """uint8 labels on `target`'s grid; `strokes`: correction strokes on that grid (0..4, 255)."""
        seeds = carry_labels(scribbles, reference, target, pairing)
        own = positive(strokes)
        erase = np.zeros(target.shape, bool) if strokes is None else strokes == ERASE
        if own is not None:
            seeds = np.where(own > 0, own, np.where(erase, 0, seeds)).astype(np.uint8)
        image = ndimage.median_filter(normalize_intensity(target.array), size=(1, 3, 3))
        spacing = target.spacing[::-1]  # (k, j, i)
        best = np.full(target.shape, np.inf, dtype=np.float32)
        labels = np.zeros(target.shape, dtype=np.uint8)
        for organ in ORGANS:
            if cancel is not None and cancel():
                raise Cancelled()
            seed = seeds == organ.label
            if not seed.any():
                continue
            values = image[seed]
            centre = float(np.median(values))
            spread = max(1.4826 * float(np.median(np.abs(values - centre))), 0.03)
            score = np.abs(image - centre) / spread
            footprint = seed.any(axis=0)  # the in-plane margin applies on every slice
            near = (ndimage.distance_transform_edt(~footprint, sampling=spacing[1:]) <= MARGIN_MM)[None]
            candidate = (score <= K_SIGMA) & near & ~erase
            candidate = ndimage.binary_opening(candidate, structure=np.ones((1, 3, 3), bool)) | seed
            components, _ = ndimage.label(candidate, structure=ndimage.generate_binary_structure(3, 1))
            keep = np.unique(components[seed])
            region = np.isin(components, keep[keep > 0])
            region = np.stack([ndimage.binary_fill_holes(s) for s in region])
            wins = region & (score < best)
            labels[wins] = organ.label
            best[wins] = score[wins]
        if strokes is not None:
            labels = keep_strokes(apply_erase(labels, strokes, seeds, spacing), own)
        return labels

