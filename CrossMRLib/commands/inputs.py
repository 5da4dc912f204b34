"""The series `crossmr segment` works on: files and single-series folders, or series picked from a DICOM study."""

from __future__ import annotations

import argparse

from pathlib import Path

import numpy as np

from ..errors import InputError
from ..io.readers import read_series, series_name
from ..series import Series


def add_selection_arguments(parser: argparse.ArgumentParser) -> None:
    """`--reference SERIES` and `--targets SERIES...|all` (series of a DICOM study folder)."""
    parser.add_argument("--reference", dest="reference_series", metavar="SERIES",
                        help="with a DICOM study folder as REFERENCE: the reference series, by number or description "
                             "(list them with: crossmr series STUDY)")
    parser.add_argument("--targets", dest="target_series", metavar="SERIES", nargs="+",
                        help="with --reference: target series by number or description, or 'all' (the default: every "
                             "other series but localisers, derived images and non-axial series)")


def add_stroke_arguments(parser: argparse.ArgumentParser) -> None:
    """`--strokes SERIES FILE` (repeatable): correction strokes painted on any series."""
    parser.add_argument("--strokes", nargs=2, action="append", metavar=("SERIES", "FILE"), default=[],
                        help="correction strokes painted on SERIES (its name as in the outputs, or its input path), on "
                             "its own grid: a labelmap (1 liver, 2 right kidney, 3 left kidney, 4 spleen, 255 erase: no "
                             "organ here) or a .seg.nrrd (organ segments, 'background' = erase); repeatable")


def read_stroke_files(pairs: list[list[str]], series: list[Series]) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """({series name: strokes on its grid}, {series name: file}) from `--strokes SERIES FILE` pairs."""
    from ..corrections.strokes import read_strokes

    by_name = {s.name: s for s in series}
    strokes: dict[str, np.ndarray] = {}
    files: dict[str, str] = {}
    for token, path in pairs:
        name = token if token in by_name else series_name(Path(token)) if Path(token).exists() else token
        if name not in by_name:
            raise InputError(f"--strokes {token}: no series of this run is named so (series: "
                             f"{', '.join(by_name)}); give one of these names")
        if name in strokes:
            raise InputError(f"--strokes {token}: given twice; paint all strokes of one series into one file")
        strokes[name] = read_strokes(path, by_name[name])
        files[name] = str(path)
    return strokes, files


def read_inputs(args: argparse.Namespace) -> tuple[Series, list[Series], dict]:
    """(reference, targets, what the run record says about the inputs)."""
    if args.reference_series is None and args.target_series is None:
        reference = read_series(args.reference, volume=args.volume)
        targets = [read_series(path, volume=args.volume) for path in args.targets]
        return reference, targets, {"reference": str(args.reference), "targets": [str(t) for t in args.targets]}
    if args.reference_series is None:
        raise InputError("--targets picks series of a DICOM study; also give the reference series with --reference SERIES")
    if args.targets:
        raise InputError("give the targets either as files after SCRIBBLES or with --targets, not both")
    return read_study_inputs(str(args.reference), args.reference_series, args.target_series, args.volume)


def read_study_inputs(folder: str, reference_token: str, target_tokens: list[str] | None,
                      volume: int | None = None) -> tuple[Series, list[Series], dict]:
    """Reference and targets picked from the DICOM study in `folder`."""
    from pathlib import Path

    from ..dicom.load import load_series
    from ..dicom.scan import scan_study
    from ..dicom.select import find_series, select_targets

    if not Path(folder).is_dir():
        raise InputError(f"{folder}: --reference picks a series of a DICOM study folder; give the study folder "
                         "(or leave out --reference and give series files)")
    found = scan_study(folder)
    if not found:
        raise InputError(f"{folder}: no DICOM image series found; give the folder of a DICOM export")
    reference_info = find_series(found, reference_token, folder)
    target_infos = select_targets(found, reference_info, target_tokens, folder)
    reference = load_series(reference_info, volume)
    targets = [load_series(one, volume) for one in target_infos]
    described = {s.name: {"series_number": s.number, "description": s.description, "series_uid": s.uid}
                 for s in [reference_info, *target_infos]}
    return reference, targets, {"study": folder, "reference": reference.name, "targets": [t.name for t in targets],
                                "dicom_series": described}
