"""The `crossmr` command: sub-commands assembled from CrossMRLib.commands."""

from __future__ import annotations

import argparse
import logging
import sys

from . import __version__
from .allocator import keep_freed_memory
from .errors import Cancelled, InputError


class _StderrFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname.lower()}: {record.getMessage()}" if record.levelno >= logging.WARNING else record.getMessage()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crossmr", description="Cross-modality referring segmentation of abdominal MRI.")
    parser.add_argument("--version", action="version", version=f"crossmr {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for command in _commands().values():
        command.add_parser(subparsers)
    return parser


def _commands() -> dict:
    """Sub-command modules by name (imported lazily so `crossmr --help` stays quick)."""
    from .commands import batch, demo, phantom, segment, series

    return {"series": series, "segment": segment, "batch": batch, "phantom": phantom, "demo": demo}


def main(argv: list[str] | None = None) -> int:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_StderrFormatter())
    logger = logging.getLogger("crossmr")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        args = build_parser().parse_args(argv)
        if argv is None and args.command == "segment":  # a process of its own (the Slicer module's, a user's)
            keep_freed_memory()
        return int(_commands()[args.command].run(args) or 0)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (Cancelled, KeyboardInterrupt):
        print("error: cancelled; nothing was written", file=sys.stderr)
        return 130
    finally:
        logger.removeHandler(handler)


if __name__ == "__main__":
    sys.exit(main())
