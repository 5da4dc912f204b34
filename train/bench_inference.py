"""Inference benchmark: a five-series study against Grow from seeds on its T1w volume alone, one run.

    .venv/bin/python train/bench_inference.py [--seed 6161] [--threads 2] [--repeats 3] [--no-slicer]

The study is `crossmr phantom --seed 6161` (T1w with dense strokes; T2w, DWI, in- and opposed-phase as targets:
234 slices). Every line is measured in this run, on this machine (numbers depend on the machine and its load:
run it on an idle one):
- Grow from seeds (Slicer's `vtkImageGrowCutSegment`, the strokes plus background strokes) on the T1w volume
  alone: the baseline every ratio is taken against;
- `crossmr segment` with its defaults in a fresh process, as a user runs it (median of `--repeats`): processing
  time from the run record (loading the method included; reading and writing files not), ms per slice, the
  process's peak RSS;
- the runtime variants, in one process on the same study: torch eager float32 (the default), eager with
  channels-last memory, dynamic int8 (the decoder's Linear layers), torch.compile of the encoder; each after
  one warm-up study (which for torch.compile includes its compile time, tens of seconds), with its time and its
  labels' agreement (Dice over all organs) with eager;
- a CUDA GPU, when torch sees one (`--device cuda`, half precision);
- "press Apply to segments in the scene" through the Slicer logic on the module's sample study (background
  process start-up included), when slicer-core is installed.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "train"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from CrossMRLib.io import write_labels_nifti, write_series_nifti  # noqa: E402
from CrossMRLib.methods.crossmr_model import CrossMRModelMethod  # noqa: E402
from CrossMRLib.pipeline import segment_study  # noqa: E402
from baselines.growcut import grow_from_seeds  # noqa: E402
from evaluate import scribbles_for  # noqa: E402

TARGETS = ("t2w", "dwi", "inphase", "opposed")


def study_inputs(seed: int):
    """(reference, targets, organ strokes, Grow-from-seeds seeds) of the generated study `seed`."""
    from CrossMRLib.phantom import generate_study

    study = generate_study(seed)
    reference = study.images["t1w"]
    scribbles, seeds = scribbles_for(np.asarray(study.labels["t1w"].array, np.uint8), reference.spacing, "dense", seed)
    return reference, [study.images[c] for c in TARGETS], scribbles, seeds


def time_growcut(reference, seeds, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        tick = time.perf_counter()
        grow_from_seeds(reference.array, seeds, tuple(reference.spacing))
        times.append(time.perf_counter() - tick)
    return statistics.median(times)


def time_cli(reference, targets, scribbles, threads: int, repeats: int) -> tuple[float, float, float, str]:
    """Medians of `crossmr segment`'s processing time and of the whole command's wall time (Python start,
    reading, writing), the peak RSS in MB over its runs, and the device it ran on."""
    folder = Path(tempfile.mkdtemp(prefix="crossmr-bench-"))
    paths = [write_series_nifti(s, folder / f"{s.name}.nii.gz") for s in (reference, *targets)]
    strokes = write_labels_nifti(scribbles, reference, folder / "scribbles.nii.gz")
    times, walls, device = [], [], ""
    for r in range(repeats):
        out = folder / f"out{r}"
        tick = time.perf_counter()
        subprocess.run([sys.executable, "-m", "CrossMRLib.cli", "segment", str(paths[0]), str(strokes),
                        *map(str, paths[1:]), "-o", str(out), "--threads", str(threads)],
                       check=True, capture_output=True)
        walls.append(time.perf_counter() - tick)
        record = json.loads((out / "crossmr_run.json").read_text())
        times.append(record["timings"]["segment_total_s"])
        device = record.get("device") or ""
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return statistics.median(times), statistics.median(walls), peak_mb, device


def _agreement(a: dict, b: dict) -> float:
    """Dice of organ labels over every series (1.0: identical)."""
    inter = total = 0
    for name in a:
        x, y = a[name] > 0, b[name] > 0
        inter += int((x & y & (a[name] == b[name])).sum())
        total += int(x.sum() + y.sum())
    return 2 * inter / total if total else 1.0


def run_variant(method, reference, targets, scribbles, repeats: int) -> tuple[float, dict]:
    """(median seconds, labels) of `segment_study` with an already-loaded method; the first call warms up."""
    times, labels = [], {}
    for _ in range(repeats + 1):
        method._cache = None
        tick = time.perf_counter()
        labels = segment_study(reference, scribbles, targets, method=method).labels
        times.append(time.perf_counter() - tick)
    return statistics.median(times[1:]), labels


def variants(threads: int, device: str):
    """(name, method or None, why unavailable) for each runtime compared."""
    eager = CrossMRModelMethod(threads=threads, device=device)
    yield "torch eager float32 (default)", eager, ""
    channels_last = CrossMRModelMethod(threads=threads, device=device)
    channels_last.model.to(memory_format=torch.channels_last)
    yield "torch eager, channels-last", channels_last, ""
    if device == "cpu":
        int8 = CrossMRModelMethod(threads=threads, device=device)
        int8.model = torch.ao.quantization.quantize_dynamic(int8.model, {torch.nn.Linear}, dtype=torch.qint8)
        yield "dynamic int8 (Linear layers)", int8, ""
    compiled = CrossMRModelMethod(threads=threads, device=device)
    try:
        compiled.model.encoder = torch.compile(compiled.model.encoder, dynamic=True)
        yield "torch.compile (encoder), after compiling", compiled, ""
    except Exception as exc:  # no compiler on this machine and the like
        yield "torch.compile", None, f"{type(exc).__name__}: {exc}"


def time_slicer_apply(threads: int) -> float | None:
    """Seconds from pressing Apply (background process) to segments in the scene, for the module's sample study."""
    try:
        sys.path.insert(0, str(ROOT / "Testing"))
        sys.path.insert(0, str(ROOT / "CrossMRSegment"))
        from slicer_scene import SlicerScene
        from CrossMRSegmentLib import CrossMRSegmentLogic
        from CrossMRSegmentLib.process import SegmentationProcess
        from CrossMRSegmentLib.sample import addSampleStudy, generateSampleStudy, paintSampleScribbles
    except BaseException:  # slicer-core missing: pytest's skip is a BaseException
        return None
    env = SlicerScene()
    study = generateSampleStudy()
    volumes, _ = addSampleStudy(env.scene, study)
    logic = CrossMRSegmentLogic(env.scene)
    logic.threads = threads
    scribbles = paintSampleScribbles(logic, study, volumes["t1w"])
    tick = time.perf_counter()
    prepared = logic.prepare(volumes["t1w"], scribbles, [volumes[c] for c in TARGETS])
    process = SegmentationProcess(prepared, "auto", threads=threads, python=sys.executable)
    labels = process.runBlocking()
    logic.writeResults(prepared, labels)
    return time.perf_counter() - tick


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seed", type=int, default=6161, help="generated study (crossmr phantom --seed)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--no-slicer", action="store_true", help="skip the Slicer-logic line")
    args = p.parse_args()
    warnings.filterwarnings("ignore")  # torch.ao's deprecation notices would break up the table
    torch.set_num_threads(args.threads)
    reference, targets, scribbles, seeds = study_inputs(args.seed)
    slices = reference.num_slices + sum(t.num_slices for t in targets)
    print(f"study: generated seed {args.seed}, {slices} slices (T1w {reference.num_slices} with dense strokes + "
          f"{', '.join(f'{t.name} {t.num_slices}' for t in targets)}); {args.threads} threads; torch {torch.__version__}")
    cli_s, wall_s, peak_mb, device = time_cli(reference, targets, scribbles, args.threads, args.repeats)  # first: RSS
    growcut_s = time_growcut(reference, seeds, args.repeats)
    print("\n| what | seconds | ms per slice | x Grow from seeds (T1w alone) |")
    print("|---|---|---|---|")
    print(f"| Grow from seeds, T1w volume alone ({reference.num_slices} slices) | {growcut_s:.2f} | "
          f"{1000 * growcut_s / reference.num_slices:.1f} | 1.00 |")
    print(f"| crossmr segment, defaults ({device}), whole study, loading included | {cli_s:.2f} | "
          f"{1000 * cli_s / slices:.1f} | {cli_s / growcut_s:.2f} |")
    print(f"| the same command's wall time (Python start, reading and writing files included) | {wall_s:.2f} | "
          f"{1000 * wall_s / slices:.1f} | {wall_s / growcut_s:.2f} |")
    print(f"\npeak RSS of the crossmr segment process: {peak_mb:.0f} MB")
    print("\n| runtime (in one process, method loaded) | seconds | ms per slice | x eager | labels' Dice with eager |")
    print("|---|---|---|---|---|")
    base_s, base_labels = None, None
    for name, method, why in variants(args.threads, "cpu"):
        if method is None:
            print(f"| {name} | unavailable: {why} | | | |")
            continue
        try:
            seconds, labels = run_variant(method, reference, targets, scribbles, args.repeats)
        except Exception as exc:  # a runtime that fails here is reported, not fatal
            print(f"| {name} | failed: {type(exc).__name__}: {str(exc)[:80]} | | | |")
            continue
        base_s, base_labels = (seconds, labels) if base_s is None else (base_s, base_labels)
        print(f"| {name} | {seconds:.2f} | {1000 * seconds / slices:.1f} | {seconds / base_s:.2f} | "
              f"{_agreement(base_labels, labels):.4f} |", flush=True)
    if torch.cuda.is_available():
        seconds, labels = run_variant(CrossMRModelMethod(device="cuda"), reference, targets, scribbles, args.repeats)
        print(f"| CUDA GPU ({torch.cuda.get_device_name(0)}), half precision | {seconds:.2f} | "
              f"{1000 * seconds / slices:.1f} | {seconds / base_s:.2f} | {_agreement(base_labels, labels):.4f} |")
    else:
        print("| CUDA GPU | not measured: torch sees no GPU on this machine | | | |")
    if not args.no_slicer:
        apply_s = time_slicer_apply(args.threads)
        print("\nSlicer, sample study, Apply (background process) to segments in the scene: "
              + (f"{apply_s:.2f} s" if apply_s is not None else "not measured (slicer-core is not installed)"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
