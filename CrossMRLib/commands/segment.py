"""`crossmr segment REFERENCE SCRIBBLES [TARGET ...] -o OUTDIR`: the main job."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from ..errors import InputError
from ..log import collect_warnings, log
from ..devices import DEVICES
from ..methods import METHODS
from ..dicom.seg import require_dicom_sources
from ..outputs import DEFAULT_FORMATS, output_paths, parse_formats, run_record, write_outputs, write_run_record
from ..pipeline import segment_study
from ..scribbles.read import read_scribbles
from ..volumes import consistency_warnings, volume_table
from .inputs import add_selection_arguments, add_stroke_arguments, read_inputs, read_stroke_files


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "segment", help="segment every series from scribbles on the reference",
        description="Segment liver, kidneys and spleen on the reference and every target series from scribbles "
                    "painted on the reference only.")
    parser.add_argument("reference", type=Path,
                        help="reference series: NIfTI, NRRD/MHA file or DICOM folder; or a DICOM study folder with "
                             "--reference SERIES")
    parser.add_argument("scribbles", type=Path,
                        help="scribbles on the reference grid: labelmap (1 liver, 2 right kidney, 3 left kidney, "
                             "4 spleen) or a Slicer .seg.nrrd")
    parser.add_argument("targets", type=Path, nargs="*", help="other series of the same study")
    add_selection_arguments(parser)
    add_stroke_arguments(parser)
    parser.add_argument("--only", action="append", metavar="SERIES",
                        help="re-segment only SERIES (its name as in the outputs; repeatable) and write only its "
                             "outputs; series on one grid with it are segmented and written with it unless "
                             "--separate-series")
    parser.add_argument("-o", "--out", type=Path, required=True, help="output folder")
    parser.add_argument("--weights", type=Path, help="model weights file (default: the shipped model)")
    parser.add_argument("--threads", type=int, help="CPU threads for the model (default: all cores)")
    parser.add_argument("--method", choices=METHODS, default="auto",
                        help="auto/model: the CrossMR model; region-growing: classical seeded region growing")
    parser.add_argument("--device", choices=DEVICES, default="auto",
                        help="where the model runs: auto (a CUDA GPU when torch sees one, else the CPU), cpu or cuda")
    parser.add_argument("--separate-series", action="store_true",
                        help="segment every series on its own; by default series on one grid (the in- and "
                             "opposed-phase echoes of one acquisition) are segmented together and get the same masks")
    parser.add_argument("--volume", type=int, help="for 4D inputs: which volume to use (default: highest b-value)")
    parser.add_argument("--format", default=",".join(DEFAULT_FORMATS),
                        help="output formats, comma-separated: seg-nrrd (Slicer), nifti (labelmap), dicom-seg (DICOM "
                             "Segmentation referencing the source images; DICOM input only); default seg-nrrd,nifti")
    parser.add_argument("--overwrite", action="store_true", help="replace output files of an earlier run in OUTDIR")
    parser.add_argument("--progress", action="store_true", help="print 'PROGRESS <fraction> <message>' lines")


def run(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    if args.threads is not None and args.threads < 1:
        raise InputError(f"--threads must be 1 or more, got {args.threads}")
    formats = parse_formats(args.format)
    with collect_warnings() as read_warnings:
        reference, targets, inputs = read_inputs(args)
        scribbles = read_scribbles(args.scribbles, reference)
        strokes, stroke_files = read_stroke_files(args.strokes, [reference, *targets])
    if "dicom-seg" in formats:
        require_dicom_sources([reference, *targets])
    _check_outdir(args.out, [reference.name, *(t.name for t in targets)], args.overwrite, formats)
    load_s = time.perf_counter() - start

    def report(fraction: float, message: str) -> None:
        if args.progress:
            print(f"PROGRESS {fraction:.3f} {message}", flush=True)

    result = segment_study(reference, scribbles, targets, method=args.method, weights=args.weights,
                           threads=args.threads, progress=report, joint=not args.separate_series,
                           device=args.device, strokes=strokes, only=args.only)
    result.warnings[:0] = read_warnings
    result.timings["load_s"] = round(load_s, 4)
    volumes = volume_table(result.labels, result.series, result.organs)
    for line in consistency_warnings(volumes):
        log.warning(line)
        result.warnings.append(line)
    write_outputs(result, args.out, formats, volumes)
    record = run_record(result, volumes)
    record["inputs"] = {**inputs, "scribbles": str(args.scribbles), **({"strokes": stroke_files} if stroke_files else {})}
    record["timings"]["total_s"] = round(time.perf_counter() - start, 4)
    write_run_record(record, args.out)
    log.info("wrote %d series to %s in %.1f s", len(result.labels), args.out, record["timings"]["total_s"])
    return 0


def _check_outdir(outdir: Path, names: list[str], overwrite: bool, formats: tuple[str, ...]) -> None:
    if outdir.exists() and not outdir.is_dir():
        raise InputError(f"{outdir}: exists and is not a folder; choose another output folder")
    if overwrite or not outdir.exists():
        return
    clashes = [p.name for p in output_paths(outdir, names, formats) if p.exists()]
    if clashes:
        raise InputError(f"{outdir}: already holds {clashes[0]}{' and more' if len(clashes) > 1 else ''} from an "
                         "earlier run; choose a new output folder or pass --overwrite")
