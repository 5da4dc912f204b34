"""Write a StudyResult: per series `<S>.seg.nrrd`, `<S>.labels.nii.gz` and/or `<S>.seg.dcm` (the formats
chosen), `volumes.csv` and `crossmr_run.json`."""

from __future__ import annotations

import json
import platform
from dataclasses import asdict
import sys
from pathlib import Path

from . import __version__
from .io import write_labels_nifti, write_seg_nrrd
from .errors import InputError
from .pipeline import StudyResult
from .volumes import VOLUMES_FILE, VolumeRow, write_volumes_csv

RUN_FILE = "crossmr_run.json"
SUFFIXES = {"seg-nrrd": ".seg.nrrd", "nifti": ".labels.nii.gz", "dicom-seg": ".seg.dcm"}
DEFAULT_FORMATS = ("seg-nrrd", "nifti")


def parse_formats(text: str) -> tuple[str, ...]:
    """'seg-nrrd,dicom-seg' -> ("seg-nrrd", "dicom-seg"); unknown names are an input error."""
    formats = tuple(dict.fromkeys(f.strip().lower() for f in text.split(",") if f.strip()))
    unknown = [f for f in formats if f not in SUFFIXES]
    if unknown or not formats:
        raise InputError(f"--format {text!r}: choose one or more of {', '.join(SUFFIXES)} separated by commas")
    return formats


def output_paths(outdir: Path, names: list[str], formats: tuple[str, ...] = DEFAULT_FORMATS) -> list[Path]:
    """Every file a run with these series names writes."""
    paths = [outdir / RUN_FILE, outdir / VOLUMES_FILE]
    for name in names:
        paths += [outdir / f"{name}{SUFFIXES[f]}" for f in formats]
    return paths


def write_outputs(result: StudyResult, outdir: Path, formats: tuple[str, ...] = DEFAULT_FORMATS,
                  volumes: list[VolumeRow] | None = None) -> None:
    """Write every series' result in each of `formats`, and the volume table when given (DICOM SEGs are
    built first: a series they cannot be made for stops the run before anything is written)."""
    segs = {}
    if "dicom-seg" in formats:
        from .dicom.seg import make_dicom_seg

        for name, labels in result.labels.items():
            number = 1000 + int(result.series[name].meta.get("series_number") or 0)
            segs[name] = make_dicom_seg(labels, result.series[name], number)
    outdir.mkdir(parents=True, exist_ok=True)
    for name, labels in result.labels.items():
        grid = result.series[name]
        if "seg-nrrd" in formats:
            write_seg_nrrd(labels, grid, outdir / f"{name}.seg.nrrd")
        if "nifti" in formats:
            write_labels_nifti(labels, grid, outdir / f"{name}.labels.nii.gz")
        if name in segs:
            segs[name].save_as(outdir / f"{name}.seg.dcm")
    if volumes is not None:
        write_volumes_csv(volumes, outdir / VOLUMES_FILE)


def write_run_record(record: dict, outdir: Path) -> Path:
    """Save the run record as crossmr_run.json."""
    path = outdir / RUN_FILE
    path.write_text(json.dumps(record, indent=2))
    return path


def run_record(result: StudyResult, volumes: list[VolumeRow] | None = None) -> dict:
    """Versions, method, weights hash, pairing table, organ volumes, warnings and timings of one run."""
    import numpy
    import torch

    return {
        "crossmr_version": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "versions": {"numpy": numpy.__version__, "torch": torch.__version__},
        "method": result.method,
        "weights_sha256": result.weights_sha256,
        "device": result.device,
        "reference": result.reference_name,
        "series": {
            name: {"shape_kji": list(result.series[name].shape),
                   "spacing_ijk_mm": [round(float(s), 4) for s in result.series[name].spacing],
                   "organ_voxels": {str(v): int((result.labels[name] == v).sum()) for v in range(1, 5)}}
            for name in result.labels
        },
        "pairing": {
            name: {"rule": p.rule, "reason": p.reason, "pairs": p.as_rows()} for name, p in result.pairings.items()
        },
        "segmented_together": [list(names) for names in result.together],
        "series_with_strokes": list(result.stroked),
        "volumes": [asdict(row) for row in volumes or []],
        "warnings": list(result.warnings),
        "timings": dict(result.timings),
    }
