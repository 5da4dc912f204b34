"""`crossmr phantom`: write simulated five-contrast studies (and optionally a contact sheet) to a folder."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from ..errors import InputError

log = logging.getLogger("crossmr")

HELP = "write simulated five-contrast abdominal MRI studies with organ labels"


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register the `phantom` sub-command on an argparse sub-parser collection."""
    parser = subparsers.add_parser("phantom", help=HELP, description=HELP + " (T1w, T2w, DWI b0/b800, in/opposed phase)")
    _arguments(parser)
    parser.set_defaults(func=run)
    return parser


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, type=Path, help="output folder; studies go to OUT/study_<seed>/")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first study (default 0)")
    parser.add_argument("--count", type=int, default=1, help="number of studies, seeds SEED..SEED+COUNT-1 (default 1)")
    parser.add_argument("--preview", action="store_true", help="also write OUT/phantom_preview_<seed>.png (contact sheet)")
    parser.add_argument("--field-strength", type=float, default=1.5, choices=(1.5, 3.0),
                        help="main field in tesla: relaxation times and chemical-shift echo times (default 1.5)")
    parser.add_argument("--fatty-liver", choices=("yes", "no", "random"), default="random",
                        help="liver steatosis (default: random, about 30%% of subjects)")
    parser.add_argument("--dicom", action="store_true",
                        help="also write each study as a DICOM export (OUT/study_<seed>/DICOM: nested folders, "
                             "localiser, Dixon echoes in one folder, DWI b0 + b800, ADC) to try `crossmr series` and "
                             "`crossmr segment --reference 3 --targets all` on")


def run(args: argparse.Namespace) -> int:
    """Generate and write the studies; returns the exit code (0)."""
    from ..phantom.preview import contact_sheet
    from ..phantom.study import generate_study, write_study

    if args.count < 1:
        raise InputError(f"--count {args.count} must be at least 1")
    if args.seed < 0:
        raise InputError(f"--seed {args.seed} must be zero or positive")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file; give a folder")
    fatty = {"yes": True, "no": False}.get(getattr(args, "fatty_liver", "random"))
    studies = []
    for seed in range(args.seed, args.seed + args.count):
        study = generate_study(seed, args.field_strength, fatty)
        folder = write_study(study, out)
        write_sample_scribbles(study, folder)
        if getattr(args, "dicom", False):
            from ..dicom.sample import write_sample_study

            write_sample_study(study, folder)
        log.info("wrote %s", folder)
        print(folder)
        if args.preview:
            studies.append(study)
    if args.preview:
        sheet = contact_sheet(studies, out / f"phantom_preview_{args.seed}.png")
        print(sheet)
    return 0


def write_sample_scribbles(study, folder: Path) -> Path:
    """`folder/t1w_scribbles.nii.gz`: synthetic sparse scribbles (one stroke per organ) on the T1w series,
    drawn from the study's seed, so that `crossmr segment` can run on the study as written."""
    import numpy as np

    from ..io import write_labels_nifti
    from ..scribbles.synth import synthesize_scribbles

    reference = study.images["t1w"]
    scribbles = synthesize_scribbles(study.labels["t1w"].array, mode="sparse", rng=np.random.default_rng(study.seed),
                                     spacing=tuple(reference.spacing[1::-1]))
    path = Path(folder) / "t1w_scribbles.nii.gz"
    write_labels_nifti(scribbles, reference, path)
    return path


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry point: `python -m CrossMRLib.commands.phantom --out DIR ...`."""
    import sys

    parser = argparse.ArgumentParser(prog="crossmr phantom", description=HELP)
    _arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
