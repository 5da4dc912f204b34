"""Where a model's errors sit, per organ: what the mask grid alone would cost, and how the model's error
voxels split into missed slices, false slices, a 2-pixel band around the true edge (too small: FN, too
large: FP) and farther away; then the false negatives and positives in the inferior, middle and superior
third of each organ's slices, as shares of its true voxels there. On CHAOS validation (reference = target; other
CHAOS subjects with `--subjects`), or with `--phantom C` on the generated held-out studies seeds 1..5 with T1w
scribbles and contrast C as the target (as evaluate.py).

    .venv/bin/python train/error_breakdown.py [--weights W] [--mode dense|sparse] [--no-refine] [--threads 2]
        [--subjects 01 02 ...]
    .venv/bin/python train/error_breakdown.py --phantom opposed

The grid ceiling: each true organ mask area-averaged onto the network's mask grid (half the input side),
brought back bilinearly and thresholded at 0.5, i.e. a perfect network's masks before any sharpening.
Voxel counts are pooled over the subjects (evaluate.py averages per subject instead).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from scipy import ndimage  # noqa: E402

from CrossMRLib.methods.crossmr_model import CrossMRModelMethod  # noqa: E402
from CrossMRLib.model.data import VAL_SUBJECTS, chaos_root  # noqa: E402
from CrossMRLib.organs import ORGAN_BY_LABEL  # noqa: E402
from CrossMRLib.pairing import identity_pairing  # noqa: E402
from evaluate import HELD_OUT_PHANTOM_SEEDS, TARGET_CONTRASTS, phantom_targets, read_chaos, scribbles_for  # noqa: E402

BAND_PX = 2


def grid_ceiling_dice(truth: np.ndarray, side: int) -> tuple[float, float]:
    """(overlap, size sum) of `truth` (K, J, I) bool against itself sent through a side x side grid."""
    m = torch.from_numpy(truth.astype(np.float32))[:, None]
    small = F.interpolate(m, size=(side, side), mode="area")
    back = (F.interpolate(small, size=m.shape[-2:], mode="bilinear", align_corners=False) > 0.5)[:, 0].numpy()
    return float((back & truth).sum()), float(back.sum() + truth.sum())


def error_kinds(truth: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """Voxel counts of one organ's errors by kind (see the module docstring)."""
    t_slices, p_slices = truth.reshape(len(truth), -1).any(1), pred.reshape(len(pred), -1).any(1)
    missed = (t_slices & ~p_slices)[:, None, None] & truth
    false = (p_slices & ~t_slices)[:, None, None] & pred
    band = np.stack([ndimage.binary_dilation(t, iterations=BAND_PX) & ~ndimage.binary_erosion(t, iterations=BAND_PX)
                     for t in truth])
    rest = (truth ^ pred) & ~missed & ~false
    near, far = rest & band, rest & ~band
    return {"truth": truth.sum(), "pred": pred.sum(), "overlap": (truth & pred).sum(), "missed": missed.sum(),
            "false": false.sum(), "near_fn": (near & truth).sum(), "near_fp": (near & pred).sum(),
            "far_fn": (far & truth).sum(), "far_fp": (far & pred).sum()}


def superior_step(series) -> int:
    """+1 when a higher slice index lies higher in the patient (superior), else -1."""
    return 1 if float(series.ijk_to_ras[2, 2]) >= 0 else -1


def height_thirds(truth: np.ndarray, pred: np.ndarray, superior: int) -> np.ndarray:
    """(3, 3) voxel counts [true, FN, FP] of one organ in the inferior, middle and superior third of the
    slices the organ spans in `truth` (prediction outside that span is left out: the 'false slices')."""
    out = np.zeros((3, 3))
    slices = np.flatnonzero(truth.reshape(len(truth), -1).any(1))
    if slices.size == 0:
        return out
    span = max(1, int(slices[-1] - slices[0]))
    for k in slices:
        height = (k - slices[0]) / span if superior > 0 else (slices[-1] - k) / span
        out[min(2, int(height * 3))] += [truth[k].sum(), (truth[k] & ~pred[k]).sum(), (pred[k] & ~truth[k]).sum()]
    return out


def chaos_cases(method, root: Path, mode: str, seed: int, subjects: tuple[str, ...] = VAL_SUBJECTS
                ) -> Iterator[tuple[np.ndarray, np.ndarray, int]]:
    """(truth, prediction, superior step) of CHAOS `subjects` (the validation ones by default), reference = target."""
    for s in subjects:
        image, truth = read_chaos(root, s)
        scribbles, _ = scribbles_for(truth, image.spacing, mode, seed + int(s))
        yield truth, method.segment_target(image, scribbles, image, identity_pairing(image)), superior_step(image)


def phantom_cases(method, contrast: str, mode: str, seed: int) -> Iterator[tuple[np.ndarray, np.ndarray, int]]:
    """(truth, prediction, superior step) of `contrast` in the held-out generated studies, T1w scribbles."""
    from CrossMRLib.phantom import generate_study

    for ps in HELD_OUT_PHANTOM_SEEDS:
        for c, reference, scribbles, _, target, truth, pairing in phantom_targets(generate_study(ps), mode, seed + ps):
            if c == contrast:
                yield truth, method.segment_target(reference, scribbles, target, pairing), superior_step(target)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", type=Path, default=None, help="weights file (default: shipped)")
    p.add_argument("--mode", choices=("dense", "sparse"), default="dense")
    p.add_argument("--chaos", type=Path, default=chaos_root())
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0, help="scribble seed (as evaluate.py)")
    p.add_argument("--no-refine", action="store_true", help="without the edge-aware sharpening (for comparison)")
    p.add_argument("--phantom", choices=TARGET_CONTRASTS, default=None,
                   help="generated studies seeds 1..5, T1w scribbles (--mode), this contrast as the target")
    p.add_argument("--subjects", nargs="+", default=list(VAL_SUBJECTS),
                   help="CHAOS subjects (default: validation); e.g. the training subjects for never-seen weights")
    args = p.parse_args(argv)
    missing = [s for s in args.subjects if not (args.chaos / f"patient_{s}").is_dir()]
    if args.phantom is None and missing:
        raise SystemExit(f"error_breakdown.py: no CHAOS subject {missing[0]} at {args.chaos}; pass --chaos and "
                         "--subjects (or --phantom C)")

    method = CrossMRModelMethod(weights=args.weights, threads=args.threads, refine=not args.no_refine)
    side = method.size // 2
    totals = {o: {} for o in range(1, 5)}
    ceiling = {o: [0.0, 0.0] for o in range(1, 5)}
    thirds = {o: np.zeros((3, 3)) for o in range(1, 5)}
    cases = phantom_cases(method, args.phantom, args.mode, args.seed) if args.phantom else \
        chaos_cases(method, args.chaos, args.mode, args.seed, tuple(args.subjects))
    for truth, pred, superior in cases:
        for o in range(1, 5):
            thirds[o] += height_thirds(truth == o, pred == o, superior)
            for key, value in error_kinds(truth == o, pred == o).items():
                totals[o][key] = totals[o].get(key, 0.0) + float(value)
            overlap, size = grid_ceiling_dice(truth == o, side)
            ceiling[o][0] += overlap
            ceiling[o][1] += size
    where = f"generated studies {list(HELD_OUT_PHANTOM_SEEDS)}, T1w -> {args.phantom}" if args.phantom else \
        f"CHAOS {'validation ' if tuple(args.subjects) == tuple(VAL_SUBJECTS) else ''}{' '.join(args.subjects)}"
    print(f"{where}, {args.mode} scribbles, weights sha256 "
          f"{method.weights_sha256[:8]}{', no sharpening' if args.no_refine else ''}; shares of each organ's error voxels (FN + FP)")
    print(f"| organ | {side}x{side} grid ceiling DSC | model DSC | missed slices | false slices | "
          f"within {BAND_PX} px of the edge: FN / FP | farther: FN / FP |")
    print("|---|---|---|---|---|---|---|")
    for o in range(1, 5):
        t = totals[o]
        errors = t["truth"] + t["pred"] - 2 * t["overlap"]
        share = {k: t[k] / max(errors, 1.0) for k in ("missed", "false", "near_fn", "near_fp", "far_fn", "far_fp")}
        print(f"| {ORGAN_BY_LABEL[o].name} | {2 * ceiling[o][0] / ceiling[o][1]:.3f} | {2 * t['overlap'] / (t['truth'] + t['pred']):.3f} "
              f"| {share['missed']:.2f} | {share['false']:.2f} | {share['near_fn']:.2f} / {share['near_fp']:.2f} "
              f"| {share['far_fn']:.2f} / {share['far_fp']:.2f} |")
    print("\nFalse negatives / false positives as shares of the true voxels, by thirds of each organ's slices")
    print("| organ | inferior third | middle third | superior third |")
    print("|---|---|---|---|")
    for o in range(1, 5):
        cells = [f"{t[1] / max(t[0], 1.0):.2f} / {t[2] / max(t[0], 1.0):.2f}" for t in thirds[o]]
        print(f"| {ORGAN_BY_LABEL[o].name} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
