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


def run(args: argparse.Namespace) -> int:
    """Generate and write the studies; returns the exit code (0)."""
    from .preview import contact_sheet
    from .study import generate_study, write_study

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
        log.info("wrote %s", folder)
        print(folder)
        if args.preview:
            studies.append(study)
    if args.preview:
        sheet = contact_sheet(studies, out / f"phantom_preview_{args.seed}.png")
        print(sheet)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry point: `python -m CrossMRLib.phantom.command --out DIR ...`."""
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
