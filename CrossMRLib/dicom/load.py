"""Load one scanned DICOM series as a `Series` (RAS geometry), one volume per b-value for diffusion."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError
from ..series import Series
from .scan import DicomImage, DicomSeries


def load_series(series: DicomSeries, volume: int | None = None, name: str | None = None) -> Series:
    """Read the pixels of `series`; a multi-b-value series picks `volume`, else the highest b-value.

    `meta["dicom_files"]` lists the source file of every slice in k order (what a DICOM SEG references).
    """
    from ..io.readers import _itk_array4, _itk_to_ras, pick_volume, replace_non_finite

    name = name or series.name
    groups = _volumes(series)
    arrays, matrices, files = [], [], []
    for images in groups:
        ordered = _sorted_along_normal(images, series)
        image = _read_files([im.path for im in ordered], series)
        arrays.append(_itk_array4(image)[0])
        matrices.append(_itk_to_ras(image))
        files.append([str(im.path) for im in ordered])
    if len({a.shape for a in arrays}) > 1:
        raise InputError(f"series {name}: its b-value volumes have different slice counts; re-export the series")
    bvalues = [images[0].bvalue for images in groups] if len(groups) > 1 else None
    label = Path(f"series {name}")
    stacked = np.stack(arrays)
    array = pick_volume(stacked, bvalues, volume, label)
    index = next(i for i in range(len(stacked)) if np.shares_memory(stacked[i], array))
    meta = {"path": str(files[index][0]), "dicom_files": files[index], "series_uid": series.uid,
            "series_number": series.number, "description": series.description}
    return Series(replace_non_finite(array, label), matrices[index], name, None, meta)


def _volumes(series: DicomSeries) -> list[list[DicomImage]]:
    """Images grouped into volumes: one per b-value (in b order), else the whole series."""
    bvalues = series.bvalues
    groups = [[im for im in series.images if im.bvalue == b] for b in bvalues] if len(bvalues) > 1 else [series.images]
    for group in groups:
        positions = [tuple(np.round(im.position, 2)) for im in group if im.position is not None]
        if len(positions) != len(set(positions)):
            raise InputError(f"series {series.name}: several images share one slice position (several echoes or "
                             "phases in one series); export each echo or phase as its own series")
    return groups


def _sorted_along_normal(images: list[DicomImage], series: DicomSeries) -> list[DicomImage]:
    if any(im.position is None or im.orientation is None for im in images):
        return sorted(images, key=lambda im: im.instance)
    row, col = np.asarray(images[0].orientation[:3]), np.asarray(images[0].orientation[3:6])
    normal = np.cross(row, col)
    return sorted(images, key=lambda im: float(np.dot(im.position, normal)))


def _read_files(paths: list[Path], series: DicomSeries):
    import SimpleITK as sitk

    reader = sitk.ImageSeriesReader()
    reader.SetFileNames([str(p) for p in paths])
    try:
        return reader.Execute()
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[-1] if str(exc).strip() else "unreadable"
        raise InputError(f"series {series.name}: its images cannot be read ({first[:120]}); check the export") from exc
