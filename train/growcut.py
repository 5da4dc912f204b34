"""Slicer's own Grow from seeds (`slicer.vtkImageGrowCutSegment`, slicer-core wheel) as a baseline."""

from __future__ import annotations

import numpy as np

BACKGROUND_SEED = 5  # label used for background strokes; removed from the output
MARGIN = (2, 16, 16)  # (k, j, i) voxels around the seeds, like the effect's automatic crop


def grow_from_seeds(image: np.ndarray, seeds: np.ndarray, spacing_kji: tuple[float, float, float]) -> np.ndarray:
    """Grow-from-seeds labels (K, J, I) uint8 from organ seeds (1..4) and background seeds (5)."""
    import slicer  # noqa: F401  (slicer-core wheel; only the evaluation uses it)
    import vtk
    from vtk.util import numpy_support

    out = np.zeros(seeds.shape, dtype=np.uint8)
    if not (seeds > 0).any():
        return out
    idx = np.argwhere(seeds > 0)
    lo = np.maximum(idx.min(0) - MARGIN, 0)
    hi = np.minimum(idx.max(0) + MARGIN + 1, seeds.shape)
    box = tuple(slice(a, b) for a, b in zip(lo, hi))
    img, sd = np.ascontiguousarray(image[box], dtype=np.float32), np.ascontiguousarray(seeds[box], dtype=np.int16)

    def to_vtk(array: np.ndarray, vtk_type: int) -> "vtk.vtkImageData":
        data = vtk.vtkImageData()
        data.SetDimensions(array.shape[2], array.shape[1], array.shape[0])
        data.SetSpacing(spacing_kji[2], spacing_kji[1], spacing_kji[0])
        data.GetPointData().SetScalars(numpy_support.numpy_to_vtk(array.ravel(), deep=True, array_type=vtk_type))
        return data

    grow = slicer.vtkImageGrowCutSegment()
    grow.SetIntensityVolume(to_vtk(img, vtk.VTK_FLOAT))
    grow.SetSeedLabelVolume(to_vtk(sd, vtk.VTK_SHORT))
    grow.SetDistancePenalty(0.0)
    grow.Update()
    result = numpy_support.vtk_to_numpy(grow.GetOutput().GetPointData().GetScalars()).reshape(sd.shape)
    result = np.where(result == BACKGROUND_SEED, 0, result).astype(np.uint8)
    out[box] = result
    return out
