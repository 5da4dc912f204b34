"""Run one manifest study as its own `crossmr segment` process, into a partial folder renamed when done.

A study is done when its output folder holds `crossmr_run.json` (written last); a batch killed mid-study
leaves only `.<out>.crossmr-partial`, which the next run removes and redoes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ..outputs import RUN_FILE
from .manifest import StudyRow

_RUNNING: set[subprocess.Popen] = set()
_LOCK = threading.Lock()


@dataclass
class Outcome:
    """What happened to one study."""

    row: int
    out: str
    status: str  # done, skipped (already done), failed
    seconds: float = 0.0
    flagged: int = 0  # series/organ volumes flagged by the consistency check
    warnings: int = 0
    message: str = ""


def partial_folder(out: Path) -> Path:
    """Where a study is written until it is complete."""
    return out.parent / f".{out.name}.crossmr-partial"


def run_study(row: StudyRow, options: list[str], threads: int) -> Outcome:
    """Segment one study unless it is done; never raises for a problem with the study."""
    out = row.out
    if row.error:
        return Outcome(row.number, str(out), "failed", message=row.error)
    if (out / RUN_FILE).is_file():
        return Outcome(row.number, str(out), "skipped", message="already done")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        return Outcome(row.number, str(out), "failed", message=f"row {row.number}: {out} exists and is not a finished "
                       "CrossMR run (no crossmr_run.json); remove it or choose another out folder")
    created = [p for p in [out.parent, *out.parent.parents] if not p.exists()]
    partial = partial_folder(out)
    start = time.perf_counter()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(partial, ignore_errors=True)  # left by a killed run: ours, redone
        partial.mkdir()
        code, stderr = _segment([*row.argv, "-o", str(partial), "--threads", str(threads), *options], threads)
        if code == 0:
            if out.exists():
                out.rmdir()  # empty, checked above
            os.replace(partial, out)
            return _done(row, out, time.perf_counter() - start)
    except OSError as exc:
        code, stderr = 1, f"error: {out}: {exc.strerror or exc}"
    shutil.rmtree(partial, ignore_errors=True)
    for folder in created:  # leave nothing behind for a failed study
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
    return Outcome(row.number, str(out), "failed", round(time.perf_counter() - start, 1),
                   message=f"row {row.number}: {_last_error(stderr, code)}")


def stop_all() -> None:
    """Terminate every running study process (the batch was interrupted)."""
    with _LOCK:
        for process in list(_RUNNING):
            process.terminate()


def _segment(arguments: list[str], threads: int) -> tuple[int, str]:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    command = [sys.executable, "-m", "CrossMRLib.cli", "segment", *arguments]
    with _LOCK:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
        _RUNNING.add(process)
    try:
        _, stderr = process.communicate()
    finally:
        with _LOCK:
            _RUNNING.discard(process)
    return process.returncode, stderr


def _done(row: StudyRow, out: Path, seconds: float) -> Outcome:
    record = json.loads((out / RUN_FILE).read_text())
    flagged = sum(1 for v in record.get("volumes", []) if v.get("flagged"))
    return Outcome(row.number, str(out), "done", round(seconds, 1), flagged, len(record.get("warnings", [])))


def _last_error(stderr: str, code: int) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line[len("error: "):] for line in lines if line.startswith("error: ")]
    if errors:
        return errors[-1]
    return f"crossmr segment stopped (exit {code}): {lines[-1] if lines else 'no message'}"
