"""Marker-based watershed (SimpleITK `MorphologicalWatershedFromMarkers`) with the seeds of Grow from seeds (b).

The organ scribbles and background strokes are carried onto each target by physical position; the
watershed floods the target's gradient magnitude (recursive Gaussian, sigma = one in-plane voxel, in mm)
from those markers, on the same automatic extent around the seeds as Grow from seeds.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from CrossMRLib.errors import InputError
from CrossMRLib.preprocess import normalize_intensity

from .seeds import CarriedSeedsMethod, organ_labels, pad_to_min, seed_box


def watershed_from_markers(image: np.ndarray, markers: np.ndarray, spacing_ijk=(1.0, 1.0, 1.0),
                           sigma_mm: float | None = None) -> np.ndarray:
    """Watershed labels (K, J, I) uint8 0..4 from markers (organs 1..4, background 5)."""
    image, markers = np.asarray(image), np.asarray(markers)
    if image.shape != markers.shape:
        raise InputError(f"markers shape {markers.shape} differs from image shape {image.shape}; put both on one grid")
    out = np.zeros(markers.shape, dtype=np.uint8)
    box = seed_box(markers)
    if box is None:
        return out
    spacing = tuple(float(s) for s in spacing_ijk)
    sigma = float(sigma_mm) if sigma_mm is not None else float(min(spacing[:2]))
    crop_image, undo = pad_to_min(normalize_intensity(np.nan_to_num(image[box])), 4, "edge")
    crop_markers, _ = pad_to_min(markers[box].astype(np.uint8), 4, "constant")
    itk_image = sitk.GetImageFromArray(crop_image.astype(np.float32))
    itk_image.SetSpacing(spacing)
    itk_markers = sitk.GetImageFromArray(crop_markers)
    itk_markers.SetSpacing(spacing)
    gradient = sitk.GradientMagnitudeRecursiveGaussian(itk_image, sigma=sigma)
    flooded = sitk.MorphologicalWatershedFromMarkers(gradient, itk_markers, markWatershedLine=False,
                                                     fullyConnected=False)
    out[box] = organ_labels(sitk.GetArrayFromImage(flooded)[undo])
    return out


class WatershedMethod(CarriedSeedsMethod):
    """Marker watershed on each target from the reference seeds carried over by position."""

    name = "watershed"

    def grow(self, image: np.ndarray, seeds: np.ndarray, spacing_ijk) -> np.ndarray:
        return watershed_from_markers(image, seeds, spacing_ijk)
