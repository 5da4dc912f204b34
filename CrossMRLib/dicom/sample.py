"""A generated phantom study written as a DICOM study the way a PACS export looks: nested folders,
one frame of reference, a localiser, the Dixon echoes mixed in one folder, DWI b0 + b800 in one series,
and a derived ADC series."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..series import Series
from .write import SeriesHeader, StudyIds, write_dicom_series

# series -> (number, description, DICOM scanning sequence)
SAMPLE_SERIES = {"t1w": (3, "T1 VIBE tra", "GR"), "inphase": (5, "T1 FL2D in-phase", "GR"),
                 "opposed": (6, "T1 FL2D opp-phase", "GR"), "t2w": (7, "T2 HASTE tra fs", "SE"),
                 "dwi": (8, "ep2d DWI b0 b800", "EP")}


def write_sample_study(study, folder: str | Path, subsample: int = 1) -> dict[str, int]:
    """Write a `PhantomStudy` under `folder`; returns {phantom series name: DICOM series number}."""
    folder = Path(folder)
    ids = StudyIds(field_strength=float(study.params.get("field_strength", 1.5)))
    params = study.params["series"]
    for name, (number, description, sequence) in SAMPLE_SERIES.items():
        seq = params[name]["sequence"]
        header = SeriesHeader(number, description, seq["te"], seq["tr"], sequence=sequence,
                              bvalue=seq["b"] if name == "dwi" else None)
        sub = folder / "DICOM" / ("S0005" if name == "opposed" else f"S{number:04d}")  # echoes mixed in one folder
        prefix = f"S{number}_"
        if name == "dwi":
            b0 = params["dwi_b0"]["sequence"]
            write_dicom_series(subsampled(study.images["dwi_b0"], subsample), sub,
                               ids, SeriesHeader(number, description, b0["te"], b0["tr"], 0.0, sequence=sequence,
                                                 uid=header.uid), 1, prefix + "b0_")
            write_dicom_series(subsampled(study.images[name], subsample), sub, ids, header, 101, prefix)
        else:
            write_dicom_series(subsampled(study.images[name], subsample), sub, ids, header, 1, prefix)
    _write_localiser(study.images["t1w"], folder / "DICOM" / "S0001", ids)
    adc = subsampled(study.images["dwi"], subsample)
    write_dicom_series(adc.with_array(np.clip(adc.array * 0.5, 0, None)), folder / "DICOM" / "S0009", ids,
                       SeriesHeader(9, "ep2d DWI ADC", 70.0, 4000.0, None, ("DERIVED", "PRIMARY", "DIFFUSION", "ADC"),
                                    "EP"))
    return {name: number for name, (number, _, _) in SAMPLE_SERIES.items()}


def subsampled(series: Series, step: int) -> Series:
    """Every `step`-th voxel in-plane (voxel (0, 0, k) stays put)."""
    if step == 1:
        return series
    matrix = series.ijk_to_ras.copy()
    matrix[:3, :2] *= step
    return Series(series.array[:, ::step, ::step].copy(), matrix, series.name)


def _write_localiser(series: Series, folder: Path, ids: StudyIds) -> None:
    """Three-plane localiser: one axial, one coronal, one sagittal image, 64 x 64 at 7 mm."""
    header = SeriesHeader(1, "localizer", 1.6, 3.8, None, ("ORIGINAL", "PRIMARY", "LOCALIZER"), "GR")
    centre = series.ijk_to_ras[:3, :3] @ (np.array(series.shape[::-1]) / 2.0) + series.ijk_to_ras[:3, 3]
    planes = (np.eye(3), np.array([[1, 0, 0], [0, 0, 1], [0, 1, 0]], float), np.array([[0, 0, 1], [1, 0, 0], [0, 1, 0]], float))
    for index, directions in enumerate(planes):
        matrix = np.eye(4)
        matrix[:3, :3] = directions * 7.0
        matrix[:3, 3] = centre - directions[:, :2] @ np.array([32 * 7.0, 32 * 7.0])
        image = np.full((1, 64, 64), 100.0 * (index + 1), np.float32)
        write_dicom_series(Series(image, matrix, "localizer"), folder, ids, header, index + 1, "S1_")
