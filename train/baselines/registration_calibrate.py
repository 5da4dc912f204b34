"""Choose the registration settings on generated calibration studies (never on benchmark studies).

    .venv/bin/python -m train.baselines.registration_calibrate --threads 1

For each calibration study (seeds 6-10: the benchmark uses 1-5, training 1000+) and each candidate in
`CANDIDATES`, every target series (T2w, DWI, in-phase, opposed-phase) is registered to the T1w reference
and the reference's true labels are carried across; the score is their mean DSC against the target's
truth. Rule: the best mean DSC, except that a candidate within `TIE` of it that is faster wins. Writes
train/baselines/registration_calibration.json (the page's "Registration settings" section reads it).
Resumable: each (study, candidate) result is cached under --cache.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import SimpleITK as sitk

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from train.baselines import cases as cases_mod  # noqa: E402
from train.baselines.registration import SETTINGS, RegistrationSettings, register, transfer_labels  # noqa: E402

CALIBRATION_SEEDS = (6, 7, 8, 9, 10)
TIE = 0.005  # mean DSC differences below this are noise: the faster candidate wins
CANDIDATES = {
    "rigid only": replace(SETTINGS, bspline_iterations=0),
    "B-spline 80 mm, 30 it": replace(SETTINGS, bspline_iterations=30, mesh_mm=80.0),
    "B-spline 50 mm, 30 it": replace(SETTINGS, bspline_iterations=30, mesh_mm=50.0),
    "B-spline 80 mm, 60 it, 10 %": replace(SETTINGS, bspline_iterations=60, mesh_mm=80.0, sampling=0.10),
}
OUT = Path(__file__).with_name("registration_calibration.json")


def mean_dice(pred: np.ndarray, truth: np.ndarray) -> float:
    """Mean DSC over the organs present in `truth`."""
    organs = [o for o in np.unique(truth) if o > 0]
    return float(np.mean([2 * ((pred == o) & (truth == o)).sum() / ((pred == o).sum() + (truth == o).sum())
                          for o in organs]))


def evaluate(case, settings: RegistrationSettings | None) -> dict:
    """{target: {"dice", "seconds", "cpu_seconds"}}: true labels carried by `settings` (None: no registration)."""
    ref = case.reference
    out = {}
    for target in case.targets:
        tick, cpu = time.perf_counter(), time.process_time()
        transform = register(target, ref, settings) if settings else sitk.Transform(3, sitk.sitkIdentity)
        moved = transfer_labels(case.truth[ref.name], ref, target, transform)
        out[target.name] = {"dice": mean_dice(moved, case.truth[target.name]), "seconds": time.perf_counter() - tick,
                            "cpu_seconds": time.process_time() - cpu}
    return out


def settings_text(settings: RegistrationSettings) -> str:
    """The settings that differ between candidates, in words."""
    if settings.bspline_iterations <= 0:
        return f"rigid {settings.rigid_iterations} it, sampling {settings.sampling:.0%}"
    return (f"rigid {settings.rigid_iterations} it, B-spline mesh {settings.mesh_mm:g} mm {settings.bspline_iterations}"
            f" it, sampling {settings.sampling:.0%}")


def choose(candidates: list[dict]) -> str:
    """Best mean DSC; a faster candidate within TIE of it wins."""
    best = max(c["mean_dice"] for c in candidates)
    close = [c for c in candidates if c["mean_dice"] >= best - TIE]
    return min(close, key=lambda c: c["seconds_per_target"])["name"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, nargs="+", default=list(CALIBRATION_SEEDS))
    p.add_argument("--candidates", nargs="+", choices=list(CANDIDATES), default=list(CANDIDATES))
    p.add_argument("--threads", type=int, default=1, help="SimpleITK threads")
    p.add_argument("--cache", type=Path, default=ROOT / "cache" / "registration_calibration")
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)
    if set(args.seeds) & set(cases_mod.PHANTOM_SEEDS):
        p.error(f"seeds {sorted(set(args.seeds) & set(cases_mod.PHANTOM_SEEDS))} are benchmark studies; "
                "calibrate on others")
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(args.threads)
    results: dict[str, dict] = {}
    for seed in args.seeds:
        case = cases_mod.get_case("phantom", f"phantom_{seed}", args.cache / "cases")
        for name in ["identity", *args.candidates]:
            path = args.cache / "results" / f"{seed}" / f"{name.replace(' ', '_').replace('%', 'pc')}.json"
            if not path.exists():
                settings = None if name == "identity" else CANDIDATES[name]
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps({"settings": asdict(settings) if settings else None,
                                            "targets": evaluate(case, settings)}))
            record = json.loads(path.read_text())
            expected = json.loads(json.dumps(asdict(CANDIDATES[name]))) if name != "identity" else None
            if record["settings"] != expected:
                raise SystemExit(f"error: {path} holds other settings for {name!r}; delete it and run again")
            results.setdefault(name, {})[seed] = record["targets"]
            print(f"seed {seed} {name}: " + ", ".join(f"{t} {v['dice']:.3f} ({v['seconds']:.1f} s)"
                                                     for t, v in record["targets"].items()), flush=True)
    contrasts = list(cases_mod.PHANTOM_TARGETS)

    def summary(name: str) -> dict:
        per = {t: float(np.mean([results[name][s][t]["dice"] for s in args.seeds])) for t in contrasts}
        timed = [v for s in args.seeds for v in results[name][s].values()]
        kind = "cpu_seconds" if all("cpu_seconds" in v for v in timed) else "seconds"  # CPU: load-independent
        return {"name": name, "dice": per, "mean_dice": float(np.mean(list(per.values()))),
                "seconds_per_target": float(np.mean([v[kind] for v in timed])),
                "time": "CPU" if kind == "cpu_seconds" else "wall"}

    candidates = []
    for name in args.candidates:
        entry = summary(name)
        entry.update(settings=asdict(CANDIDATES[name]), settings_text=settings_text(CANDIDATES[name]))
        candidates.append(entry)
    command = "python -m train.baselines.registration_calibrate " + shlex.join(argv if argv is not None else sys.argv[1:])
    record = {"command": command.strip(), "seeds": args.seeds, "contrasts": contrasts, "threads": args.threads,
              "identity_dice": summary("identity")["mean_dice"], "candidates": candidates, "chosen": choose(candidates),
              "rule": f"Rule: best mean DSC; a faster candidate within {TIE} of it wins."}
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    for c in candidates:
        print(f"{c['name']:32s} mean DSC {c['mean_dice']:.3f}  {c['seconds_per_target']:.1f} s/target  "
              + " ".join(f"{t} {v:.3f}" for t, v in c["dice"].items()))
    print(f"identity mean DSC {record['identity_dice']:.3f}; chosen: {record['chosen']}; wrote {args.out}")
    if asdict(CANDIDATES[record["chosen"]]) != asdict(SETTINGS):
        print("note: the chosen candidate differs from registration.SETTINGS; set SETTINGS to it")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
