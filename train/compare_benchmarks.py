"""Check that a second benchmark run reproduces the first within noise.

    .venv/bin/python train/benchmark.py --cache cache/benchmark_run2 --out docs/benchmark_rerun  # empty cache
    .venv/bin/python train/compare_benchmarks.py docs/benchmark_results.json \
        docs/benchmark_rerun/benchmark_results.json --out docs/benchmark_reproducibility.md

When retraining the U-Nets does not fit the time, add `--unet-from cache/benchmark/full` to the second run:
it copies the first run's trained U-Nets (the page and this comparison say so). Their training is
deterministic for a step budget (Testing/test_unet_training.py), so that leaves out only the retraining.

Prints (and with --out writes) the mean DSC of every method on every contrast in both runs, the verdict
per number (rules in train/baselines/summary.py) and every number outside noise. Exit status 0 when all
agree, 1 when some do not, 2 for unreadable input.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# train/train.py would shadow the `train` package when this file runs as a script: import from the root.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "train"]
sys.path.insert(0, str(ROOT))

from train.baselines.summary import compare, comparison_page, load_summary  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("first", type=Path, help="benchmark_results.json of the first run")
    p.add_argument("second", type=Path, help="benchmark_results.json of the second run")
    p.add_argument("--out", type=Path, help="also write the comparison as a Markdown page")
    args = p.parse_args(argv)
    try:
        first, second = load_summary(args.first), load_summary(args.second)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    shared = sorted(set(first["runs"]) & set(second["runs"]))
    if shared:
        print(f"error: both summaries hold results of run {', '.join(shared)}: the second run reused cached "
              "results; run benchmark.py again with an empty --cache folder", file=sys.stderr)
        return 2
    checks, missing = compare(first, second)
    page = comparison_page(first, second, checks, missing)
    print(page)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(page)
    return 0 if checks and all(c.ok for c in checks) and not missing else 1


if __name__ == "__main__":
    raise SystemExit(main())
