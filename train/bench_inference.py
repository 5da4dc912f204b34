"""Inference benchmark: ms per slice pair at 256 x 256, a five-series study end to end, peak memory.

    .venv/bin/python train/bench_inference.py [--weights PATH] [--threads 1 2]
Prints a table for the default (three shifted passes per slice), `--fast` (one pass) and the default with
every series on its own (`--separate-series`) at each thread count, with each time as a ratio of the fast one
measured in the same run; numbers depend on the machine and on its load (run it on an idle machine). The study
is segmented as `crossmr segment` does it: a reference and four targets on grids of their own, except the last
two (the in- and opposed-phase echoes), which share one grid and are segmented together by default.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from CrossMRLib.methods.crossmr_model import CrossMRModelMethod  # noqa: E402
from CrossMRLib.pairing import identity_pairing  # noqa: E402
from CrossMRLib.pipeline import segment_study  # noqa: E402
from CrossMRLib.series import Series, make_ijk_to_ras  # noqa: E402


def volume(name: str, slices: int, seed: int, offset_mm: float = 0.0) -> Series:
    """A 256 x 256 series; `offset_mm` moves its grid in-plane (series of a study lie on grids of their own)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:256, :256]
    base = ((yy - 128) ** 2 / 100 ** 2 + (xx - 128) ** 2 / 120 ** 2 < 1) * 400.0
    array = np.stack([base + rng.normal(0, 30, (256, 256)) for _ in range(slices)]).astype(np.float32)
    return Series(array, make_ijk_to_ras((1.4, 1.4, 6.0), (offset_mm, -offset_mm, 0)), name)


def scribbles(shape) -> np.ndarray:
    s = np.zeros(shape, np.uint8)
    for o, (r, c) in enumerate([(100, 80), (150, 70), (150, 180), (110, 190)], start=1):
        s[shape[0] // 2, r:r + 4, c:c + 25] = o
    return s


def time_study(weights: Path | None, threads: int, fast: bool, slices: int, joint: bool = True) -> tuple[int, float]:
    """(passes, seconds) for a five-series study through `segment_study`: the reference, then four targets,
    the last two (the echoes) on one grid."""
    method = CrossMRModelMethod(weights=weights, threads=threads, fast=fast)
    ref = volume("ref", slices, 0)
    scr = scribbles(ref.shape)
    method.segment_target(ref, scr, ref, identity_pairing(ref))  # warm-up
    method._cache = None
    targets = [volume(f"t{i}", slices, i + 1, offset_mm=0.7 * min(i + 1, 3)) for i in range(4)]
    tick = time.perf_counter()
    segment_study(ref, scr, targets, method=method, joint=joint)
    return len(method.shifts), time.perf_counter() - tick


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--weights", type=Path, default=None)
    p.add_argument("--threads", type=int, nargs="*", default=[1, 2])
    p.add_argument("--slices", type=int, default=40, help="slices per series (5 series = a study)")
    args = p.parse_args()
    pairs = 5 * args.slices
    print(f"| threads | passes | echoes | ms per slice pair (256x256) | five-series study ({pairs} slices) s | x fast |")
    print("|---|---|---|---|---|---|")
    for threads in args.threads:
        fast_s = None
        for fast, joint in ((True, True), (False, True), (False, False)):
            passes, study = time_study(args.weights, threads, fast, args.slices, joint)
            fast_s = fast_s or study
            print(f"| {threads} | {passes} | {'together' if joint else 'separate'} | {1000 * study / pairs:.1f} | "
                  f"{study:.2f} | {study / fast_s:.2f} |", flush=True)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (max RSS, whole process): {peak_mb:.0f} MB; torch {torch.__version__}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
