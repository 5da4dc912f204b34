"""Benchmark CrossMR against the alternatives a user has, on identical inputs, in one run.

Rows: CrossMR (shipped weights), Slicer's Grow from seeds (a: on the reference, resampled; b: on each
target), marker watershed, two 2D U-Nets (MONAI DynUNet with nnU-Net's 2D topology, without and with
scribble channels, trained here on the reference contrast only), and registration-based label transfer
(register each target to the reference, carry labels across: (a) the reference's true labels, (b) Grow
from seeds on the reference, (c) CrossMR on the reference; generated studies only, CHAOS studies hold one
series). Data: CHAOS validation subjects (dense and sparse scribbles) and generated held-out studies.
Writes docs/benchmarks.md, docs/benchmark.png and the numbers as docs/benchmark_results.json
(train/compare_benchmarks.py checks a second run against them).

    .venv/bin/python train/benchmark.py            # full run (trains both U-Nets first; hours on 2 cores)
    .venv/bin/python train/benchmark.py --smoke    # one study per data set, a few slices, tiny U-Nets (CI)
    .venv/bin/python train/benchmark.py --unet-device cuda   # the U-Nets train on a GPU (minutes)

The two U-Nets train at the same time, each in its own process with one torch thread (on 2 cores that
gave 1.46x the throughput of training them one after the other with 2 threads: 6.7 s per step of each
vs 4.9 s per step, batch 8 at 256 x 256); `--train-jobs 1` trains them in turn.

Resumable: cases, U-Net weights and per-study results are cached under cache/benchmark/; run the same
command again to continue. The page is rebuilt from the cache at the end of every run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# train/train.py would shadow the `train` package when this file runs as a script: import from the root.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "train"]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from tqdm import tqdm  # noqa: E402

from CrossMRLib.errors import InputError  # noqa: E402
from CrossMRLib.model.data import VAL_SUBJECTS, chaos_root  # noqa: E402
from train.baselines import cases as cases_mod  # noqa: E402
from train.baselines import report, runner, summary  # noqa: E402
from train.baselines.registration import SETTINGS as REGISTRATION_SETTINGS  # noqa: E402
from train.baselines.setup_text import budget_rule, budget_text, setup_lines  # noqa: E402
from train.baselines.unet import weights_digest  # noqa: E402
from train.baselines.unet_plan import (SMOKE_UNET, copied_config, generate_phantoms, unet_configs,  # noqa: E402
                                       unet_training_data, unet_volumes)

# The U-Nets' step budget: what CrossMR's training time (78 min on 2 cores) bought them on the benchmark
# machine in four wall-clock-budgeted trainings (1077-1151 steps). Steps, not minutes, so that a second
# run trains the same networks.
DEFAULT_UNET_STEPS = 1100
SMOKE_SLICES = 6


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--smoke", action="store_true", help="one study, a few slices, tiny U-Nets (CI)")
    p.add_argument("--out", type=Path, default=None, help="report folder (default docs/; smoke: <cache>/report)")
    p.add_argument("--cache", type=Path, default=None, help="cache folder (default cache/benchmark[/smoke])")
    p.add_argument("--datasets", nargs="+", choices=cases_mod.DATASETS, default=None,
                   help="default: all (smoke: the CHAOS ones, or the generated one without CHAOS)")
    p.add_argument("--methods", nargs="+", choices=runner.METHODS, default=list(runner.METHODS))
    p.add_argument("--chaos", type=Path, default=chaos_root(), help="CHAOS T2-SPIR folder")
    p.add_argument("--weights", type=Path, default=None, help="CrossMR weights (default: the shipped ones)")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads, the same for every method")
    p.add_argument("--unet-steps", type=int, default=DEFAULT_UNET_STEPS,
                   help=f"U-Net training steps (default {DEFAULT_UNET_STEPS}: CrossMR's 78 CPU minutes on the "
                        "benchmark machine)")
    p.add_argument("--unet-minutes", type=float, default=None,
                   help="train the U-Nets for this many minutes instead of --unet-steps (not reproducible)")
    p.add_argument("--unet-phantoms", type=int, default=None,
                   help="generated training studies for the U-Nets (default: as many as CrossMR used)")
    p.add_argument("--unet-from", type=Path, default=None, metavar="CACHE",
                   help="copy the trained U-Nets from another run's --cache instead of training them (a second "
                        "run when the trainings do not fit the time; the page and summary say so)")
    p.add_argument("--unet-device", choices=("cpu", "cuda"), default="cpu",
                   help="where the U-Nets train (cuda: a GPU, minutes instead of hours; a different network than "
                        "the CPU trains); every method still runs on the CPU")
    p.add_argument("--train-jobs", type=int, default=None,
                   help="U-Nets trained at once, each in its own process with threads/jobs torch threads "
                        "(default: 2 on 2+ cores, 1 with --smoke); a number of steps gives the same network "
                        "for the same jobs setting")
    p.add_argument("--isolate", action=argparse.BooleanOptionalAction, default=None,
                   help="run each method in its own process (default: yes, except --smoke)")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    p.add_argument("--train-worker", default=None, help=argparse.SUPPRESS)
    p.add_argument("--run-id", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.cache = args.cache or ROOT / "cache" / "benchmark" / ("smoke" if args.smoke else "full")
    args.out = args.out or (args.cache / "report" if args.smoke else ROOT / "docs")
    args.isolate = (not args.smoke) if args.isolate is None else args.isolate
    if args.train_jobs is None:
        args.train_jobs = 1 if args.smoke or usable_cores() < 2 else 2
    if args.train_jobs < 1 or args.threads < 1:
        p.error("--train-jobs and --threads must be at least 1")
    return args


def usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def training_threads(args: argparse.Namespace) -> int:
    """Torch threads of each U-Net training: the run's threads shared among the trainings running at once."""
    return max(1, args.threads // args.train_jobs)


def chaos_available(root: Path) -> bool:
    return all((Path(root) / f"patient_{s}" / "T2SPIR" / "image.nii.gz").exists() for s in VAL_SUBJECTS)


def crossmr_weights(args: argparse.Namespace) -> tuple[Path, dict, str | None]:
    """(path, training meta, sha256 or None when the file is missing)."""
    from CrossMRLib.model.weights import file_sha256

    if args.weights is not None:
        path = args.weights
    else:
        from CrossMRLib.methods.crossmr_model import default_weights

        path = default_weights()
    if not Path(path).is_file():
        return Path(path), {}, None
    meta = torch.load(path, map_location="cpu", weights_only=True).get("meta", {})
    return Path(path), dict(meta), file_sha256(Path(path))


def plan(args: argparse.Namespace) -> dict:
    """Everything a run (and each worker) needs, derived from the arguments alone."""
    chaos = chaos_available(args.chaos)
    if args.datasets is not None:
        datasets = [d for d in args.datasets if chaos or not d.startswith("chaos")]
    elif args.smoke:  # the generated study always: it is the one with targets, where registration runs
        datasets = ["chaos-dense", "chaos-sparse", "phantom"] if chaos else ["phantom"]
    else:
        datasets = [d for d in cases_mod.DATASETS if chaos or not d.startswith("chaos")]
    studies = {d: cases_mod.study_ids(d, args.smoke, chaos) for d in datasets}
    path, meta, sha = crossmr_weights(args)
    notes, methods = [], list(args.methods)
    if not chaos:
        notes.append(f"CHAOS data not found at {args.chaos}: CHAOS rows left out.")
    needs_weights = [m for m in ("crossmr", "registration-crossmr") if m in methods]
    if needs_weights and sha is None:
        if not args.smoke:
            raise InputError(f"CrossMR weights not found at {path}; train/export them (train/train.py) or pass "
                             "--weights, or leave CrossMR out with --methods")
        methods = [m for m in methods if m not in needs_weights]
        notes.append(f"CrossMR rows left out: no weights at {path}.")
    configs = {m: c for m, c in unet_configs(args, meta).items() if m in methods}
    per_dataset = {d: [m for m in methods if m not in runner.REGISTRATION or d in cases_mod.MULTI_SERIES]
                   for d in datasets}
    unet_data = unet_training_data(args, meta, chaos)
    data_key = hashlib.sha1(json.dumps(unet_data).encode()).hexdigest()[:6]
    if args.unet_from:  # copied U-Nets keep the precision and device they were trained with
        configs = {m: copied_config(args, m, c, data_key) for m, c in configs.items()}
    keys = {m: f"{c.key()}{data_key}" for m, c in configs.items()}
    return {"chaos": chaos, "datasets": datasets, "studies": studies, "weights": path, "meta": meta, "sha": sha,
            "methods": methods, "dataset_methods": per_dataset, "notes": notes, "unets": configs, "unet_keys": keys,
            "unet_data": unet_data, "cases": args.cache / "cases",
            "results": args.cache / "results", "smoke_slices": SMOKE_SLICES if args.smoke else None}


def unet_weights(args, p: dict, method: str) -> Path:
    return args.cache / "unet" / f"{method}-{p['unet_keys'][method]}" / "unet.pt"


def loader_for(args, p: dict, method: str):
    return lambda: runner.LoadedMethod(method, p["weights"], unet_weights(args, p, method) if method in p["unets"]
                                       else None, args.threads)


def case_loader(args, p: dict, dataset: str):
    return lambda study: cases_mod.get_case(dataset, study, p["cases"], args.chaos, p["smoke_slices"])


def worker(args: argparse.Namespace) -> int:
    """One method on one data set in this process (for clean peak-memory numbers)."""
    dataset, method = args.worker.split(":")
    p = plan(args)
    identity = runner.method_identity(method, p["sha"], p["unet_keys"])
    runner.run_method(dataset, method, identity, p["studies"][dataset], case_loader(args, p, dataset),
                      p["results"], args.run_id, loader_for(args, p, method))
    return 0


def hardware(threads: int, gpu: str | None = None) -> dict:
    """The machine of the run; `gpu`: the GPU the U-Nets trained on in this run, if any."""
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    mem = next((line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal")), None) if Path("/proc/meminfo").exists() else None
    usable = usable_cores()
    return {"CPU": cpu or "unknown", "cores usable": usable, "torch threads": threads,
            "RAM": f"{int(mem) / 1024 ** 2:.1f} GiB" if mem else "unknown", "OS": platform.platform(),
            "software": f"Python {platform.python_version()}, torch {torch.__version__}, numpy {np.__version__}",
            "GPU": f"{gpu}, U-Net training only" if gpu else "none used"}


def trained_on_gpu(args, p: dict) -> str | None:
    """The name of the GPU this run trained U-Nets on (None when they trained on the CPU or were copied)."""
    if args.unet_from or not any(c.train_device == "cuda" for c in p["unets"].values()):
        return None
    return torch.cuda.get_device_name(0)


def train_one_unet(args, p: dict, method: str, position: int = 0) -> None:
    """Train (or resume) one U-Net of the plan in this process, with the training thread count."""
    from train.baselines.unet_train import train_unet

    torch.set_num_threads(training_threads(args))
    config, path = p["unets"][method], unet_weights(args, p, method)
    volumes = unet_volumes(args, config, p["unet_data"], ROOT / "cache")
    with tqdm(total=1000, desc=f"training {config.row_name}", unit="‰", leave=False, position=position) as bar:
        def progress(f: float) -> None:
            bar.update(int(f * 1000) - bar.n)
        train_unet(config, volumes, path.parent, log=tqdm.write, progress=progress,
                   meta_extra={"torch_threads": training_threads(args), "jobs": args.train_jobs})


def copy_unets(args, p: dict) -> None:
    """`--unet-from`: the plan's U-Nets copied from another run's cache (InputError when one is missing)."""
    for method in p["unets"]:
        mine = unet_weights(args, p, method)
        source = args.unet_from / mine.relative_to(args.cache)
        if not source.is_file() or not (source.parent / "meta.json").is_file():
            raise InputError(f"--unet-from {args.unet_from}: no trained {runner.ROW_NAMES[method]} there "
                             f"({source.relative_to(args.unet_from)}); run benchmark.py with --cache "
                             f"{args.unet_from} and the same settings first")
        if not mine.exists():
            mine.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source.parent / "meta.json", mine.parent / "meta.json")
            shutil.copy2(source, mine)


def train_unets(args, p: dict, argv: list[str]) -> dict:
    """Train the U-Nets that are not cached yet, `--train-jobs` at a time, each in its own process."""
    todo = [m for m in p["unets"] if not unet_weights(args, p, m).exists()]
    if args.train_jobs == 1 or len(todo) < 2:
        for method in todo:
            train_one_unet(args, p, method)
    else:
        generate_phantoms(p["unet_data"]["phantoms"], p["unets"][todo[0]].patch, args.train_jobs, ROOT / "cache")
        for first in range(0, len(todo), args.train_jobs):
            group = todo[first:first + args.train_jobs]
            jobs = [subprocess.Popen([sys.executable, str(Path(__file__).resolve()), *argv, "--train-worker",
                                      f"{method}:{i}"]) for i, method in enumerate(group)]
            codes = [job.wait() for job in jobs]
            failed = [m for m, code in zip(group, codes) if code != 0]
            if failed:
                raise SystemExit(f"error: training {', '.join(failed)} failed (see its output above); "
                                 "run the same command again to resume")
    taken = {"taken_from": str(args.unet_from)} if args.unet_from else {}
    return {m: {**json.loads((unet_weights(args, p, m).parent / "meta.json").read_text()), **taken}
            for m in p["unets"]}


def unet_record(args, p: dict, unet_meta: dict) -> dict:
    """Per U-Net, what the summary keeps: row, weights digest, steps, minutes, where it came from."""
    return {m: {"row": runner.ROW_NAMES[m], "weights": weights_digest(unet_weights(args, p, m)),
                "steps": meta["steps"], "minutes": meta["minutes"], "taken_from": meta.get("taken_from")}
            for m, meta in unet_meta.items()}


def run_all(args, p: dict, argv: list[str], run_id: str) -> None:
    """Every method on every data set; cached results are kept (resumable)."""
    todo = [(d, m) for d in p["datasets"] for m in p["dataset_methods"][d]]
    with tqdm(total=sum(len(p["studies"][d]) for d, _ in todo), desc="segmenting", unit="study") as bar:
        for dataset, method in todo:
            identity = runner.method_identity(method, p["sha"], p["unet_keys"])
            studies = p["studies"][dataset]
            missing = [s for s in studies if not runner.result_path(p["results"], dataset, method, identity, s).exists()]
            bar.set_postfix_str(f"{dataset}: {method}")
            bar.update(len(studies) - len(missing))
            if not missing:
                continue
            if args.isolate:
                subprocess.run([sys.executable, str(Path(__file__).resolve()), *argv, "--worker",
                                f"{dataset}:{method}", "--run-id", run_id], check=True)
                bar.update(len(missing))
            else:
                runner.run_method(dataset, method, identity, studies, case_loader(args, p, dataset), p["results"],
                                  run_id, loader_for(args, p, method), on_case=lambda _: bar.update(1))


def registration_calibration() -> dict | None:
    """The calibration record the registration settings were chosen by (None when there is none)."""
    from train.baselines.registration_calibrate import OUT

    return json.loads(OUT.read_text()) if OUT.is_file() else None


def python_command() -> str:
    """How this interpreter is called from the repository root (e.g. .venv/bin/python)."""
    try:
        return str(Path(sys.executable).relative_to(ROOT))
    except ValueError:
        return "python"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse(argv)
    torch.set_num_threads(args.threads)
    if args.worker:
        return worker(args)
    if args.train_worker:
        method, position = args.train_worker.split(":")
        train_one_unet(args, plan(args), method, int(position))
        return 0
    run_id = args.run_id or time.strftime("%Y%m%d-%H%M%S")
    p = plan(args)
    if not p["datasets"]:
        raise InputError("no data set to run: CHAOS is missing and no generated studies were asked for")
    if args.unet_from:
        copy_unets(args, p)
    for dataset in p["datasets"]:
        for study in tqdm(p["studies"][dataset], desc=f"cases {dataset}", leave=False):
            cases_mod.get_case(dataset, study, p["cases"], args.chaos, p["smoke_slices"])
    unet_meta = train_unets(args, p, argv)
    run_all(args, p, argv, run_id)
    data = {}
    for dataset in p["datasets"]:
        data[dataset] = []
        for method in p["dataset_methods"][dataset]:
            identity = runner.method_identity(method, p["sha"], p["unet_keys"])
            records, memory = runner.read_results(p["results"], dataset, method, identity, p["studies"][dataset])
            data[dataset].append(report.MethodResult(method, runner.ROW_NAMES[method], records, memory))
    budgets = sorted({budget_text(c) for c in p["unets"].values()})
    meta = {"command": " ".join([python_command(), "train/benchmark.py", *argv]), "smoke": args.smoke, "notes": p["notes"],
            "hardware": hardware(args.threads, trained_on_gpu(args, p)), "setup": setup_lines(args, p, unet_meta, SMOKE_SLICES, SMOKE_UNET),
            "unet_budget_text": budget_rule(args, p["meta"], budgets)}
    meta["summary"] = summary.SUMMARY_NAME
    if any(m in runner.REGISTRATION for ms in p["dataset_methods"].values() for m in ms):
        meta["registration"] = REGISTRATION_SETTINGS.key()
        meta["registration_calibration"] = registration_calibration()
    page = report.write_report(data, args.out, meta)
    numbers = summary.write_summary(data, args.out, meta["command"], unet_record(args, p, unet_meta))
    tqdm.write(f"wrote {page} and {numbers}")
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2)
