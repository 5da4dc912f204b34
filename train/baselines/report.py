"""docs/benchmarks.md and docs/benchmark.png from the benchmark's cached results (nothing is recomputed)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from CrossMRLib.metrics import NSD_TOLERANCE_MM
from CrossMRLib.model.data import TRAIN_SUBJECTS, VAL_SUBJECTS
from CrossMRLib.organs import ORGAN_BY_LABEL

from .cases import MULTI_SERIES, PHANTOM_REFERENCE, PHANTOM_SEEDS

DATASET_TITLES = {
    "chaos-dense": "CHAOS T2-SPIR validation subjects, reference = target, dense scribbles",
    "chaos-sparse": "CHAOS T2-SPIR validation subjects, reference = target, sparse scribbles (one slice per organ)",
    "phantom": "Generated held-out studies: scribbles on T1w only, targets paired by physical position",
}
CONTRAST_ORDER = ("t2spir", "t1w", "t2w", "dwi", "inphase", "opposed")


def fairness_rules(budget: str | None = None) -> str:
    """The rules every number on the page follows (shown at the top)."""
    tolerances = ", ".join(f"{ORGAN_BY_LABEL[o].name} {t:g} mm" for o, t in NSD_TOLERANCE_MM.items())
    return "\n".join([
        "## Fairness rules",
        "",
        "1. **Same inputs.** Every method gets the same series, the same seeded synthetic organ scribbles "
        "(`CrossMRLib.scribbles.synth`, cached once per study) and the same slice pairing (by physical "
        "position, `CrossMRLib.pairing`), through the same `CrossMRLib.pipeline.segment_study` call.",
        "2. **Background scribbles only where a method needs them.** Grow from seeds (a, b), the watershed and "
        "registration (b) also get background strokes (2 per scribbled slice, within 20 mm of the organs); "
        "CrossMR and both U-Nets never see them. Registration (a) gets the reference's true labels: it is the "
        "ceiling of any 'segment one series, register the others' workflow, not a method a user has.",
        f"3. **No method sees test subjects in training.** CrossMR and both U-Nets train on CHAOS subjects "
        f"{' '.join(TRAIN_SUBJECTS)} and generated studies with seeds 1000+; the benchmark uses CHAOS "
        f"{' '.join(VAL_SUBJECTS)} and generated seeds {PHANTOM_SEEDS[0]}-{PHANTOM_SEEDS[-1]}. The interactive "
        "baselines need no training; the registration settings were chosen on generated calibration "
        "studies (seeds 6-10), never on a benchmark study.",
        "4. **Same training budget.** Both U-Nets train on the reference contrast only (CHAOS T2-SPIR, "
        "generated T1w), on CrossMR's training volumes, drawn in CrossMR's proportions (CHAOS volumes listed as "
        "many times as in its training), with CrossMR's augmentation, "
        + (f"for {budget}" if budget else "for the same training budget") + " (the minutes each training "
        "took are listed under Setup).",
        "5. **Same measurement.** One run, one machine, the same torch thread count for all. Seconds per "
        "study = wall time of `segment_study` for all series of the study (networks loaded beforehand; load "
        "time listed apart; for the registration rows it includes segmenting the reference and registering "
        "every target). Memory = private (anonymous resident) memory of the process running the method, "
        "which holds the study too: its peak while segmenting (polled every 2 ms from another process), what "
        "loading the method added, and what segmenting added on top (peak minus after loading). Peak resident "
        "set size (kernel high-water mark) is listed too; it also counts shared-library pages, which depend on "
        "the page cache, so it is not compared between runs.",
        f"6. **Scores.** DSC and NSD (tolerance {tolerances}) per organ, in 3D, per series, over the organs "
        "present in that series' ground truth; mean +- sample SD over studies. Best mean per column in bold.",
        "",
    ])


@dataclass
class MethodResult:
    """The cached results of one method on one data set."""

    method: str
    row: str
    records: list[dict]
    memory: dict = field(default_factory=dict)


def _cell(values: list[float], bold: bool = False) -> str:
    if not values:
        return "–"
    mean = float(np.mean(values))
    sd = f" ± {np.std(values, ddof=1):.3f}" if len(values) > 1 else ""
    text = f"{mean:.3f}{sd}"
    return f"**{text}**" if bold else text


def _contrasts(results: list[MethodResult]) -> list[str]:
    found = {c for r in results for rec in r.records for c in rec["scores"]}
    return [c for c in CONTRAST_ORDER if c in found] + sorted(found - set(CONTRAST_ORDER))


def _organs(results: list[MethodResult], contrast: str) -> list[int]:
    found = {int(o) for r in results for rec in r.records for o in rec["scores"].get(contrast, {})}
    return sorted(found)


def organ_values(result: MethodResult, contrast: str, organ: int | None, metric: str) -> list[float]:
    """Per-study values of one organ (None: the mean over the study's organs)."""
    values = []
    for rec in result.records:
        scores = rec["scores"].get(contrast)
        if not scores:
            continue
        if organ is None:
            values.append(float(np.mean([s[metric] for s in scores.values()])))
        elif str(organ) in scores or organ in scores:
            values.append(float(scores.get(str(organ), scores.get(organ))[metric]))
    return values


def score_table(results: list[MethodResult], contrast: str) -> list[str]:
    """Markdown table: methods x (organ DSC/NSD, mean DSC/NSD) for one contrast."""
    organs = _organs(results, contrast)
    columns = [(o, m) for o in organs for m in ("dice", "nsd")] + [(None, "dice"), (None, "nsd")]
    header = ["Method"] + [f"{ORGAN_BY_LABEL[o].name if o else 'mean'} {'DSC' if m == 'dice' else 'NSD'}"
                           for o, m in columns]
    values = {r.method: [organ_values(r, contrast, o, m) for o, m in columns] for r in results}
    best = [max((np.mean(v[i]) for v in values.values() if v[i]), default=None) for i in range(len(columns))]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in results:
        cells = [_cell(v, bool(v) and best[i] is not None and np.isclose(np.mean(v), best[i]))
                 for i, v in enumerate(values[r.method])]
        lines.append(f"| {r.row} | " + " | ".join(cells) + " |")
    return lines


def _mean_sd(values: list[float], digits: int) -> str:
    if not values:
        return "–"
    sd = f" ± {np.std(values, ddof=1):.{digits}f}" if len(values) > 1 else ""
    return f"{np.mean(values):.{digits}f}{sd}"


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}" if a is not None and b else "–"


def cost_table(results: list[MethodResult], contrasts: list[str]) -> list[str]:
    """Seconds per study, load time, peak memory and the CrossMR / method ratios."""
    def mean_dsc(r: MethodResult) -> float | None:
        vals = [v for c in contrasts for v in organ_values(r, c, None, "dice")]
        return float(np.mean(vals)) if vals else None

    def mean_s(r: MethodResult) -> float | None:
        return float(np.mean([x["seconds"] for x in r.records])) if r.records else None

    crossmr = next((r for r in results if r.method == "crossmr"), None)
    ref_dsc, ref_s = (mean_dsc(crossmr), mean_s(crossmr)) if crossmr else (None, None)
    ref_mb = crossmr.memory.get("private_peak_mb") if crossmr else None
    lines = ["| Method | mean DSC | seconds / study | load s | peak private MB | load MB | segmenting MB | "
             "peak RSS MB | CrossMR / method: DSC | time | peak memory |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        mem, dsc = r.memory, mean_dsc(r)
        peak = mem.get("private_peak_mb")
        load_mb = f"{mem['private_loaded_mb'] - mem['private_start_mb']:.0f}" if "private_loaded_mb" in mem else "–"
        work_mb = f"{peak - mem['private_loaded_mb']:.0f}" if peak is not None and load_mb != "–" else "–"
        lines.append(f"| {r.row} | {'–' if dsc is None else f'{dsc:.3f}'} | "
                     f"{_mean_sd([x['seconds'] for x in r.records], 2)} | {mem.get('load_s', '–')} | "
                     f"{'–' if peak is None else peak} | {load_mb} | {work_mb} | {mem.get('peak_mb', '–')} | "
                     f"{_ratio(ref_dsc, dsc)} | {_ratio(ref_s, mean_s(r))} | {_ratio(ref_mb, peak)} |")
    return lines


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def _seconds(r: MethodResult) -> float | None:
    return _mean([float(x["seconds"]) for x in r.records])


def _overall_dsc(r: MethodResult, contrasts: list[str]) -> float | None:
    return _mean([v for c in contrasts for v in organ_values(r, c, None, "dice")])


def glance_table(results: list[MethodResult]) -> list[str]:
    """Methods x (mean DSC per contrast, seconds per study, CrossMR's DSC and time ratio to the method)."""
    contrasts = _contrasts(results)
    crossmr = next((r for r in results if r.method == "crossmr"), None)
    ref_dsc = _overall_dsc(crossmr, contrasts) if crossmr else None
    ref_s = _seconds(crossmr) if crossmr else None
    lines = ["| Method | " + " | ".join(f"{c} DSC" for c in contrasts)
             + " | seconds / study | CrossMR ÷ method: DSC | time |",
             "|" + "---|" * (len(contrasts) + 4)]
    for r in results:
        means = [_mean(organ_values(r, c, None, "dice")) for c in contrasts]
        cells = ["–" if m is None else f"{m:.3f}" for m in means]
        seconds = _seconds(r)
        lines.append(f"| {r.row} | " + " | ".join(cells) + f" | {'–' if seconds is None else f'{seconds:.2f}'} | "
                     f"{_ratio(ref_dsc, _overall_dsc(r, contrasts))} | {_ratio(ref_s, seconds)} |")
    return lines


REGISTRATION_LETTERS = {"registration-truth": "(a)", "registration-growcut": "(b)", "registration-crossmr": "(c)"}


def registration_sentences(results: list[MethodResult]) -> list[str]:
    """One sentence per contrast: CrossMR against registration (a), (b), (c), from the numbers."""
    crossmr = next((r for r in results if r.method == "crossmr" and r.records), None)
    rows = [r for r in results if r.method in REGISTRATION_LETTERS and r.records]
    if crossmr is None or not rows:
        return []
    out = []
    for contrast in _contrasts(results):
        own = _mean(organ_values(crossmr, contrast, None, "dice"))
        if own is None:
            continue
        parts = []
        for r in rows:
            other = _mean(organ_values(r, contrast, None, "dice"))
            if other is not None:
                verdict = "above" if own > other + 0.0005 else "below" if own < other - 0.0005 else "level with"
                parts.append(f"{verdict} {REGISTRATION_LETTERS[r.method]} {r.row.split(': ', 1)[-1]} "
                             f"({other:.3f}, ratio {_ratio(own, other)})")
        if parts:
            note = (" (the reference series: the registration rows are their reference segmentation there, "
                    "nothing is registered)" if contrast == PHANTOM_REFERENCE else "")
            out.append(f"- **{contrast}**: CrossMR's mean DSC {own:.3f} is " + ", ".join(parts[:-1])
                       + (" and " if len(parts) > 1 else "") + parts[-1] + note + ".")
    return out


def glance_section(data: dict[str, list[MethodResult]]) -> list[str]:
    """The page's first screen: per data set and contrast, every method's mean DSC and time, CrossMR's ratios."""
    lines = ["## At a glance", "",
             "Mean DSC over organs and studies per contrast; seconds per study for all series of a study; "
             "CrossMR ÷ method over all contrasts (DSC above 1: CrossMR scores higher; time below 1: CrossMR "
             "is faster). Rules, setup and per-organ tables follow.", ""]
    for dataset, results in data.items():
        results = [r for r in results if r.records]
        if not results:
            continue
        lines += [f"**{DATASET_TITLES.get(dataset, dataset)}**", ""] + glance_table(results) + [""]
        if dataset in MULTI_SERIES:
            sentences = registration_sentences(results)
            lines += (["CrossMR against registration-based label transfer, per contrast:", ""] + sentences + [""]
                      if sentences else [])
    return lines


def registration_section(settings_text: str, calibration: dict | None) -> list[str]:
    """How the registration rows register, and the calibration numbers the settings were chosen by."""
    lines = ["## Registration settings", "",
             "SimpleITK: Mattes mutual information, rigid (centred Euler3D, started at identity: the series share "
             "the scanner frame), then a cubic B-spline stage when bspline_iterations > 0; each target registered "
             "to the reference, the reference's labels resampled through the transform (nearest neighbour). "
             f"Settings: {settings_text}.", ""]
    if not calibration:
        return lines + ["No calibration record found (train/baselines/registration_calibration.json).", ""]
    lines += [f"Chosen on generated calibration studies (seeds {', '.join(map(str, calibration['seeds']))}; "
              f"`{calibration['command']}`): mean DSC of the true labels transferred, over the targets, per "
              "candidate:", "",
              "| Candidate | settings | " + " | ".join(calibration["contrasts"]) + " | mean DSC | s / target "
              "(CPU or wall) | chosen |",
              "|" + "---|" * (len(calibration["contrasts"]) + 5)]
    for c in calibration["candidates"]:
        cells = " | ".join(f"{c['dice'][t]:.3f}" for t in calibration["contrasts"])
        lines.append(f"| {c['name']} | {c['settings_text']} | {cells} | {c['mean_dice']:.3f} | "
                     f"{c['seconds_per_target']:.1f} {c.get('time', 'wall')} | {'yes' if c['name'] == calibration['chosen'] else ''} |")
    return lines + ["", f"Identity (no registration, labels carried by position): mean DSC "
                        f"{calibration['identity_dice']:.3f}. {calibration.get('rule', '')} Times: CPU = process "
                        "CPU seconds, 1 thread; wall = wall time of a run on a loaded machine (not comparable).", ""]


def write_figure(data: dict[str, list[MethodResult]], path: Path) -> None:
    """Per data set, per contrast: grouped bars of mean DSC per method (error bars: SD over studies)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = [d for d, res in data.items() if any(r.records for r in res)]
    widths = [max(len(_contrasts(data[d])), 1) for d in datasets] + [2]
    fig, axes = plt.subplots(1, len(widths), figsize=(3.0 + 2.2 * sum(widths), 4.6), squeeze=False,
                             gridspec_kw={"width_ratios": widths})
    methods = list(dict.fromkeys(r.method for res in data.values() for r in res))
    colours = {m: plt.cm.tab10(i) for i, m in enumerate(methods)}
    for ax, dataset in zip(axes[0], datasets):
        contrasts, results = _contrasts(data[dataset]), data[dataset]
        width = 0.8 / max(len(results), 1)
        for i, r in enumerate(results):
            stats = [organ_values(r, c, None, "dice") for c in contrasts]
            means = [np.mean(v) if v else 0.0 for v in stats]
            sds = [np.std(v, ddof=1) if len(v) > 1 else 0.0 for v in stats]
            x = np.arange(len(contrasts)) + (i - (len(results) - 1) / 2) * width
            ax.bar(x, means, width, yerr=sds, capsize=2, label=r.row, color=colours[r.method])
        ax.set_xticks(np.arange(len(contrasts)), contrasts)
        ax.set_ylim(0, 1)
        ax.set_title(dataset)
        ax.set_ylabel("mean DSC")
        ax.grid(axis="y", alpha=0.3)
    time_ax = axes[0][-1]  # seconds per study, per data set and method (log scale)
    width = 0.8 / max(len(methods), 1)
    for i, method in enumerate(methods):
        values = [next((_seconds(r) for r in data[d] if r.method == method and r.records), None) for d in datasets]
        x = [k + (i - (len(methods) - 1) / 2) * width for k, v in enumerate(values) if v]
        time_ax.bar(x, [v for v in values if v], width, color=colours[method])
    time_ax.set_xticks(np.arange(len(datasets)), datasets, fontsize=7)
    time_ax.set_yscale("log")
    time_ax.set_title("time")
    time_ax.set_ylabel("seconds / study")
    time_ax.grid(axis="y", alpha=0.3)
    handles, labels = {}, {}
    for ax in axes[0][:-1]:
        for h, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, h)
    handles, labels = list(handles.values()), list(handles)
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 3), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.14, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(data: dict[str, list[MethodResult]], out_dir: Path, meta: dict) -> Path:
    """Write benchmarks.md (+ benchmark.png) into `out_dir`; returns the page's path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    lines = ["# CrossMR benchmark", ""]
    if meta.get("smoke"):
        lines += ["> **Smoke run** (one study, a few slices, tiny U-Net budget): checks that the script works; "
                  "these numbers mean nothing.", ""]
    budget = meta.get("unet_budget_text")
    lines += [f"Produced by: `{meta['command']}`", ""] + glance_section(data)
    if any(r.records for res in data.values() for r in res):
        write_figure(data, out_dir / "benchmark.png")
        lines += ["![mean DSC per contrast and method; seconds per study](benchmark.png)", ""]
    lines += [fairness_rules(budget)]
    lines += ["## Setup", ""] + [f"- {line}" for line in meta.get("setup", [])] + [""]
    if meta.get("registration"):
        lines += registration_section(meta["registration"], meta.get("registration_calibration"))
    lines += ["## Hardware", ""] + [f"- {k}: {v}" for k, v in meta.get("hardware", {}).items()] + [""]
    for note in meta.get("notes", []):
        lines += [f"> {note}", ""]
    for dataset, results in data.items():
        results = [r for r in results if r.records]
        if not results:
            continue
        studies = sorted({rec["study"] for r in results for rec in r.records})
        lines += [f"## {DATASET_TITLES.get(dataset, dataset)}", "", f"Studies: {', '.join(studies)}.", ""]
        contrasts = _contrasts(results)
        for contrast in contrasts:
            lines += [f"### {contrast}", ""] + score_table(results, contrast) + [""]
        lines += ["### Time and memory", ""] + cost_table(results, contrasts) + [""]
    runs = sorted({rec.get("run", "") for res in data.values() for r in res for rec in r.records})
    lines += [f"Results from {len(runs)} run(s): {', '.join(runs)}.", ""]
    if meta.get("summary"):
        lines += [f"Every number of this page, with study counts: [{meta['summary']}]({meta['summary']}); "
                  "`train/compare_benchmarks.py` checks a second run against it.", ""]
    page = out_dir / "benchmarks.md"
    page.write_text("\n".join(lines))
    return page


def write_pending(out_dir: Path, command: str) -> Path:
    """The page before a full run exists: the rules and the command that will produce the numbers."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    page = out_dir / "benchmarks.md"
    page.write_text("\n".join(["# CrossMR benchmark", "", f"To be produced by: `{command}`", "",
                               "No numbers yet: the full run (two U-Net trainings plus every method on every "
                               "study) has not been run.", "", fairness_rules()]))
    return page
