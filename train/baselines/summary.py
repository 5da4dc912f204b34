"""One benchmark run's numbers as JSON (beside the page), and the check that a second run reproduces them.

`summarise` keeps, per data set / method / contrast / organ (and the mean over organs), the mean, sample
SD and count of DSC and NSD over studies, plus seconds per study and peak memory. `compare` says, number
by number, whether a second run agrees with a first one within noise:

- scores: |difference of means| <= max(SCORE_FLOOR, 2 x the standard error of that difference), i.e. the
  two runs' means do not differ by more than about two standard errors of the study sample;
- seconds per study: the second run's mean within TIME_RATIO of the first's (either way);
- peak private memory: within MEMORY_RATIO of the first's (resident set size, which depends on the page
  cache, is kept as `peak_rss_mb` but not checked).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .report import MethodResult, _contrasts, _organs, organ_values

SUMMARY_NAME = "benchmark_results.json"
SUMMARY_VERSION = 2  # 2: peak_mb is private memory (1: resident set size)
SCORE_FLOOR = 0.005
TIME_RATIO = 1.5
MEMORY_RATIO = 1.15
MEAN_KEY = "mean"


def _stats(values: list[float]) -> dict:
    return {"mean": float(np.mean(values)), "sd": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0,
            "n": len(values)}


def summarise(data: dict[str, list[MethodResult]], command: str, unets: dict | None = None) -> dict:
    """The run's numbers (what the page shows, with counts) as a JSON-able dict; `unets`: per U-Net method,
    its row, weights digest, steps, minutes and `taken_from` (the cache it was copied from, or None)."""
    datasets: dict = {}
    runs = set()
    for dataset, results in data.items():
        results = [r for r in results if r.records]
        methods = {}
        for r in results:
            runs.update(rec.get("run", "") for rec in r.records)
            scores: dict = {}
            for contrast in _contrasts(results):
                organs: dict = {}
                for organ in [*_organs(results, contrast), None]:
                    metrics = {m: _stats(v) for m in ("dice", "nsd") if (v := organ_values(r, contrast, organ, m))}
                    if metrics:
                        organs[MEAN_KEY if organ is None else str(organ)] = metrics
                if organs:
                    scores[contrast] = organs
            methods[r.method] = {"row": r.row, "scores": scores,
                                 "seconds": _stats([float(x["seconds"]) for x in r.records]),
                                 "peak_mb": r.memory.get("private_peak_mb"), "peak_rss_mb": r.memory.get("peak_mb"),
                                 "peak_studies": r.memory.get("studies")}
        if methods:
            datasets[dataset] = methods
    return {"version": SUMMARY_VERSION, "command": command, "runs": sorted(runs), "datasets": datasets,
            "unets": unets or {}}


def write_summary(data: dict[str, list[MethodResult]], out_dir: Path, command: str, unets: dict | None = None) -> Path:
    path = Path(out_dir) / SUMMARY_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summarise(data, command, unets), indent=1) + "\n")
    return path


def load_summary(path: Path) -> dict:
    """Read a summary written by `write_summary`; ValueError with a one-line reason otherwise."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file (benchmark.py writes {SUMMARY_NAME} beside benchmarks.md)")
    try:
        summary = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not JSON ({exc.__class__.__name__}); give the {SUMMARY_NAME} of a run") from exc
    if isinstance(summary, dict) and isinstance(summary.get("version"), int) and summary["version"] < SUMMARY_VERSION:
        raise ValueError(f"{path}: written by an older benchmark.py (summary version {summary['version']}, "
                         f"this one reads {SUMMARY_VERSION}); compare two runs of the same benchmark.py")
    if not isinstance(summary, dict) or summary.get("version") != SUMMARY_VERSION or "datasets" not in summary:
        raise ValueError(f"{path}: not a benchmark summary of version {SUMMARY_VERSION}; "
                         f"give the {SUMMARY_NAME} that benchmark.py wrote")
    return summary


@dataclass
class Check:
    """One number of the first run against the same number of the second."""

    dataset: str
    method: str
    what: str  # "<contrast> <organ> DSC|NSD", "seconds / study" or "peak private MB"
    first: float
    second: float
    tolerance: str
    ok: bool


def _score_check(dataset: str, method: str, what: str, a: dict, b: dict) -> Check:
    se = math.sqrt(a["sd"] ** 2 / a["n"] + b["sd"] ** 2 / b["n"])
    tol = max(SCORE_FLOOR, 2.0 * se)
    return Check(dataset, method, what, a["mean"], b["mean"], f"±{tol:.3f}", abs(a["mean"] - b["mean"]) <= tol)


def _ratio_check(dataset: str, method: str, what: str, a: float, b: float, ratio: float) -> Check:
    ok = a > 0 and b > 0 and 1.0 / ratio <= b / a <= ratio
    return Check(dataset, method, what, a, b, f"x{ratio:g}", ok)


def _partial_memory(summary: dict, which: str) -> str:
    """Why a run's peak memory does not stand for the whole data set ('' when it does): a run resumed in the
    middle of a method measured only the studies that were left."""
    measured, studies = summary.get("peak_studies"), summary["seconds"]["n"]
    if measured is None or measured >= studies:
        return ""
    return (f"the {which} run measured it over {measured} of {studies} studies (resumed mid-method); delete that "
            "method's folder under <cache>/results/<data set>/ and run benchmark.py again to re-measure")


def compare(first: dict, second: dict) -> tuple[list[Check], list[str]]:
    """Every number both runs have, checked; plus what only one of them has (a one-line note each)."""
    checks, missing = [], []
    for dataset, methods in first["datasets"].items():
        for method, a in methods.items():
            b = second["datasets"].get(dataset, {}).get(method)
            if b is None:
                missing.append(f"{dataset}: {a['row']} is only in the first run")
                continue
            for contrast, organs in a["scores"].items():
                for organ, metrics in organs.items():
                    for metric, stats in metrics.items():
                        other = b["scores"].get(contrast, {}).get(organ, {}).get(metric)
                        what = f"{contrast} {organ} {'DSC' if metric == 'dice' else 'NSD'}"
                        if other is None:
                            missing.append(f"{dataset}: {a['row']} {what} is only in the first run")
                        else:
                            checks.append(_score_check(dataset, method, what, stats, other))
            checks.append(_ratio_check(dataset, method, "seconds / study", a["seconds"]["mean"],
                                       b["seconds"]["mean"], TIME_RATIO))
            partial = _partial_memory(a, "first") or _partial_memory(b, "second")
            if partial:
                missing.append(f"{dataset}: {a['row']} peak private MB not compared: {partial}")
            elif a.get("peak_mb") and b.get("peak_mb"):
                checks.append(_ratio_check(dataset, method, "peak private MB", a["peak_mb"], b["peak_mb"],
                                            MEMORY_RATIO))
    for dataset, methods in second["datasets"].items():
        for method, b in methods.items():
            if method not in first["datasets"].get(dataset, {}):
                missing.append(f"{dataset}: {b['row']} is only in the second run")
    return checks, missing


def comparison_page(first: dict, second: dict, checks: list[Check], missing: list[str]) -> str:
    """Markdown: the verdict, the rules, the mean-DSC rows, every number outside noise."""
    rows = {m: r["row"] for d in (first, second) for ms in d["datasets"].values() for m, r in ms.items()}
    bad = [c for c in checks if not c.ok]
    lines = ["# CrossMR benchmark: second run against the first", "",
             f"First run: {', '.join(first['runs']) or '?'}; second run: {', '.join(second['runs']) or '?'}.", "",
             f"**{len(checks) - len(bad)} of {len(checks)} numbers within noise.** Rules: a mean score agrees "
             f"when the two means differ by at most 2 standard errors of their difference (at least "
             f"{SCORE_FLOOR}); seconds per study within x{TIME_RATIO:g}; peak private memory within "
             f"x{MEMORY_RATIO:g}.",
             "", "| Data set | Method | Contrast | mean DSC first | second | difference | tolerance | agrees |",
             "|---|---|---|---|---|---|---|---|"]
    for c in checks:
        if c.what.endswith(f" {MEAN_KEY} DSC"):
            lines.append(f"| {c.dataset} | {rows[c.method]} | {c.what.split()[0]} | {c.first:.3f} | "
                         f"{c.second:.3f} | {c.second - c.first:+.3f} | {c.tolerance} | {'yes' if c.ok else '**no**'} |")
    lines += unet_lines(first.get("unets", {}), second.get("unets", {}))
    lines += ["", "## Outside noise", ""]
    lines += [f"- {c.dataset}: {rows[c.method]} {c.what}: {c.first:.3f} -> {c.second:.3f} "
              f"(tolerance {c.tolerance})" for c in bad] or ["None."]
    if missing:
        lines += ["", "## Not compared", ""] + [f"- {m}" for m in missing]
    return "\n".join(lines) + "\n"


def unet_lines(first: dict, second: dict) -> list[str]:
    """Whether the two runs' U-Nets are the same networks, and whether the second retrained them."""
    lines = []
    for method in sorted(set(first) & set(second)):
        a, b = first[method], second[method]
        same = "the same weights" if a["weights"] == b["weights"] else "**different weights**"
        how = (f"the second run took them from {b['taken_from']} (not retrained)" if b.get("taken_from")
               else f"trained in each run ({a['steps']} steps: {a['minutes']} / {b['minutes']} min)")
        lines.append(f"- {a['row']}: {same} (digest {a['weights']} / {b['weights']}); {how}.")
    return ["", "## U-Nets", "", *lines] if lines else []
