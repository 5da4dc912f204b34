"""Inference benchmark: a five-series study against Grow from seeds on its T1w volume alone, one run.

    .venv/bin/python train/bench_inference.py [--seed 6161] [--threads 2] [--repeats 3] [--no-slicer]
        [--runtimes eager,channels-last,int8,compile,onnx] [--runtimes-only]

The study is `crossmr phantom --seed 6161` (T1w with dense strokes; T2w, DWI, in- and opposed-phase as targets:
234 slices). Every line is measured in this run, on this machine (numbers depend on the machine and its load:
run it on an idle one):
- Grow from seeds (Slicer's `vtkImageGrowCutSegment`, the strokes plus background strokes) on the T1w volume
  alone: the baseline every ratio is taken against;
- `crossmr segment` with its defaults in a fresh process, as a user runs it (median of `--repeats`): processing
  time from the run record (loading the method included; reading and writing files not), ms per slice, the
  process's peak RSS;
- the runtime variants, in one process on the same study: torch eager float32 (the default), eager with
  channels-last memory, dynamic int8 (the decoder's Linear layers), torch.compile of the encoder, ONNX Runtime
  (`onnx_variant.py`: the network's pieces exported once, timed apart, when onnxruntime is installed); each
  after one warm-up study (which for torch.compile includes its compile time, tens of seconds), with its time,
  its labels' agreement (Dice over all organs) with eager and the largest difference of its probabilities
  (after refinement) from eager's on the T2w series;
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
from CrossMRLib.pairing import pair_slices  # noqa: E402
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


def _probability_difference(base, method, reference, target, scribbles) -> float:
    """Largest absolute difference of the per-slice organ probabilities (after refinement) on `target`."""
    pairing = pair_slices(reference, target)
    outputs = zip(base.slice_outputs(reference, scribbles, target, pairing),
                  method.slice_outputs(reference, scribbles, target, pairing))
    return max((float((a[2] - b[2]).abs().max()) for a, b in outputs), default=0.0)


def run_variant(method, reference, targets, scribbles, repeats: int) -> tuple[float, dict]:
    """(median seconds, labels) of `segment_study` with an already-loaded method; the first call warms up."""
    times, labels = [], {}
    for _ in range(repeats + 1):
        method._cache = None
        tick = time.perf_counter()
        labels = segment_study(reference, scribbles, targets, method=method).labels
        times.append(time.perf_counter() - tick)
    return statistics.median(times[1:]), labels


RUNTIMES = ("eager", "channels-last", "int8", "compile", "onnx")


def variants(threads: int, device: str, runtimes: tuple[str, ...] = RUNTIMES):
    """(name, method or None, why unavailable) for each runtime compared of `runtimes` (eager always, first)."""
    eager = CrossMRModelMethod(threads=threads, device=device)
    yield "torch eager float32 (default)", eager, ""
    if "channels-last" in runtimes:
        channels_last = CrossMRModelMethod(threads=threads, device=device)
        channels_last.model.to(memory_format=torch.channels_last)
        yield "torch eager, channels-last", channels_last, ""
    if device == "cpu" and "int8" in runtimes:
        int8 = CrossMRModelMethod(threads=threads, device=device)
        int8.model = torch.ao.quantization.quantize_dynamic(int8.model, {torch.nn.Linear}, dtype=torch.qint8)
        yield "dynamic int8 (Linear layers)", int8, ""
    if "compile" in runtimes:
        compiled = CrossMRModelMethod(threads=threads, device=device)
        try:
            compiled.model.encoder = torch.compile(compiled.model.encoder, dynamic=True)
            yield "torch.compile (encoder), after compiling", compiled, ""
        except Exception as exc:  # no compiler on this machine and the like
            yield "torch.compile", None, f"{type(exc).__name__}: {exc}"
    if device == "cpu" and "onnx" in runtimes:
        yield onnx_runtime_variant(threads)


def onnx_runtime_variant(threads: int):
    """(name, method or None, why unavailable) for ONNX Runtime, the export timed in the name."""
    try:
        import onnxruntime
    except ImportError:
        return "ONNX Runtime", None, "onnxruntime is not installed (pip install onnxruntime onnx)"
    from onnx_variant import OnnxNet, export_onnx

    method = CrossMRModelMethod(threads=threads, device="cpu")
    try:
        folder = Path(tempfile.mkdtemp(prefix="crossmr-onnx-"))
        seconds = export_onnx(method.model, folder)
        method.model = OnnxNet(method.model, folder, threads)
    except Exception as exc:  # an exporter or runtime that fails here is reported, not fatal
        return "ONNX Runtime", None, f"{type(exc).__name__}: {str(exc)[:80]}"
    return (f"ONNX Runtime {onnxruntime.__version__} ({threads} intra-op threads; export once: "
            f"{sum(seconds.values()):.0f} s)"), method, ""


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
    p.add_argument("--runtimes", default=",".join(RUNTIMES),
                   help=f"comma-separated runtime variants to compare with eager (default: all of {', '.join(RUNTIMES)})")
    p.add_argument("--runtimes-only", action="store_true",
                   help="only the runtime table (no crossmr segment, Grow from seeds or Slicer lines)")
    args = p.parse_args()
    runtimes = tuple(r.strip() for r in args.runtimes.split(",") if r.strip())
    unknown = set(runtimes) - set(RUNTIMES)
    if unknown:
        p.error(f"unknown runtimes {sorted(unknown)}; choose from {', '.join(RUNTIMES)}")
    warnings.filterwarnings("ignore")  # torch.ao's deprecation notices would break up the table
    torch.set_num_threads(args.threads)
    reference, targets, scribbles, seeds = study_inputs(args.seed)
    slices = reference.num_slices + sum(t.num_slices for t in targets)
    print(f"study: generated seed {args.seed}, {slices} slices (T1w {reference.num_slices} with dense strokes + "
          f"{', '.join(f'{t.name} {t.num_slices}' for t in targets)}); {args.threads} threads; torch {torch.__version__}")
    if not args.runtimes_only:
        print_baselines(reference, targets, scribbles, seeds, slices, args.threads, args.repeats)
    print_runtimes(reference, targets, scribbles, slices, args.threads, args.repeats, runtimes)
    if not (args.no_slicer or args.runtimes_only):
        apply_s = time_slicer_apply(args.threads)
        print("\nSlicer, sample study, Apply (background process) to segments in the scene: "
              + (f"{apply_s:.2f} s" if apply_s is not None else "not measured (slicer-core is not installed)"))
    return 0


def print_baselines(reference, targets, scribbles, seeds, slices: int, threads: int, repeats: int) -> None:
    """The table of Grow from seeds and `crossmr segment` (in a fresh process)."""
    cli_s, wall_s, peak_mb, device = time_cli(reference, targets, scribbles, threads, repeats)  # first: RSS
    growcut_s = time_growcut(reference, seeds, repeats)
    print("\n| what | seconds | ms per slice | x Grow from seeds (T1w alone) |")
    print("|---|---|---|---|")
    print(f"| Grow from seeds, T1w volume alone ({reference.num_slices} slices) | {growcut_s:.2f} | "
          f"{1000 * growcut_s / reference.num_slices:.1f} | 1.00 |")
    print(f"| crossmr segment, defaults ({device}), whole study, loading included | {cli_s:.2f} | "
          f"{1000 * cli_s / slices:.1f} | {cli_s / growcut_s:.2f} |")
    print(f"| the same command's wall time (Python start, reading and writing files included) | {wall_s:.2f} | "
          f"{1000 * wall_s / slices:.1f} | {wall_s / growcut_s:.2f} |")
    print(f"\npeak RSS of the crossmr segment process: {peak_mb:.0f} MB")


def print_runtimes(reference, targets, scribbles, slices: int, threads: int, repeats: int,
                   runtimes: tuple[str, ...]) -> None:
    """The table of runtime variants, in this process, against eager."""
    print("\n| runtime (in one process, method loaded) | seconds | ms per slice | x eager | labels' Dice with eager | "
          "max abs probability difference with eager (T2w) |")
    print("|---|---|---|---|---|---|")
    base_s, base_labels, base_method = None, None, None
    for name, method, why in variants(threads, "cpu", runtimes):
        if method is None:
            print(f"| {name} | unavailable: {why} | | | | |")
            continue
        try:
            seconds, labels = run_variant(method, reference, targets, scribbles, repeats)
        except Exception as exc:  # a runtime that fails here is reported, not fatal
            print(f"| {name} | failed: {type(exc).__name__}: {str(exc)[:80]} | | | | |")
            continue
        if base_s is None:
            base_s, base_labels, base_method = seconds, labels, method
        difference = (0.0 if method is base_method else
                      _probability_difference(base_method, method, reference, targets[0], scribbles))
        print(f"| {name} | {seconds:.2f} | {1000 * seconds / slices:.1f} | {seconds / base_s:.2f} | "
              f"{_agreement(base_labels, labels):.4f} | {difference:.2g} |", flush=True)
    if torch.cuda.is_available():
        seconds, labels = run_variant(CrossMRModelMethod(device="cuda"), reference, targets, scribbles, repeats)
        print(f"| CUDA GPU ({torch.cuda.get_device_name(0)}), half precision | {seconds:.2f} | "
              f"{1000 * seconds / slices:.1f} | {seconds / base_s:.2f} | {_agreement(base_labels, labels):.4f} | |")
    else:
        print("| CUDA GPU | not measured: torch sees no GPU on this machine | | | | |")


if __name__ == "__main__":
    raise SystemExit(main())
