"""Evaluate CrossMR (and Slicer's Grow from seeds) and write docs/results.md (+ a JSON report).

    .venv/bin/python train/evaluate.py                 # shipped weights, everything
    .venv/bin/python train/evaluate.py --weights runs/x/model.pt --no-growcut --no-never-seen --results -
    .venv/bin/python train/evaluate.py --from-json runs/evaluation.json   # the page again, nothing computed

(a) CHAOS validation subjects (reference = target series): dense scribbles (every slice holding the
organ) and sparse scribbles (one slice per organ). The never-seen weights (`--never-seen-weights`, trained
with `train.py --no-chaos`), when the file exists, get the very same CHAOS scribbles. (b) Held-out generated
studies (seeds 1..5, never trained on), the paper's protocol: scribbles on T1w only, targets
T2w/DWI/in-phase/opposed paired by position; the in- and opposed-phase echoes (one grid) are segmented
together, as `crossmr segment` does by default (`--separate-series`: each on its own). DSC and NSD (liver
5 mm, kidneys/spleen 3 mm) per organ, 3D per volume. (c) Interaction curves (`train/interaction.py`): a
simulated user corrects the worst series one stroke per round, on the same generated studies and CHAOS
subjects, CrossMR against Grow from seeds given the same strokes (`--interaction-rounds 0`: skipped).
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
from CrossMRLib.errors import InputError  # noqa: E402
from never_seen import load_never_seen, real_image_subjects, skipped  # noqa: E402
from recipes import NEVER_SEEN_COMMAND, NEVER_SEEN_WEIGHTS  # noqa: E402
from interaction import render as render_interaction, run_interaction  # noqa: E402
from results_page import render_page  # noqa: E402

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


def summarize(cases: dict) -> dict:
    """Per organ and mean DSC / NSD of the model (and Grow from seeds) over the cases, and their count."""
    summary: dict = {"volumes": len(cases)}
    for who in ("model", "growcut") if all("growcut" in c for c in cases.values()) else ("model",):
        summary[who] = {o: {m: float(np.mean([c[who][o][m] for c in cases.values()])) for m in ("dice", "nsd")}
                        for o in ORGANS}
        summary[who]["mean"] = {m: float(np.mean([summary[who][o][m] for o in ORGANS])) for m in ("dice", "nsd")}
    return summary


def write_page(report: dict, results: str) -> int:
    """Write (unless `results` is '-') and print the results page of a JSON report."""
    text = render_page(report, NEVER_SEEN_COMMAND)
    if report.get("interaction"):
        text = text.rstrip("\n") + "\n\n" + render_interaction(report["interaction"])
    if results != "-":
        Path(results).write_text(text, encoding="utf-8")
    print(text)
    return 0


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", type=Path, default=None, help="weights file (default: shipped)")
    p.add_argument("--chaos", type=Path, default=chaos_root())
    p.add_argument("--subjects", nargs="*", default=list(VAL_SUBJECTS))
    p.add_argument("--phantom-seeds", nargs="*", type=int, default=list(HELD_OUT_PHANTOM_SEEDS))
    p.add_argument("--no-growcut", action="store_true")
    p.add_argument("--seed", type=int, default=0, help="scribble seed")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--no-refine", action="store_true", help="without the edge-aware sharpening (for comparison)")
    p.add_argument("--separate-series", action="store_true",
                   help="segment the in- and opposed-phase echoes each on its own (crossmr segment --separate-series)")
    p.add_argument("--never-seen-weights", type=Path, default=NEVER_SEEN_WEIGHTS,
                   help="weights trained with train.py --no-chaos, scored on the CHAOS subjects when the file exists")
    p.add_argument("--no-never-seen", action="store_true", help="skip the never-seen weights")
    p.add_argument("--interaction-rounds", type=int, default=5,
                   help="rounds of the simulated correcting user (train/interaction.py); 0 skips the curves")
    p.add_argument("--results", default=str(ROOT / "docs" / "results.md"), help="markdown output ('-' = none)")
    p.add_argument("--json", type=Path, default=ROOT / "runs" / "evaluation.json")
    p.add_argument("--from-json", type=Path, default=None,
                   help="write the page from this saved JSON report, computing nothing")
    return p.parse_args(argv)


def never_seen_model(args: argparse.Namespace) -> tuple[CrossMRModelMethod | None, dict]:
    """The never-seen weights (None when skipped or absent, with one line saying so) and their report entry."""
    if args.no_never_seen:
        method, entry = None, skipped("skipped with --no-never-seen", args.never_seen_weights)
    else:
        try:
            method, entry = load_never_seen(args.never_seen_weights, not args.no_refine)
        except InputError as exc:
            raise SystemExit(f"error: {exc}") from None
    if method is None:
        print(f"never-seen row not measured: {entry['reason']}", flush=True)
    return method, entry


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.from_json is not None:
        return write_page(json.loads(args.from_json.read_text(encoding="utf-8")), args.results)
    torch.set_num_threads(args.threads)
    never, never_entry = never_seen_model(args)  # checked first: a bad file stops before the long run
    method = CrossMRModelMethod(weights=args.weights, refine=not args.no_refine, device="cpu")
    log = lambda m: print(m, flush=True)  # noqa: E731
    growcut = not args.no_growcut
    command = ".venv/bin/python train/evaluate.py " + " ".join(argv if argv is not None else sys.argv[1:])
    report: dict = {"command": command.strip(), "weights": str(args.weights or default_weights()),
                    "sha256": method.weights_sha256, "refine": method.refine,
                    "echoes_together": not args.separate_series,
                    "chaos_image_subjects": real_image_subjects(method.meta)}
    if args.subjects and Path(args.chaos).exists():
        report["chaos_subjects"] = list(args.subjects)
        chaos = evaluate_chaos(method, args.subjects, args.chaos, growcut, args.seed, log)
        report |= {f"chaos_{mode}": summarize(chaos[mode]) for mode in ("dense", "sparse")}
        report["ms_per_slice"] = float(np.mean([c["ms_per_slice"] for c in chaos["dense"].values()]))
        if never is not None:  # the same subjects and seed, so the very same strokes
            unseen = evaluate_chaos(never, args.subjects, args.chaos, False, args.seed,
                                    lambda m: log("never-seen " + m))
            never_entry |= {f"chaos_{mode}": summarize(unseen[mode]) for mode in ("dense", "sparse")}
    elif never is not None:
        never_entry = skipped("no CHAOS subjects were evaluated", args.never_seen_weights)
    report["never_seen"] = never_entry
    if args.phantom_seeds:
        phantoms = evaluate_phantoms(method, args.phantom_seeds, growcut, args.seed, log, not args.separate_series)
        report |= {f"phantom_{c}": summarize(phantoms[c]) for c in TARGET_CONTRASTS if phantoms[c]}
    if args.interaction_rounds > 0:
        chaos_subjects = list(args.subjects) if args.subjects and Path(args.chaos).exists() else []
        report["interaction"] = run_interaction(method, args.interaction_rounds, args.phantom_seeds, chaos_subjects,
                                                args.chaos, growcut, args.seed, log)
        report["interaction"]["machine"] = f"{args.threads} CPU threads"
    report = json.loads(json.dumps(report))  # the page is written from exactly what the JSON holds
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=1), encoding="utf-8")
    return write_page(report, args.results)


if __name__ == "__main__":
    raise SystemExit(main())
