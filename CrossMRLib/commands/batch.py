"""`crossmr batch MANIFEST.csv`: segment a cohort, one study per manifest row, resumable and shardable."""

from __future__ import annotations

import argparse
import csv
import os
import signal
import sys
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, fields
from pathlib import Path

from ..batch.manifest import read_manifest, shard_of
from ..batch.runner import Outcome, run_study, stop_all
from ..devices import DEVICES
from ..errors import InputError
from ..methods import METHODS
from ..outputs import DEFAULT_FORMATS, parse_formats


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "batch", help="segment every study of a manifest CSV",
        description="Segment a cohort: one study per row of MANIFEST.csv (columns reference, scribbles, targets, "
                    "out; optional study = a DICOM study folder, then reference/targets are series numbers or "
                    "descriptions). Finished studies are skipped, so a killed batch resumes where it stopped.")
    parser.add_argument("manifest", type=Path, help="CSV manifest; relative paths are relative to its folder")
    parser.add_argument("--jobs", type=int, default=1, help="studies segmented at a time (default 1)")
    parser.add_argument("--threads", type=int, help="CPU threads per study (default: all cores / --jobs)")
    parser.add_argument("--shard", metavar="I/N",
                        help="run only shard I of N (I = 0..N-1: rows I, I+N, ...), e.g. $SLURM_ARRAY_TASK_ID/10")
    parser.add_argument("--summary", type=Path,
                        help="summary CSV (default: MANIFEST.summary.csv beside the manifest, one per shard)")
    parser.add_argument("--method", choices=METHODS, default="auto")
    parser.add_argument("--weights", type=Path, help="model weights file (default: the shipped model)")
    parser.add_argument("--device", choices=DEVICES, default="auto", help="where the model runs (see crossmr segment)")
    parser.add_argument("--separate-series", action="store_true", help="see crossmr segment")
    parser.add_argument("--format", default=",".join(DEFAULT_FORMATS), help="output formats (see crossmr segment)")


def run(args: argparse.Namespace) -> int:
    if args.jobs < 1 or (args.threads is not None and args.threads < 1):
        raise InputError("--jobs and --threads must be 1 or more")
    parse_formats(args.format)
    rows = shard_of(read_manifest(args.manifest), args.shard)
    threads = args.threads or max(1, (os.cpu_count() or 1) // args.jobs)
    options = ["--method", args.method, "--format", args.format]
    options += (["--weights", str(args.weights)] if args.weights else []) + ["--device", args.device]
    options += ["--separate-series"] if args.separate_series else []
    summary = args.summary or _default_summary(args.manifest, args.shard)
    outcomes: list[Outcome] = []
    interrupted = False
    previous = signal.signal(signal.SIGTERM, _interrupt)  # a scheduler's stop: end the running studies too
    try:
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            futures = [pool.submit(run_study, row, options, threads) for row in rows]
            try:
                for future in as_completed(futures):
                    outcomes.append(future.result())
                    _progress(outcomes, len(rows))
                    write_summary(outcomes, summary)
            except KeyboardInterrupt:
                interrupted = True
                for future in futures:
                    future.cancel()
                stop_all()
    finally:
        signal.signal(signal.SIGTERM, previous)
    if interrupted:
        print(f"error: batch stopped; {sum(o.status == 'done' for o in outcomes)} finished studies are kept and the "
              "same command resumes after them", file=sys.stderr)
        return 130
    failed = [o for o in outcomes if o.status == "failed"]
    for outcome in sorted(failed, key=lambda o: o.row):
        print(f"error: {outcome.message}", file=sys.stderr)
    counts = {s: sum(o.status == s for o in outcomes) for s in ("done", "skipped", "failed")}
    print(f"batch: {counts['done']} done, {counts['skipped']} already done, {counts['failed']} failed; "
          f"summary in {summary}", file=sys.stderr)
    return 2 if failed else 0


def write_summary(outcomes: list[Outcome], path: Path) -> None:
    """The summary CSV, in manifest order (rewritten whole after every study, atomically)."""
    partial = path.with_name(path.name + ".partial")
    with partial.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=[f.name for f in fields(Outcome)])
        writer.writeheader()
        writer.writerows(asdict(o) for o in sorted(outcomes, key=lambda o: o.row))
    os.replace(partial, path)


def _default_summary(manifest: Path, shard: str | None) -> Path:
    suffix = f".shard-{shard.replace('/', '-of-')}" if shard else ""
    return manifest.with_name(f"{manifest.stem}{suffix}.summary.csv")


def _progress(outcomes: list[Outcome], total: int) -> None:
    done = len(outcomes)
    bar = "#" * (20 * done // max(total, 1))
    last = outcomes[-1]
    failed = sum(o.status == "failed" for o in outcomes)
    print(f"[{bar:<20}] {done}/{total} studies{f' ({failed} failed)' if failed else ''}: row {last.row} "
          f"{last.status}{f' in {last.seconds:.0f} s' if last.status == 'done' else ''}", file=sys.stderr, flush=True)


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt
