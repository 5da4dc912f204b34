"""Evaluate CrossMR (and Slicer's Grow from seeds) and write docs/results.md.

    .venv/bin/python train/evaluate.py                 # shipped weights, everything
    .venv/bin/python train/evaluate.py --weights runs/x/model.pt --no-growcut --results -

(a) CHAOS validation subjects (reference = target series): dense scribbles (every slice holding the
organ) and sparse scribbles (one slice per organ). (b) Held-out generated studies (seeds 1..5, never
trained on), the paper's protocol: scribbles on T1w only, targets T2w/DWI/in-phase/opposed paired by
position; the in- and opposed-phase echoes (one grid) are segmented together, as `crossmr segment` does by
default (`--separate-series`: each on its own). DSC and NSD (liver 5 mm, kidneys/spleen 3 mm) per organ, 3D per volume.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from CrossMRLib.grids import carry_labels  # noqa: E402
from CrossMRLib.methods.crossmr_model import CrossMRModelMethod, default_weights  # noqa: E402
from CrossMRLib.metrics import organ_scores  # noqa: E402
from CrossMRLib.model.data import VAL_SUBJECTS, chaos_root  # noqa: E402
from CrossMRLib.organs import ORGAN_BY_LABEL  # noqa: E402
from CrossMRLib.pairing import identity_pairing, pair_slices  # noqa: E402
from CrossMRLib.series import same_grid_groups  # noqa: E402
from CrossMRLib.scribbles.synth import synthesize_background_scribbles, synthesize_scribbles  # noqa: E402
from baselines.growcut import grow_from_seeds  # noqa: E402  (the benchmark's Grow from seeds, Slicer's crop rule)
from baselines.seeds import BACKGROUND_SEED  # noqa: E402
from evaluation_setup import SETUP  # noqa: E402

TARGET_CONTRASTS = ("t2w", "dwi", "inphase", "opposed")
HELD_OUT_PHANTOM_SEEDS = (1, 2, 3, 4, 5)  # generated studies never trained on or calibrated with
ORGANS = sorted(ORGAN_BY_LABEL)


def scribbles_for(labels: np.ndarray, spacing_ijk: np.ndarray, mode: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Organ scribbles and Grow-from-seeds seeds (organ scribbles + background strokes, label 5)."""
    rng = np.random.default_rng(seed)
    spacing = (float(spacing_ijk[1]), float(spacing_ijk[0]))
    scr = synthesize_scribbles(labels, mode, rng, max_slices=1, spacing=spacing)
    background = synthesize_background_scribbles(labels, rng, scr, spacing=spacing)
    seeds = scr.copy()
    seeds[background & (scr == 0)] = BACKGROUND_SEED
    return scr, seeds


def run_case(method, reference, scribbles, seeds, target, truth, pairing, growcut: bool, pred=None,
             ms: float | None = None) -> dict:
    """Scores of the model (and Grow from seeds) on one target volume, plus model time per slice; `pred`
    (with `ms`): the model's labels when they were computed already (series segmented together)."""
    if pred is None:
        tick = time.perf_counter()
        pred = method.segment_target(reference, scribbles, target, pairing)
        ms = 1000 * (time.perf_counter() - tick) / target.num_slices
    out = {"model": organ_scores(pred, truth, target.spacing[::-1]), "ms_per_slice": ms}
    if growcut:
        carried = seeds if target is reference else carry_labels(seeds, reference, target, pairing)
        grown = grow_from_seeds(target.array, carried, tuple(target.spacing))
        out["growcut"] = organ_scores(grown, truth, target.spacing[::-1])
    return out


def joint_predictions(method, cases: list[tuple]) -> dict[str, tuple[np.ndarray, float]]:
    """{contrast: (labels, ms per slice)} for the targets of `phantom_targets` that share one grid (the
    in- and opposed-phase echoes), segmented together as `crossmr segment` does by default."""
    out: dict[str, tuple[np.ndarray, float]] = {}
    for group in same_grid_groups([case[4] for case in cases]):
        if len(group) < 2:
            continue
        members = [cases[i] for i in group]
        tick = time.perf_counter()
        labels = method.segment_targets(members[0][1], members[0][2], [m[4] for m in members], [m[6] for m in members])
        ms = 1000 * (time.perf_counter() - tick) / sum(m[4].num_slices for m in members)
        out |= {m[0]: (lab, ms) for m, lab in zip(members, labels)}
    return out


def read_chaos(root: Path, subject: str) -> tuple:
    """One CHAOS subject's T2-SPIR series and its uint8 labels."""
    from CrossMRLib.io.readers import read_series

    folder = Path(root) / f"patient_{subject}" / "T2SPIR"
    return read_series(folder / "image.nii.gz"), np.rint(read_series(folder / "label.nii.gz").array).astype(np.uint8)


def phantom_targets(study, mode: str, seed: int) -> Iterator[tuple]:
    """(contrast, reference, scribbles, seeds, target, truth, pairing) of one generated study: `mode`
    scribbles drawn once on its T1w series, then each target contrast paired by position."""
    reference = study.images["t1w"]
    ref_truth = np.asarray(study.labels["t1w"].array, dtype=np.uint8)
    scr, gseeds = scribbles_for(ref_truth, reference.spacing, mode, seed)
    for c in TARGET_CONTRASTS:
        target = study.images[c]
        truth = np.asarray(study.labels[c].array, dtype=np.uint8)
        yield c, reference, scr, gseeds, target, truth, pair_slices(reference, target)


def evaluate_chaos(method, subjects, root: Path, growcut: bool, seed: int, log) -> dict:
    results: dict = {"dense": {}, "sparse": {}}
    for s in subjects:
        image, truth = read_chaos(root, s)
        for mode in ("dense", "sparse"):
            scr, seeds = scribbles_for(truth, image.spacing, mode, seed + int(s))
            res = run_case(method, image, scr, seeds, image, truth, identity_pairing(image), growcut)
            results[mode][s] = res
            log(f"CHAOS {s} {mode}: " + fmt_case(res))
    return results


def evaluate_phantoms(method, seeds_list, growcut: bool, seed: int, log, joint: bool = True) -> dict:
    from CrossMRLib.phantom import generate_study

    results: dict = {c: {} for c in TARGET_CONTRASTS}
    for ps in seeds_list:
        try:
            study = generate_study(ps)
        except Exception as exc:  # the generator is code too: report, don't abort the evaluation
            log(f"phantom {ps}: generation failed ({type(exc).__name__}: {exc}); skipped")
            continue
        cases = list(phantom_targets(study, "dense", seed + ps))
        together = joint_predictions(method, cases) if joint else {}
        for c, reference, scr, gseeds, target, truth, pairing in cases:
            res = run_case(method, reference, scr, gseeds, target, truth, pairing, growcut, *together.get(c, (None, None)))
            results[c][ps] = res
            log(f"phantom {ps} {c}: " + fmt_case(res))
    return results


def fmt_case(res: dict) -> str:
    model = " ".join(f"{o}:{res['model'][o]['dice']:.3f}" for o in ORGANS)
    grown = (" | growcut " + " ".join(f"{o}:{res['growcut'][o]['dice']:.3f}" for o in ORGANS)) if "growcut" in res else ""
    return f"model {model}{grown} ({res['ms_per_slice']:.0f} ms/slice)"


def table(cases: dict, title: str) -> tuple[list[str], dict]:
    """Markdown rows: per organ mean DSC / NSD of the model and of Grow from seeds, plus the summary."""
    has_gc = all("growcut" in c for c in cases.values())
    lines = [f"### {title} ({len(cases)} volumes)", "",
             "| organ | model DSC | model NSD |" + (" Grow from seeds DSC | Grow from seeds NSD |" if has_gc else ""),
             "|---|---|---|" + ("---|---|" if has_gc else "")]
    summary: dict = {}
    for who in ("model", "growcut") if has_gc else ("model",):
        summary[who] = {o: {m: float(np.mean([c[who][o][m] for c in cases.values()])) for m in ("dice", "nsd")}
                        for o in ORGANS}
        summary[who]["mean"] = {m: float(np.mean([summary[who][o][m] for o in ORGANS])) for m in ("dice", "nsd")}
    for o in [*ORGANS, "mean"]:
        name = ORGAN_BY_LABEL[o].name if o != "mean" else "**mean**"
        row = f"| {name} | {summary['model'][o]['dice']:.3f} | {summary['model'][o]['nsd']:.3f} |"
        if has_gc:
            row += f" {summary['growcut'][o]['dice']:.3f} | {summary['growcut'][o]['nsd']:.3f} |"
        lines.append(row)
    lines.append("")
    return lines, summary


def target_lines(report: dict) -> list[str]:
    """The issue's targets, each with the measured value and met / not met."""
    rows = ["### Targets from the issue", "", "| target | measured | met |", "|---|---|---|"]

    def add(name: str, value: float, ok: bool) -> None:
        rows.append(f"| {name} | {value:.3f} | {'yes' if ok else 'no'} |")

    if "chaos_dense" in report:
        d = report["chaos_dense"]["model"]
        add("CHAOS val dense mean DSC >= 0.92", d["mean"]["dice"], d["mean"]["dice"] >= 0.92)
        worst = min(d[o]["dice"] for o in ORGANS)
        add("CHAOS val dense every organ DSC >= 0.90 (worst organ)", worst, worst >= 0.90)
        sp = report["chaos_sparse"]["model"]["mean"]["dice"]
        add("CHAOS val sparse mean DSC >= 0.85", sp, sp >= 0.85)
    for c in TARGET_CONTRASTS:
        if f"phantom_{c}" in report:
            v = report[f"phantom_{c}"]["model"]["mean"]["dice"]
            add(f"generated {c} mean DSC >= 0.90", v, v >= 0.90)
    for key in [k for k in report if k.startswith(("chaos_", "phantom_"))]:
        if "growcut" in report[key]:
            gaps = [report[key]["model"][o]["dice"] - report[key]["growcut"][o]["dice"] for o in ORGANS]
            add(f"{key}: ahead of Grow from seeds on every organ (smallest DSC gap)", min(gaps), min(gaps) > 0)
    return rows + [""]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", type=Path, default=None, help="weights file (default: shipped)")
    p.add_argument("--chaos", type=Path, default=chaos_root())
    p.add_argument("--subjects", nargs="*", default=list(VAL_SUBJECTS))
    p.add_argument("--phantom-seeds", nargs="*", type=int, default=list(HELD_OUT_PHANTOM_SEEDS))
    p.add_argument("--no-growcut", action="store_true")
    p.add_argument("--seed", type=int, default=0, help="scribble seed")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--fast", action="store_true", help="one model pass per slice (crossmr segment --fast)")
    p.add_argument("--no-refine", action="store_true", help="without the edge-aware sharpening (for comparison)")
    p.add_argument("--separate-series", action="store_true",
                   help="segment the in- and opposed-phase echoes each on its own (crossmr segment --separate-series)")
    p.add_argument("--results", default=str(ROOT / "docs" / "results.md"), help="markdown output ('-' = none)")
    p.add_argument("--json", type=Path, default=ROOT / "runs" / "evaluation.json")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    method = CrossMRModelMethod(weights=args.weights, fast=args.fast, refine=not args.no_refine)
    log = lambda m: print(m, flush=True)  # noqa: E731
    growcut = not args.no_growcut
    report: dict = {"weights": str(args.weights or default_weights()), "sha256": method.weights_sha256,
                    "model_passes": len(method.shifts), "refine": method.refine,
                    "echoes_together": not args.separate_series}
    sections: list[str] = []
    if args.subjects and Path(args.chaos).exists():
        chaos = evaluate_chaos(method, args.subjects, args.chaos, growcut, args.seed, log)
        for mode in ("dense", "sparse"):
            lines, summary = table(chaos[mode], f"CHAOS T2-SPIR validation, {mode} scribbles")
            sections += lines
            report[f"chaos_{mode}"] = summary
        report["ms_per_slice"] = float(np.mean([c["ms_per_slice"] for c in chaos["dense"].values()]))
    if args.phantom_seeds:
        phantoms = evaluate_phantoms(method, args.phantom_seeds, growcut, args.seed, log, not args.separate_series)
        for c in [c for c in TARGET_CONTRASTS if phantoms[c]]:
            lines, summary = table(phantoms[c], f"Generated studies, T1w scribbles -> {c}")
            sections += lines
            report[f"phantom_{c}"] = summary
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=1))
    sections = target_lines(report) + sections
    command = ".venv/bin/python train/evaluate.py " + " ".join(argv if argv is not None else sys.argv[1:])
    text = "\n".join(["# CrossMR evaluation results", "", f"Command: `{command.strip()}`", "",
                      f"Weights: `{Path(report['weights']).name}` sha256 `{report['sha256']}`; "
                      f"{report['model_passes']} model pass(es) per slice (shifted copies averaged, "
                      + ("sharpened along the target image's edges (`CrossMRLib/model/refine.py`), "
                         if method.refine else "not sharpened along the image's edges (`--no-refine`), ")
                      + "then smoothing across slices; see `CrossMRLib/model/inference.py`)", "",
                      "DSC and NSD are 3D per volume (NSD tolerance liver 5 mm, kidneys and spleen 3 mm), "
                      "averaged over volumes. Grow from seeds (Slicer's `vtkImageGrowCutSegment`) gets the "
                      "same organ scribbles plus background strokes, which CrossMR never gets. "
                      + ("The in- and opposed-phase echoes (one grid) are segmented together, as `crossmr segment` "
                         "does by default." if not args.separate_series else
                         "Every series is segmented on its own (`--separate-series`)."), "", SETUP,
                      "## Results", "", *sections])
    if args.results != "-":
        Path(args.results).write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
