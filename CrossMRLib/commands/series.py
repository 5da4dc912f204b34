"""`crossmr series STUDY`: list the series of a DICOM study folder (any nesting) with a contrast guess."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..dicom.contrast import guess_contrast, left_out_reason
from ..dicom.scan import DicomSeries, scan_study
from ..errors import InputError

COLUMNS = ("number", "description", "slices", "pixel_mm", "thickness_mm", "te_ms", "tr_ms", "b_values", "contrast", "note")


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("series", help="list the series of a DICOM study folder",
                                   description="List every image series of a DICOM study folder (any nesting): "
                                               "number, description, size, TE/TR, b-values and a contrast guess.")
    parser.add_argument("study", type=Path, help="DICOM study folder")


def run(args: argparse.Namespace) -> int:
    found = scan_study(args.study)
    if not found:
        raise InputError(f"{args.study}: no DICOM image series found; give the folder of a DICOM export")
    rows = [COLUMNS] + [series_row(s) for s in found]
    widths = [max(len(row[c]) for row in rows) for c in range(len(COLUMNS))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    print(f"{len(found)} series; segment with: crossmr segment {args.study} SCRIBBLES --reference NUMBER "
          "--targets all -o OUT", file=sys.stderr)
    return 0


def series_row(series: DicomSeries) -> tuple[str, ...]:
    """One listing row (strings, in COLUMNS order)."""
    def num(value: float | None, digits: int = 1) -> str:
        text = "-" if value is None else f"{value:.{digits}f}"
        return text.rstrip("0").rstrip(".") if "." in text else text

    pixel = "x".join(num(v, 2) for v in series.pixel_spacing) if series.pixel_spacing else "-"
    bvalues = ",".join(num(b, 0) for b in series.bvalues) or "-"
    reason = left_out_reason(series)
    return (str(series.number) if series.number is not None else "-", series.description or "-", str(series.slices),
            pixel, num(series.thickness), num(series.echo_time, 2), num(series.repetition_time), bvalues,
            "other" if reason == "localiser" else guess_contrast(series), f"left out of 'all': {reason}" if reason else "")
