"""Measure what cross-series volume deviation separates good from bad segmentations (sets
`CrossMRLib.volumes.CONSISTENCY_THRESHOLD`; the numbers go to docs/volume_consistency.md).

For each generated evaluation study (seeds 1..5, never trained on): sparse strokes on T1w, CrossMR
segments all five series; every series/organ gets its Dice against the true labels and its
volume's deviation from the study median. Then each target series/organ is broken on purpose (eroded,
dilated, a third of its slices dropped, lost) and scored the same way. Good = Dice >= 0.85, bad = Dice
< 0.70. Per-study results are cached in runs/volume_consistency/ so a rerun only re-tabulates.

    nice -n 19 .venv/bin/python train/volume_consistency.py --seeds 1 2 3 4 5 --threads 1
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from scipy import ndimage

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from CrossMRLib.metrics import dice  # noqa: E402
from CrossMRLib.organs import ORGANS  # noqa: E402
from CrossMRLib.volumes import CONSISTENCY_THRESHOLD, volume_table  # noqa: E402

SERIES = ("t1w", "t2w", "dwi", "inphase", "opposed")
GOOD, BAD = 0.85, 0.70
THRESHOLDS = (0.05, 0.08, 0.10, 0.12, 0.15, 0.20, 0.25, 0.30)


def breakages(mask: np.ndarray) -> dict[str, np.ndarray]:
    """Deliberately broken versions of one organ mask (K, J, I)."""
    in_plane = np.zeros((1, 3, 3), bool)
    in_plane[0] = ndimage.generate_binary_structure(2, 1)
    slices = np.flatnonzero(mask.any(axis=(1, 2)))
    third = max(1, len(slices) // 3)
    top, bottom = mask.copy(), mask.copy()
    top[slices[-third:]] = False
    bottom[slices[:third]] = False
    return {"eroded 1": ndimage.binary_erosion(mask, in_plane), "eroded 2": ndimage.binary_erosion(mask, in_plane, 2),
            "dilated 1": ndimage.binary_dilation(mask, in_plane), "dilated 2": ndimage.binary_dilation(mask, in_plane, 2),
            "top third lost": top, "bottom third lost": bottom, "lost": np.zeros_like(mask)}


def measure_study(seed: int, threads: int) -> list[dict]:
    """Rows (kind, series, organ, dice, deviation) of one study: CrossMR outputs, truth, broken outputs."""
    from CrossMRLib.phantom import generate_study
    from CrossMRLib.pipeline import segment_study
    from CrossMRLib.scribbles.synth import synthesize_scribbles

    study = generate_study(seed)
    truth = {n: study.labels[n].array.astype(np.uint8) for n in SERIES}
    series = {n: study.images[n] for n in SERIES}
    spacing = series["t1w"].spacing
    scribbles = synthesize_scribbles(truth["t1w"], mode="sparse", rng=np.random.default_rng(seed), max_slices=3,
                                     spacing=(spacing[1], spacing[0]))
    result = segment_study(series["t1w"], scribbles, [series[n] for n in SERIES[1:]], method="auto", threads=threads)
    labels = {n: result.labels[n] for n in SERIES}
    present = [o.label for o in ORGANS]
    rows = [_row("truth", r, truth) for r in volume_table(truth, series, present)]
    rows += [_row("crossmr", r, truth, labels) for r in volume_table(labels, series, present)]
    for name in SERIES[1:]:
        for organ in ORGANS:
            mask = labels[name] == organ.label
            for kind, broken in breakages(mask).items():
                changed = dict(labels)
                changed[name] = np.where(mask, 0, labels[name]).astype(np.uint8)
                changed[name][broken & (changed[name] == 0)] = organ.label
                row = next(r for r in volume_table(changed, series, [organ.label]) if r.series == name)
                rows.append(_row(f"broken: {kind}", row, truth, changed))
    return rows


def _row(kind: str, row, truth: dict, labels: dict | None = None) -> dict:
    label = next(o.label for o in ORGANS if o.name == row.organ)
    score = 1.0 if labels is None else dice(labels[row.series] == label, truth[row.series] == label)
    return {"kind": kind, "series": row.series, "organ": row.organ, "dice": round(float(score), 4),
            "deviation": row.deviation, "cut_off": row.cut_off}


def tabulate(rows: list[dict]) -> str:
    """Markdown: deviation percentiles per group, and flag rates per candidate threshold."""
    def dev(group):
        return np.array([abs(r["deviation"]) for r in group if r["deviation"] is not None])

    targets = [r for r in rows if r["series"] != "t1w"]
    groups = {"true labels (all series)": [r for r in rows if r["kind"] == "truth"],
              f"CrossMR outputs, Dice >= {GOOD}": [r for r in targets if r["kind"] == "crossmr" and r["dice"] >= GOOD],
              f"CrossMR outputs, Dice < {GOOD}": [r for r in targets if r["kind"] == "crossmr" and r["dice"] < GOOD],
              f"broken outputs, Dice < {BAD}": [r for r in targets if r["kind"].startswith("broken") and r["dice"] < BAD],
              f"broken outputs, Dice {BAD}-{GOOD}": [r for r in targets if r["kind"].startswith("broken")
                                                     and BAD <= r["dice"] < GOOD]}
    lines = ["| group | n | median abs. deviation | 95th pct | max | " + " | ".join(f"> {t:.0%}" for t in THRESHOLDS) + " |",
             "|---|---|---|---|---|" + "---|" * len(THRESHOLDS)]
    for name, group in groups.items():
        d = dev(group)
        if d.size == 0:
            continue
        rates = " | ".join(f"{(d > t).mean():.0%}" for t in THRESHOLDS)
        lines.append(f"| {name} | {d.size} | {np.median(d):.1%} | {np.percentile(d, 95):.1%} | {d.max():.1%} | {rates} |")
    kinds = sorted({r["kind"] for r in rows if r["kind"].startswith("broken")})
    lines += ["", f"| breakage | n | median Dice | median abs. deviation | flagged at {CONSISTENCY_THRESHOLD:.0%} |", "|---|---|---|---|---|"]
    for kind in kinds:
        group = [r for r in targets if r["kind"] == kind]
        d = dev(group)
        lines.append(f"| {kind[8:]} | {len(group)} | {np.median([r['dice'] for r in group]):.3f} | {np.median(d):.1%} | "
                     f"{(d > CONSISTENCY_THRESHOLD).mean():.0%} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cache", type=Path, default=ROOT / "runs" / "volume_consistency")
    args = parser.parse_args(argv)
    args.cache.mkdir(parents=True, exist_ok=True)
    rows = []
    for seed in args.seeds:
        path = args.cache / f"study_{seed}.json"
        if not path.exists():
            path.write_text(json.dumps(measure_study(seed, args.threads)))
            print(f"study {seed} measured", flush=True)
        rows += json.loads(path.read_text())
    print(tabulate(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
