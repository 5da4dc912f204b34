"""Write a `Series` as classic single-frame MR DICOM images (sample studies and tests; headers like a scanner's)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..series import Series

MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
LPS = np.diag([-1.0, -1.0, 1.0])


@dataclass
class StudyIds:
    """What every series of one study shares: patient, study and frame of reference."""

    study_uid: str = field(default_factory=lambda: _uid())
    frame_of_reference: str = field(default_factory=lambda: _uid())
    patient_id: str = "CROSSMR-PHANTOM"
    patient_name: str = "Phantom^CrossMR"
    study_date: str = "20260101"
    field_strength: float = 1.5


@dataclass
class SeriesHeader:
    """Per-series header values."""

    number: int
    description: str
    echo_time: float
    repetition_time: float
    bvalue: float | None = None
    image_type: tuple[str, ...] = ("ORIGINAL", "PRIMARY", "M", "NORM")
    sequence: str = "GR"
    uid: str = field(default_factory=lambda: _uid())


def _uid() -> str:
    from pydicom.uid import generate_uid

    return str(generate_uid())


def write_dicom_series(series: Series, folder: str | Path, ids: StudyIds, header: SeriesHeader,
                       first_instance: int = 1, prefix: str = "IM") -> list[Path]:
    """Write one file per slice of `series` into `folder`; returns the paths (k order)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lps = LPS @ series.ijk_to_ras[:3, :]
    spacing = np.linalg.norm(lps[:, :3], axis=0)
    row_dir, col_dir = lps[:, 0] / spacing[0], lps[:, 1] / spacing[1]
    stored, slope, intercept = _to_uint16(series.array)
    paths = []
    for k in range(series.num_slices):
        position = lps @ np.array([0.0, 0.0, k, 1.0])
        ds = _dataset(ids, header, first_instance + k)
        ds.ImagePositionPatient = [f"{v:.4f}" for v in position]
        ds.ImageOrientationPatient = [f"{v:.6f}" for v in (*row_dir, *col_dir)]
        ds.PixelSpacing = [f"{spacing[1]:.5f}", f"{spacing[0]:.5f}"]  # row spacing (j), column spacing (i)
        ds.SliceThickness = ds.SpacingBetweenSlices = f"{spacing[2]:.4f}"
        ds.SliceLocation = f"{float(np.dot(position, np.cross(row_dir, col_dir))):.4f}"
        ds.Rows, ds.Columns = int(series.shape[1]), int(series.shape[2])
        ds.RescaleSlope, ds.RescaleIntercept = f"{slope:.8g}", f"{intercept:.8g}"
        ds.PixelData = np.ascontiguousarray(stored[k]).tobytes()
        path = folder / f"{prefix}{first_instance + k:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def _to_uint16(array: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Stored values, slope and intercept (integer images are stored as they are)."""
    low, high = float(array.min()), float(array.max())
    if low >= 0 and high < 65536 and np.all(np.mod(array, 1) == 0):
        return array.astype(np.uint16), 1.0, 0.0
    slope = max(high - low, 1e-6) / 65000.0
    return np.round((array - low) / slope).astype(np.uint16), slope, low


def _dataset(ids: StudyIds, header: SeriesHeader, instance: int):
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian

    sop_uid = _uid()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = MR_IMAGE_STORAGE, sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = MR_IMAGE_STORAGE, sop_uid
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = ids.study_uid, header.uid, ids.frame_of_reference
    ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.PatientSex = ids.patient_name, ids.patient_id, "", "O"
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = ids.study_date
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = "120000"
    ds.StudyID, ds.AccessionNumber, ds.ReferringPhysicianName = "1", "", ""
    ds.Modality, ds.Manufacturer, ds.PositionReferenceIndicator = "MR", "CrossMR phantom", ""
    ds.SeriesNumber, ds.InstanceNumber, ds.SeriesDescription = header.number, instance, header.description
    ds.ImageType = list(header.image_type)
    ds.ScanningSequence, ds.SequenceVariant, ds.ScanOptions, ds.MRAcquisitionType = header.sequence, "NONE", "", "2D"
    ds.EchoTime, ds.RepetitionTime = f"{header.echo_time:.4g}", f"{header.repetition_time:.6g}"
    ds.MagneticFieldStrength = f"{ids.field_strength:g}"
    if header.bvalue is not None:
        ds.DiffusionBValue = float(header.bvalue)
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    return ds
