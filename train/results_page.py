"""docs/results.md from the JSON report of `train/evaluate.py` (the page never needs the models)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from CrossMRLib.model.sources import recipe_shares  # noqa: E402
from CrossMRLib.organs import ORGAN_BY_LABEL  # noqa: E402
from evaluation_setup import CAVEATS, FIT_CAVEAT, GENERAL_CAVEATS, SETUP  # noqa: E402

ORGAN_KEYS = [str(o) for o in sorted(ORGAN_BY_LABEL)]
SECTIONS = {"chaos_dense": "CHAOS T2-SPIR, dense strokes", "chaos_sparse": "CHAOS T2-SPIR, sparse strokes",
            "phantom_t2w": "generated, T1w strokes -> T2w", "phantom_dwi": "generated, T1w strokes -> DWI",
            "phantom_inphase": "generated, T1w strokes -> in-phase",
            "phantom_opposed": "generated, T1w strokes -> opposed-phase"}
TARGETS = {"chaos_dense": 0.92, "chaos_sparse": 0.85, "phantom_t2w": 0.90, "phantom_dwi": 0.90,
           "phantom_inphase": 0.90, "phantom_opposed": 0.90}
EVERY_ORGAN_DENSE = 0.90  # the CHAOS dense row's second target: every organ at least this
NEVER_SEEN_TARGETS = {"chaos_dense": 0.85, "chaos_sparse": 0.80}  # a real contrast the model never saw
NEVER_SEEN_EVERY_ORGAN = 0.80  # its dense row: every organ at least this
NEVER_SEEN_LABEL = "never-seen weights (no real image in training)"


def _mean(summary: dict) -> float:
    return summary["mean"]["dice"]


def _volumes(section: dict) -> str:
    n = section.get("volumes")
    return "" if n is None else f" ({n} volume{'s' if n != 1 else ''})"


def target_met(key: str, section: dict, never_seen: bool = False) -> tuple[str, bool]:
    """The row's target as text and whether CrossMR (`never_seen`: the never-seen weights) meets it."""
    model = section["model"]
    targets, every_organ = (NEVER_SEEN_TARGETS, NEVER_SEEN_EVERY_ORGAN) if never_seen else (TARGETS, EVERY_ORGAN_DENSE)
    if key == "chaos_dense":
        worst = min(model[o]["dice"] for o in ORGAN_KEYS)
        met = _mean(model) >= targets[key] and worst >= every_organ
        return f"{targets[key]:.2f}, every organ {every_organ:.2f}", met
    return f"{targets[key]:.2f}", _mean(model) >= targets[key]


def never_seen_measured(report: dict) -> dict | None:
    """The never-seen entry when it holds CHAOS scores, else None."""
    entry = report.get("never_seen") or {}
    return entry if entry.get("measured") else None


def summary_rows(report: dict) -> list[str]:
    """Mean DSC per evaluation: CrossMR, Grow from seeds, target; the never-seen row under each CHAOS row."""
    never, fit = never_seen_measured(report), bool(chaos_trained_on(report))
    rows = ["| evaluation | CrossMR | Grow from seeds | target | met |", "|---|---|---|---|---|"]
    for key, title in SECTIONS.items():
        if key not in report:
            continue
        section = report[key]
        grown = f"{_mean(section['growcut']):.3f}" if "growcut" in section else "not run"
        target, met = target_met(key, section)
        seen = ", subjects CrossMR was trained on (fit)" if fit and key.startswith("chaos_") else ""
        rows.append(f"| {title}{_volumes(section)}{seen} | {_mean(section['model']):.3f} | {grown} | {target} | "
                    f"{'yes' if met else 'no'} |")
        if key.startswith("chaos_") and never and key in never:
            target, met = target_met(key, never[key], never_seen=True)
            rows.append(f"| {title}, {NEVER_SEEN_LABEL} | {_mean(never[key]['model']):.3f} | | {target} | "
                        f"{'yes' if met else 'no'} |")
        elif key.startswith("chaos_"):
            rows.append(f"| {title}, {NEVER_SEEN_LABEL} | not measured | | | |")
    return rows


def growcut_sentence(report: dict) -> str:
    """Where CrossMR stands against Grow from seeds organ by organ (empty when Grow from seeds was not run)."""
    gaps = [(report[k]["model"][o]["dice"] - report[k]["growcut"][o]["dice"], k, o)
            for k in SECTIONS if k in report and "growcut" in report[k] for o in ORGAN_KEYS]
    if not gaps:
        return ""
    gap, key, organ = min(gaps)
    name = f"{ORGAN_BY_LABEL[int(organ)].name} in \"{SECTIONS[key]}\""
    values = f"{report[key]['model'][organ]['dice']:.3f} vs {report[key]['growcut'][organ]['dice']:.3f}"
    if gap > 0:
        return f"CrossMR is ahead of Grow from seeds on every organ of every row (narrowest: {name}, {values})."
    behind = sum(g <= 0 for g, _, _ in gaps)
    return f"CrossMR is not ahead of Grow from seeds on {behind} organ rows (widest: {name}, {values})."


def chaos_trained_on(report: dict) -> list[str] | None:
    """Scored CHAOS subjects whose images trained the shipped weights (None when the report does not say)."""
    if "chaos_image_subjects" not in report or "chaos_subjects" not in report:
        return None
    return sorted(set(report["chaos_subjects"]) & set(report["chaos_image_subjects"]))


def chaos_text(report: dict) -> str:
    """Which CHAOS subjects were scored and whether the shipped weights saw them."""
    seen = chaos_trained_on(report)
    subjects = " ".join(report.get("chaos_subjects", [])) or "validation"
    if seen is None:
        return f"CHAOS subjects {subjects}"
    if seen:
        return f"CHAOS subjects {subjects}; the shipped weights were trained on the images of {' '.join(seen)}"
    return f"CHAOS subjects {subjects}, never trained on"


def never_seen_sentence(report: dict, command: str) -> str:
    """What the never-seen rows are, or why they were not measured."""
    entry = report.get("never_seen") or {}
    what = (f"The never-seen rows score `{Path(entry.get('weights', 'crossmr_never_seen.pt')).name}`, trained "
            "without one real image voxel (`train/train.py --no-chaos`: generated studies and the training "
            "subjects' organ label maps in synthetic bodies, rendered with random contrasts; the scored subjects "
            "held out entirely) and scored on the same CHAOS subjects with the same strokes")
    if never_seen_measured(report):
        shapes = sorted(set(report.get("chaos_subjects", [])) & set(entry.get("chaos_label_subjects", [])))
        shapes_text = (f" Its synthetic bodies were built from the organ label maps of subjects {' '.join(shapes)}: "
                       "their anatomy was in training, their images were not." if shapes else "")
        recipe = ("" if entry.get("source_shares") == recipe_shares() else
                  " They were trained with an earlier recipe's source shares (not those of "
                  "CrossMRLib/model/sources.py today): the rows measure that recipe.")
        return f"{what} (sha256 `{entry['sha256']}`). It is not used by the product.{shapes_text}{recipe}"
    reason = entry.get("reason", "this evaluation predates the never-seen weights")
    return f"{what}; they were not measured here: {reason}. Train that file with `{command}`."


def organ_rows(report: dict, never_seen: bool = True) -> list[str]:
    """Per organ DSC / NSD of CrossMR, Grow from seeds and (CHAOS rows) the never-seen weights."""
    never = never_seen_measured(report) if never_seen else None
    rows = ["| evaluation | " + " | ".join(ORGAN_BY_LABEL[int(o)].name for o in ORGAN_KEYS) + " | mean |",
            "|---" * (len(ORGAN_KEYS) + 2) + "|"]
    for key, title in SECTIONS.items():
        if key not in report:
            continue
        who = [("CrossMR", report[key]["model"])]
        who += [("Grow from seeds", report[key]["growcut"])] if "growcut" in report[key] else []
        who += [(NEVER_SEEN_LABEL, never[key]["model"])] if never and key in never else []
        for label, s in who:
            cells = [f"{s[o]['dice']:.3f} / {s[o]['nsd']:.3f}" for o in [*ORGAN_KEYS, "mean"]]
            rows.append(f"| {title}: {label} | " + " | ".join(cells) + " |")
    return rows


def caveats(report: dict) -> str:
    """The caveats paragraph, opening with the CHAOS subjects the shipped weights were trained on, if any."""
    seen = chaos_trained_on(report)
    if not seen:
        return CAVEATS
    return (f"The shipped weights were trained on the images of CHAOS subjects {' '.join(seen)}, so on them the "
            "CHAOS rows measure fit, not how CrossMR does on a new patient. " + FIT_CAVEAT + " " + GENERAL_CAVEATS)


def inference_text(report: dict) -> str:
    """How the shipped weights were run, from the report's settings."""
    sharpened = ("sharpened along the image's edges" if report.get("refine")
                 else "not sharpened along the image's edges (`--no-refine`)")
    echoes = ("the in- and opposed-phase echoes (one grid) segmented together, as `crossmr segment` does"
              if report.get("echoes_together") else "every series segmented on its own (`--separate-series`)")
    return f"one model pass per slice, {sharpened}, {echoes}"


def render_page(report: dict, never_seen_command: str) -> str:
    """The whole results page; `report` is the JSON written by `train/evaluate.py` (string organ keys)."""
    sha = report.get("sha256", "?")
    lines = [
        "# CrossMR evaluation results", "",
        "How well the shipped model (`" + Path(report.get("weights", "crossmr_model.pt")).name + f"`, sha256 "
        f"`{sha[:12]}…`) segments liver, right kidney, left kidney and spleen from strokes, against 3D Slicer's "
        f"Grow from seeds, on real T2-SPIR MRI ({chaos_text(report)}) and on generated "
        "five-contrast studies (strokes on T1w, segmented on T2w, DWI, in-phase and opposed-phase). Numbers are "
        "Dice (DSC, 1 = perfect) averaged over the four organs.", "",
        "## Summary", "", *summary_rows(report), "",
    ]
    lines += [s for s in (growcut_sentence(report), never_seen_sentence(report, never_seen_command)) if s]
    lines += ["", "## How it was measured", "",
              f"- Command: `{report.get('command', 'not recorded in the JSON')}`; {inference_text(report)}.",
              SETUP, "", "## Caveats", "", caveats(report), "",
              "## Per organ (DSC / NSD)", "", *organ_rows(report), "",
              "Earlier weights and training runs, with what they scored: [experiments.md](experiments.md)."]
    return "\n".join(lines) + "\n"
