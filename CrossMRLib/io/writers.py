"""Write series and labelmaps as NIfTI (geometry from the series' IJK-to-RAS matrix)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..series import Series


def _nifti(array_kji: np.ndarray, ijk_to_ras: np.ndarray):
    import nibabel as nib

    image = nib.Nifti1Image(np.ascontiguousarray(np.transpose(array_kji, (2, 1, 0))), np.asarray(ijk_to_ras, dtype=np.float64))
    image.set_sform(np.asarray(ijk_to_ras, dtype=np.float64), code=1)
    image.set_qform(np.asarray(ijk_to_ras, dtype=np.float64), code=1)
    image.header.set_xyzt_units("mm", "sec")
    return image


def write_series_nifti(series: Series, path: str | Path, dtype=np.float32) -> Path:
    """Write a series' voxels (default float32) to NIfTI."""
    import nibabel as nib

    path = Path(path)
    nib.save(_nifti(series.array.astype(dtype), series.ijk_to_ras), str(path))
    return path


def write_labels_nifti(labels: np.ndarray, grid: Series, path: str | Path) -> Path:
    """Write a (K, J, I) labelmap (uint8 0..4) on `grid`'s geometry to NIfTI."""
    import nibabel as nib

    if labels.shape != grid.shape:
        raise ValueError(f"labelmap shape {labels.shape} does not match series '{grid.name}' {grid.shape}")
    path = Path(path)
    nib.save(_nifti(labels.astype(np.uint8), grid.ijk_to_ras), str(path))
    return path
