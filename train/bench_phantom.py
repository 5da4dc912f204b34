"""Benchmark the phantom generator: seconds per study (goal: < 10 s on 2 cores).

    .venv/bin/python train/bench_phantom.py --seeds 0 1 2 [--field-strength 3] [--write]

Prints one row per study (generate, write, total seconds, voxels over all series) and the mean.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from CrossMRLib.phantom import generate_study, write_study  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--field-strength", type=float, default=1.5, choices=(1.5, 3.0))
    parser.add_argument("--write", action="store_true", help="also time write_study (NIfTI .gz)")
    args = parser.parse_args()
    print(f"cpus={os.cpu_count()} OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '-')} field={args.field_strength} T")
    print(f"{'seed':>5} {'generate_s':>10} {'cpu_s':>6} {'write_s':>8} {'total_s':>8} {'Mvoxels':>8}")
    totals = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            t0, c0 = time.perf_counter(), time.process_time()
            study = generate_study(seed, args.field_strength)
            t1, c1 = time.perf_counter(), time.process_time()
            if args.write:
                write_study(study, Path(tmp))
            t2 = time.perf_counter()
            voxels = sum(s.array.size for s in study.images.values()) / 1e6
            totals.append(t2 - t0)
            write = f"{t2 - t1:8.2f}" if args.write else f"{'-':>8}"
            print(f"{seed:>5} {t1 - t0:10.2f} {c1 - c0:6.2f} {write} {t2 - t0:8.2f} {voxels:8.1f}")
    print(f"{'mean':>5} {'':>10} {'':>6} {'':>8} {sum(totals) / len(totals):8.2f}   (goal < 10 s per study)")
    print("cpu_s = process CPU seconds of generate_study; wall time grows when other jobs share the cores")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
