"""Slicer's "Grow from seeds" (`slicer.vtkImageGrowCutSegment`, slicer-core wheel), the two ways a user has.

(a) `GrowCutReferenceMethod`: grow on the reference from its organ scribbles + background strokes, then
    carry the result into each target's grid by physical position (nearest paired slice, in-plane by RAS).
(b) `GrowCutTargetMethod`: carry the organ scribbles + background strokes onto each target by physical
    position and grow there, on the target's own intensities.
Both crop to Slicer's automatic extent around the seeds (`seeds.seed_box`), use the effect's default
seed locality 0 and the volume's own voxel values, as the Segment Editor does.
"""

from __future__ import annotations

import numpy as np

from CrossMRLib.errors import Cancelled, InputError
from CrossMRLib.grids import carry_labels
from CrossMRLib.pairing import SlicePairing
from CrossMRLib.series import Series

from .seeds import CarriedSeedsMethod, check_background, merge_seeds, organ_labels, pad_to_min, seed_box


def _to_vtk(array: np.ndarray, spacing_ijk, vtk_type: int):
    import vtk
    from vtk.util import numpy_support

    data = vtk.vtkImageData()
    data.SetDimensions(array.shape[2], array.shape[1], array.shape[0])
    data.SetSpacing(*(float(s) for s in spacing_ijk))
    data.GetPointData().SetScalars(numpy_support.numpy_to_vtk(np.ascontiguousarray(array).ravel(), deep=True,
                                                              array_type=vtk_type))
    return data


def grow_from_seeds(image: np.ndarray, seeds: np.ndarray, spacing_ijk=(1.0, 1.0, 1.0),
                    seed_locality: float = 0.0) -> np.ndarray:
    """Grow-cut labels (K, J, I) uint8 0..4 from a seed labelmap (organs 1..4, background 5).

    Runs on Slicer's automatic extent around the seeds; everything outside stays 0.
    """
    import slicer
    import vtk
    from vtk.util import numpy_support

    image, seeds = np.asarray(image), np.asarray(seeds)
    if image.shape != seeds.shape:
        raise InputError(f"seeds shape {seeds.shape} differs from image shape {image.shape}; put both on one grid")
    out = np.zeros(seeds.shape, dtype=np.uint8)
    box = seed_box(seeds)
    if box is None or not (np.asarray(seeds)[box] != 0).any():
        return out
    crop_image, undo = pad_to_min(np.nan_to_num(image[box].astype(np.float32)), 3, "edge")
    crop_seeds, _ = pad_to_min(seeds[box].astype(np.int16), 3, "constant")
    grow = slicer.vtkImageGrowCutSegment()
    grow.SetIntensityVolume(_to_vtk(crop_image, spacing_ijk, vtk.VTK_FLOAT))
    grow.SetSeedLabelVolume(_to_vtk(crop_seeds, spacing_ijk, vtk.VTK_SHORT))
    grow.SetDistancePenalty(float(seed_locality))
    grow.Update()
    result = numpy_support.vtk_to_numpy(grow.GetOutput().GetPointData().GetScalars()).reshape(crop_seeds.shape)
    out[box] = organ_labels(result[undo])
    return out


class GrowCutReferenceMethod:
    """(a) Grow from seeds on the reference, result carried into each target grid by position."""

    name = "growcut-reference"
    weights_sha256 = None

    def __init__(self, background: np.ndarray) -> None:
        self.background = np.asarray(background, dtype=bool)
        self._key: tuple | None = None
        self._labels: np.ndarray | None = None

    def reference_labels(self, reference: Series, scribbles: np.ndarray) -> np.ndarray:
        """The grow-cut result on the reference (computed once per reference and scribbles)."""
        check_background(self.background, reference)
        key = (id(reference), id(scribbles), reference.shape)
        if key != self._key or self._labels is None:
            seeds = merge_seeds(scribbles, self.background)
            self._labels, self._key = grow_from_seeds(reference.array, seeds, reference.spacing), key
        return self._labels

    def segment_target(self, reference: Series, scribbles: np.ndarray, target: Series, pairing: SlicePairing,
                       cancel=None) -> np.ndarray:
        if cancel is not None and cancel():
            raise Cancelled()
        labels = self.reference_labels(reference, np.asarray(scribbles))
        return carry_labels(labels, reference, target, pairing)


class GrowCutTargetMethod(CarriedSeedsMethod):
    """(b) Grow from seeds on each target, from the reference seeds carried over by position."""

    name = "growcut-target"

    def grow(self, image: np.ndarray, seeds: np.ndarray, spacing_ijk) -> np.ndarray:
        return grow_from_seeds(image, seeds, spacing_ijk)
