"""Interaction curves: a simulated user corrects the worst series, one stroke per round (issue #39).

    .venv/bin/python train/interaction.py --studies 1 2 --rounds 3           # generated evaluation studies
    .venv/bin/python train/interaction.py --studies --chaos-subjects 33 34   # CHAOS validation subjects

Round 0 is a plain run from the evaluation's dense T1w scribbles (`evaluate.py`'s, same seed). After each
run the user looks at the series with the lowest mean DSC, takes its largest 3D error region (per organ:
missed part or extra part), and draws one short straight stroke through the middle of that region on the
slice where it is largest: the organ's label for a missed part, an erase stroke (255) for an extra part.
Only that series is re-run (`CorrectionSession.correct`). Grow from seeds gets the very same strokes as
seeds on that series (erase strokes as background seeds). The 'ceiling' rows are a perfect corrector under the
same protocol: each round it sets the whole error region the stroke points at to the truth. Deterministic for a
given --seed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from scipy import ndimage  # noqa: E402

from CrossMRLib.corrections.session import CorrectionSession  # noqa: E402
from CrossMRLib.corrections.strokes import ERASE  # noqa: E402
from CrossMRLib.metrics import dice  # noqa: E402
from CrossMRLib.organs import ORGAN_BY_LABEL  # noqa: E402

ORGANS = sorted(ORGAN_BY_LABEL)
TARGET_CONTRASTS = ("t2w", "dwi", "inphase", "opposed")
STROKE_HALF_MM = 12.0  # a stroke runs up to this far either side of the error region's centre
THRESHOLDS = (0.90, 0.95)


def mean_dice(pred: np.ndarray, truth: np.ndarray) -> float:
    """Mean DSC over the four organs (an organ absent from both counts 1, as in `organ_scores`)."""
    return float(np.mean([dice(pred == o, truth == o) for o in ORGANS]))


def largest_error_region(pred: np.ndarray, truth: np.ndarray) -> tuple[int, np.ndarray] | None:
    """(stroke value, mask) of the largest 3D error region over the organs: a missed part of an organ (value:
    the organ) or an extra part (value: `ERASE`); None when the result is perfect."""
    best, best_size = None, 0
    for organ in ORGANS:
        for value, wrong in ((organ, (truth == organ) & (pred != organ)), (ERASE, (pred == organ) & (truth != organ))):
            pieces, count = ndimage.label(wrong, structure=np.ones((3, 3, 3), bool))
            if count == 0:
                continue
            sizes = np.bincount(pieces.ravel())[1:]
            if sizes.max() > best_size:
                best_size, best = int(sizes.max()), (value, pieces == int(np.argmax(sizes)) + 1)
    return best


def error_stroke(pred: np.ndarray, truth: np.ndarray, spacing_kji) -> np.ndarray | None:
    """One simulated stroke (uint8 labelmap on the series' grid) in the largest 3D error region, on the slice
    where that region is largest; None when the result is perfect."""
    best = largest_error_region(pred, truth)
    if best is None:
        return None
    value, region = best
    k = int(np.argmax(region.reshape(len(region), -1).sum(1)))
    stroke = np.zeros(pred.shape, np.uint8)
    stroke[k][_line_in(region[k], spacing_kji[1:])] = value
    return stroke


def _line_in(region: np.ndarray, spacing_ji) -> np.ndarray:
    """A one-pixel straight stroke along the main axis of `region`'s largest 2D piece, through its innermost
    pixel, kept a pixel away from its edge where the piece is thick enough."""
    pieces, count = ndimage.label(region)
    piece = pieces == (int(np.argmax(np.bincount(pieces.ravel())[1:])) + 1 if count > 1 else 1)
    inner = ndimage.binary_erosion(piece)
    inner = inner if inner.any() else piece
    depth = ndimage.distance_transform_edt(inner, sampling=spacing_ji)
    centre = np.unravel_index(int(np.argmax(depth)), depth.shape)
    points = np.argwhere(piece) * np.asarray(spacing_ji, float)
    if len(points) > 1:
        _, _, axes = np.linalg.svd(points - points.mean(0), full_matrices=False)
        direction = axes[0] / np.asarray(spacing_ji, float)
    else:
        direction = np.array([0.0, 1.0])
    direction /= max(np.linalg.norm(direction * np.asarray(spacing_ji, float)), 1e-9)  # one mm per unit
    out = np.zeros(region.shape, bool)
    for sign in (1.0, -1.0):
        for step in np.arange(0.0, STROKE_HALF_MM, 0.25 * float(min(spacing_ji))):
            j, i = np.round(np.asarray(centre) + sign * step * direction).astype(int)
            if not (0 <= j < region.shape[0] and 0 <= i < region.shape[1]) or not inner[j, i]:
                break
            out[j, i] = True
    out[centre] = True
    return out


def ceiling(labels: dict[str, np.ndarray], truths: dict[str, np.ndarray], rounds: int) -> list[dict[str, float]]:
    """Mean DSC per round (0..`rounds`) of a perfect corrector under the same protocol: each round the worst
    series' largest error region (the one the stroke is drawn in) is set to the truth, whole, and nothing else
    changes. No correction that acts on that region alone can do better; the table shows it as the ceiling."""
    current = {n: labels[n].copy() for n in truths}
    scores = {n: mean_dice(current[n], truths[n]) for n in truths}
    out = [dict(scores)]
    for _ in range(rounds):
        worst = min(scores, key=scores.get)
        found = largest_error_region(current[worst], truths[worst])
        if found is not None:
            region = found[1]
            current[worst][region] = truths[worst][region]
            scores[worst] = mean_dice(current[worst], truths[worst])
        out.append(dict(scores))
    return out


def initial_scribbles(truth: np.ndarray, spacing_ijk, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The evaluation's dense scribbles and Grow-from-seeds seeds (train/evaluate.py `scribbles_for`)."""
    from evaluate import scribbles_for

    return scribbles_for(truth, spacing_ijk, "dense", seed)


def simulate(reference, scribbles, targets, truths: dict, rounds: int, method, growcut_seeds=None, log=print) -> dict:
    """Rounds 0..`rounds` of the simulated user on one study: per round the mean DSC of every scored series
    (`truths` keys), which series was corrected and how long the correction took; `growcut_seeds` (organ +
    background seeds on the reference grid): Grow from seeds' scores with the same strokes."""
    session = CorrectionSession(reference, scribbles, targets, method=method)
    series = {s.name: s for s in [reference, *targets]}
    session.run()
    scores = {n: mean_dice(session.labels[n], truths[n]) for n in truths}
    grown = _grow_all(series, reference, growcut_seeds, session.strokes, truths) if growcut_seeds is not None else None
    ideal = ceiling(session.labels, truths, rounds)
    history = [{"model": dict(scores), "ceiling": ideal[0], **({"growcut": dict(grown)} if grown else {})}]
    for r in range(1, rounds + 1):
        worst = min(scores, key=scores.get)
        stroke = error_stroke(session.labels[worst], truths[worst], series[worst].spacing[::-1])
        if stroke is None:
            history.append(dict(history[-1], corrected=None, ceiling=ideal[r]))
            continue
        painted = session.strokes.get(worst, np.zeros(series[worst].shape, np.uint8)).copy()
        painted[stroke > 0] = stroke[stroke > 0]
        tick, cpu = time.perf_counter(), time.process_time()
        result = session.correct(worst, painted)
        seconds, cpu = time.perf_counter() - tick, time.process_time() - cpu
        for name in result.labels:
            if name in truths:
                scores[name] = mean_dice(session.labels[name], truths[name])
        entry = {"model": dict(scores), "corrected": worst, "stroke": "erase" if stroke.max() == ERASE else "organ",
                 "seconds": round(seconds, 3), "cpu_seconds": round(cpu, 3), "slices": int(series[worst].num_slices),
                 "ceiling": ideal[r]}
        if grown is not None:
            grown.update(_grow_all({n: series[n] for n in result.labels if n in truths}, reference, growcut_seeds,
                                   session.strokes, truths, pairings=result.pairings))
            entry["growcut"] = dict(grown)
        history.append(entry)
        log(f"  round {r}: {worst} {entry['stroke']} stroke, {seconds:.2f} s ({cpu:.2f} s CPU) -> " +
            " ".join(f"{n}:{v:.3f}" for n, v in scores.items()) +
            ("" if grown is None else " | growcut " + " ".join(f"{n}:{v:.3f}" for n, v in grown.items())))
    return {"rounds": history}


def _grow_all(series: dict, reference, seeds: np.ndarray, strokes: dict, truths: dict, pairings=None) -> dict:
    """Grow from seeds on every series in `series` scored in `truths`: the reference's seeds carried by
    position, plus that series' strokes (organ strokes as seeds, erase strokes as background seeds)."""
    from baselines.growcut import grow_from_seeds
    from baselines.seeds import BACKGROUND_SEED
    from CrossMRLib.grids import carry_labels
    from CrossMRLib.pairing import identity_pairing, pair_slices

    out = {}
    for name, target in series.items():
        if name not in truths:
            continue
        if target is reference:
            carried = seeds.copy()
        else:
            pairing = (pairings or {}).get(name) or pair_slices(reference, target)
            carried = carry_labels(seeds, reference, target, pairing)
        drawn = strokes.get(name)
        if drawn is not None:
            carried[(drawn > 0) & (drawn != ERASE)] = drawn[(drawn > 0) & (drawn != ERASE)]
            carried[drawn == ERASE] = BACKGROUND_SEED
        out[name] = mean_dice(grow_from_seeds(target.array, carried, tuple(target.spacing)), truths[name])
    return out


def phantom_case(seed: int, scribble_seed: int, cache: Path | None = None) -> tuple:
    """(reference, scribbles, targets, truths, growcut seeds) of one generated evaluation study (`cache`: a
    folder where generated studies are kept between runs)."""
    study = _study(seed, cache)
    reference = study.images["t1w"]
    scribbles, seeds = initial_scribbles(np.asarray(study.labels["t1w"].array, np.uint8), reference.spacing,
                                         scribble_seed)
    targets = [study.images[c] for c in TARGET_CONTRASTS]
    truths = {c: np.asarray(study.labels[c].array, np.uint8) for c in TARGET_CONTRASTS}
    return reference, scribbles, targets, truths, seeds


def _study(seed: int, cache: Path | None):
    import pickle

    from CrossMRLib.phantom import generate_study

    path = None if cache is None else Path(cache) / f"study_{seed}.pkl"
    if path is not None and path.exists():
        return pickle.loads(path.read_bytes())
    study = generate_study(seed)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(pickle.dumps(study))
    return study


def chaos_case(root: Path, subject: str, scribble_seed: int) -> tuple:
    """(series, scribbles, no targets, truths, growcut seeds) of one CHAOS subject (strokes on the series itself)."""
    from evaluate import read_chaos

    image, truth = read_chaos(root, subject)
    scribbles, seeds = initial_scribbles(truth, image.spacing, scribble_seed)
    return image, scribbles, [], {image.name: truth}, seeds


def curves(histories: dict[str, list[dict]], who: str = "model") -> dict:
    """{contrast: {"mean_dice": [per round], "rounds_to": {"0.90": r or None, "0.95": ...}}} over studies;
    the series keys of each history are mapped to contrasts by `histories`' callers (key "contrast")."""
    by_contrast: dict[str, list[list[float]]] = {}
    for rounds in histories.values():
        for contrast in rounds[0][who]:
            by_contrast.setdefault(contrast, []).append([r[who][contrast] for r in rounds])
    out = {}
    for contrast, runs in by_contrast.items():
        mean = np.mean(np.asarray(runs), axis=0)
        out[contrast] = {"mean_dice": [round(float(v), 4) for v in mean],
                         "rounds_to": {f"{t:.2f}": next((r for r, v in enumerate(mean) if v >= t), None)
                                       for t in THRESHOLDS}}
    return out


def render(report: dict) -> str:
    """The markdown section of docs/results.md for an interaction report."""
    lines = ["## Corrections: interaction curves", "",
             f"Simulated user (`train/interaction.py`): after each run one stroke in the largest error region of the "
             f"worst series (missed part: an organ stroke; extra part: an erase stroke), that series re-run. Mean "
             f"DSC per round (round 0: no correction); 'rounds to' = first round whose mean reaches the "
             f"threshold ('-': not within {report['rounds']} rounds). Grow from seeds gets the same strokes. 'ceiling': a "
             f"perfect corrector that sets the whole error region the stroke points at to the truth each round (no "
             f"correction of that region alone can do better).", ""]
    for data, title in (("phantom", "generated studies " + " ".join(map(str, report.get("studies", [])))),
                        ("chaos", "CHAOS T2-SPIR " + " ".join(report.get("chaos_subjects", [])))):
        if data not in report:
            continue
        lines += [f"**{title}**", "", "| series | method | " + " | ".join(f"round {r}" for r in range(report["rounds"] + 1))
                  + " | rounds to 0.90 | rounds to 0.95 |", "|---|---|" + "---|" * (report["rounds"] + 3)]
        for who, name in (("model", "CrossMR"), ("growcut", "Grow from seeds"), ("ceiling", "ceiling")):
            for contrast, row in report[data].get(who, {}).items():
                to = [row["rounds_to"][k] for k in ("0.90", "0.95")]
                lines.append(f"| {contrast} | {name} | " + " | ".join(f"{v:.3f}" for v in row["mean_dice"]) + " | "
                             + " | ".join("-" if v is None else str(v) for v in to) + " |")
        seconds, cpu = report[data].get("seconds"), report[data].get("cpu_seconds")
        if seconds:
            lines += ["", f"Correction round (one series re-run): median {np.median(seconds):.2f} s, max "
                          f"{max(seconds):.2f} s over {len(seconds)} rounds" +
                          (f" (CPU time {np.median(cpu):.2f} s median, {max(cpu):.2f} s max)" if cpu else "") +
                          (f", {report['machine']}" if report.get("machine") else "") + "."]
        lines.append("")
    return "\n".join(lines)


def run_interaction(method, rounds: int, studies=(), chaos_subjects=(), chaos_root: Path | None = None,
                    growcut: bool = True, seed: int = 0, log=print, study_cache: Path | None = None) -> dict:
    """The interaction report: curves per contrast on generated `studies` and CHAOS `chaos_subjects`."""
    report: dict = {"rounds": rounds, "seed": seed}
    cases = [("phantom", f"study {s}", lambda s=s: phantom_case(s, seed + s, study_cache)) for s in studies]
    cases += [("chaos", f"CHAOS {s}", lambda s=s: chaos_case(chaos_root, s, seed + int(s))) for s in chaos_subjects]
    histories: dict[str, dict] = {}
    for data, label, make in cases:
        log(label)
        reference, scribbles, targets, truths, seeds = make()
        if data == "chaos":
            truths = {"t2spir": truths[reference.name]}
            reference = reference.with_array(reference.array, "t2spir")
        run = simulate(reference, scribbles, targets, truths, rounds, method, seeds if growcut else None, log)
        histories.setdefault(data, {})[label] = run["rounds"]
    report["histories"] = histories
    if studies:
        report["studies"] = list(studies)
    if chaos_subjects:
        report["chaos_subjects"] = list(chaos_subjects)
    return summarized(report)


def summarized(report: dict) -> dict:
    """`report` with its curves, correction times and corrected series computed from its "histories"."""
    histories = report["histories"]
    for data, runs in histories.items():
        report[data] = {who: curves(runs, who) for who in ("model", "growcut", "ceiling")
                        if all(who in r[0] for r in runs.values())}
        report[data]["seconds"] = [r["seconds"] for rs in runs.values() for r in rs[1:] if "seconds" in r]
        report[data]["cpu_seconds"] = [r["cpu_seconds"] for rs in runs.values() for r in rs[1:] if "cpu_seconds" in r]
        report[data]["corrected"] = {label: [r.get("corrected") for r in rs[1:]] for label, rs in runs.items()}
    return report


def combined(reports: list[dict]) -> dict:
    """One report from several runs of the same rounds (say one study per process)."""
    out: dict = {"rounds": reports[0]["rounds"], "seed": reports[0]["seed"], "histories": {}}
    for one in reports:
        for data, runs in one["histories"].items():
            out["histories"].setdefault(data, {}).update(runs)
        for key in ("studies", "chaos_subjects"):
            out.setdefault(key, []).extend(one.get(key, []))
    return summarized({k: v for k, v in out.items() if v != []})


def main(argv: list[str] | None = None) -> int:
    import torch

    from CrossMRLib.methods.crossmr_model import CrossMRModelMethod
    from CrossMRLib.model.data import chaos_root

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--studies", nargs="*", type=int, default=[1, 2], help="generated evaluation studies (seeds)")
    p.add_argument("--chaos-subjects", nargs="*", default=[], help="CHAOS validation subjects, e.g. 33 34")
    p.add_argument("--chaos", type=Path, default=chaos_root())
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--weights", type=Path, default=None)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0, help="scribble seed (as evaluate.py --seed)")
    p.add_argument("--no-growcut", action="store_true")
    p.add_argument("--reach-mm", type=float, default=None, help="own-stroke reach (corrections/tokens.py)")
    p.add_argument("--no-mix", action="store_true", help="own-stroke tokens replace the reference's")
    p.add_argument("--json", type=Path, default=None, help="write the report here")
    p.add_argument("--study-cache", type=Path, default=None, help="keep generated studies in this folder")
    p.add_argument("--combine", type=Path, nargs="+", default=None,
                   help="print (and with --json write) one report from these saved reports, computing nothing")
    args = p.parse_args(argv)
    if args.combine:
        report = combined([json.loads(path.read_text(encoding="utf-8")) for path in args.combine])
        if args.json is not None:
            args.json.write_text(json.dumps(report, indent=1), encoding="utf-8")
        print(render(report))
        return 0
    torch.set_num_threads(args.threads)
    method = CrossMRModelMethod(weights=args.weights, threads=args.threads, device="cpu")
    if args.reach_mm is not None:
        method.own_reach_mm = args.reach_mm
    method.mix_tokens = not args.no_mix
    report = run_interaction(method, args.rounds, args.studies, args.chaos_subjects, args.chaos,
                             not args.no_growcut, args.seed, lambda m: print(m, flush=True), args.study_cache)
    report["command"] = ".venv/bin/python train/interaction.py " + " ".join(argv if argv is not None else sys.argv[1:])
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1), encoding="utf-8")
    print(render(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
