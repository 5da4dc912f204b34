"""Write a StudyResult: `<S>.seg.nrrd` + `<S>.labels.nii.gz` per series and `crossmr_run.json`."""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path

from . import __version__
from .io import write_labels_nifti, write_seg_nrrd
from .pipeline import StudyResult

RUN_FILE = "crossmr_run.json"


def output_paths(outdir: Path, names: list[str]) -> list[Path]:
    """Every file a run with these series names writes."""
    paths = [outdir / RUN_FILE]
    for name in names:
        paths += [outdir / f"{name}.seg.nrrd", outdir / f"{name}.labels.nii.gz"]
    return paths


def write_outputs(result: StudyResult, outdir: Path) -> None:
    """Write the segmentation and labelmap of every series."""
    outdir.mkdir(parents=True, exist_ok=True)
    for name, labels in result.labels.items():
        grid = result.series[name]
        write_seg_nrrd(labels, grid, outdir / f"{name}.seg.nrrd")
        write_labels_nifti(labels, grid, outdir / f"{name}.labels.nii.gz")


def write_run_record(record: dict, outdir: Path) -> Path:
    """Save the run record as crossmr_run.json."""
    path = outdir / RUN_FILE
    path.write_text(json.dumps(record, indent=2))
    return path


def run_record(result: StudyResult) -> dict:
    """Versions, method, weights hash, pairing table, warnings and timings of one run."""
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
        "warnings": list(result.warnings),
        "timings": dict(result.timings),
    }
