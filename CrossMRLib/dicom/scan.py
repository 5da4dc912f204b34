"""Find every image series in a DICOM folder of any nesting (headers only, no pixel data)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError

_TAGS = ["SOPClassUID", "Modality", "SeriesInstanceUID", "StudyInstanceUID", "SeriesNumber", "SeriesDescription",
         "ImageType", "ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing", "SliceThickness",
         "EchoTime", "RepetitionTime", "DiffusionBValue", "MagneticFieldStrength", "Rows", "Columns",
         "FrameOfReferenceUID", "InstanceNumber", "NumberOfFrames", (0x0019, 0x100C), (0x0043, 0x1039)]
_NOT_IMAGES = {"SEG", "SR", "PR", "KO", "RTSTRUCT", "REG", "DOC"}


@dataclass
class DicomImage:
    """One image file: where it is and what the loader needs to sort it."""

    path: Path
    position: tuple[float, float, float] | None
    orientation: tuple[float, ...] | None
    bvalue: float | None
    echo_time: float | None
    instance: int


@dataclass
class DicomSeries:
    """One series of a study, from its headers."""

    uid: str
    number: int | None
    description: str
    modality: str
    image_type: tuple[str, ...]
    rows: int
    columns: int
    pixel_spacing: tuple[float, float] | None
    thickness: float | None
    echo_time: float | None
    repetition_time: float | None
    field_strength: float | None
    frame_of_reference: str
    study_uid: str
    images: list[DicomImage] = field(default_factory=list)
    name: str = ""  # unique, file-name-safe name used for outputs ("5_t1_vibe")

    @property
    def bvalues(self) -> list[float]:
        """Distinct b-values (empty when none is recorded)."""
        return sorted({im.bvalue for im in self.images if im.bvalue is not None})

    @property
    def echo_times(self) -> list[float]:
        return sorted({round(im.echo_time, 3) for im in self.images if im.echo_time is not None})

    @property
    def slices(self) -> int:
        """Distinct slice positions."""
        positions = {tuple(np.round(im.position, 2)) for im in self.images if im.position is not None}
        return len(positions) or len(self.images)

    @property
    def orientations(self) -> int:
        return len({tuple(np.round(im.orientation, 3)) for im in self.images if im.orientation is not None})

    @property
    def files(self) -> list[Path]:
        return [im.path for im in self.images]


def scan_study(folder: str | Path) -> list[DicomSeries]:
    """Every image series under `folder`, ordered by series number then description."""
    import pydicom

    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: not a folder; give the DICOM study folder")
    by_uid: dict[str, DicomSeries] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")):
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=_TAGS)
        except Exception:  # not DICOM (DICOMDIR readers, notes, thumbnails): skipped
            continue
        if "SeriesInstanceUID" not in ds or "Rows" not in ds or ds.get("Modality", "") in _NOT_IMAGES:
            continue
        if int(ds.get("NumberOfFrames", 1) or 1) > 1:
            raise InputError(f"{path}: enhanced (multi-frame) DICOM is not supported yet; export the study as "
                             "classic single-frame images")
        uid = str(ds.SeriesInstanceUID)
        if uid not in by_uid:
            by_uid[uid] = _series_from(ds)
        by_uid[uid].images.append(DicomImage(path, _floats(ds, "ImagePositionPatient"),
                                             _floats(ds, "ImageOrientationPatient"), _bvalue(ds),
                                             _number(ds, "EchoTime"), int(ds.get("InstanceNumber", 0) or 0)))
    found = sorted(by_uid.values(), key=lambda s: (s.number if s.number is not None else 1 << 30, s.description, s.uid))
    _name_series(found)
    return found


def _series_from(ds) -> DicomSeries:
    spacing = _floats(ds, "PixelSpacing")
    return DicomSeries(
        uid=str(ds.SeriesInstanceUID), number=int(ds.SeriesNumber) if ds.get("SeriesNumber") not in (None, "") else None,
        description=str(ds.get("SeriesDescription", "") or ""), modality=str(ds.get("Modality", "") or ""),
        image_type=tuple(str(v).upper() for v in (ds.get("ImageType") or [])), rows=int(ds.Rows),
        columns=int(ds.get("Columns", 0) or 0), pixel_spacing=tuple(spacing[:2]) if spacing else None,
        thickness=_number(ds, "SliceThickness"), echo_time=_number(ds, "EchoTime"),
        repetition_time=_number(ds, "RepetitionTime"), field_strength=_number(ds, "MagneticFieldStrength"),
        frame_of_reference=str(ds.get("FrameOfReferenceUID", "") or ""),
        study_uid=str(ds.get("StudyInstanceUID", "") or ""))


def _floats(ds, keyword: str) -> tuple[float, ...] | None:
    value = ds.get(keyword)
    try:
        return tuple(float(v) for v in value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _number(ds, keyword: str) -> float | None:
    value = ds.get(keyword)
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _bvalue(ds) -> float | None:
    """b-value from the standard tag, else Siemens (0019,100C) or GE (0043,1039) private tags."""
    value = _number(ds, "DiffusionBValue")
    if value is not None:
        return value
    for tag in ((0x0019, 0x100C), (0x0043, 0x1039)):
        if tag not in ds:
            continue
        raw = ds[tag].value
        raw = raw.decode(errors="ignore") if isinstance(raw, bytes) else raw
        first = raw if isinstance(raw, (str, int, float)) else next(iter(raw), "")
        try:
            return float(str(first).split("\\")[0]) % 1e9  # GE stores b + 1e9 in some versions
        except ValueError:
            continue
    return None


def _name_series(series: list[DicomSeries]) -> None:
    """Give each series a unique file-name-safe name: '<number>_<description>'."""
    used: set[str] = set()
    for one in series:
        slug = re.sub(r"[^A-Za-z0-9]+", "_", one.description).strip("_").lower()
        base = "_".join(p for p in (str(one.number) if one.number is not None else "", slug) if p) or one.uid[-8:]
        name, n = base, 2
        while name in used:
            name, n = f"{base}_{n}", n + 1
        used.add(name)
        one.name = name
