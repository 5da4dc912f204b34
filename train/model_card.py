"""Write Resources/Models/MODEL_CARD.md from the weights' metadata and train/evaluate.py's JSON report.

    .venv/bin/python train/model_card.py --commit COMMIT [--json runs/evaluation.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402

from CrossMRLib.model.data import CHAOS_SUBJECTS  # noqa: E402
from CrossMRLib.model.weights import WEIGHTS_FILE, file_sha256  # noqa: E402
from CrossMRLib.organs import ORGAN_BY_LABEL  # noqa: E402
from recipes import MODELS, NEVER_SEEN_COMMAND, NEVER_SEEN_COMMIT, SHIPPED_COMMAND, TORCHRUN_PREFIX  # noqa: E402
from never_seen import label_map_subjects, real_image_subjects  # noqa: E402
from CrossMRLib.model.sources import recipe_shares  # noqa: E402
from results_page import chaos_trained_on, never_seen_measured, organ_rows  # noqa: E402


def thresholds(meta: dict) -> str:
    """The calibrated per-organ presence thresholds as text."""
    values = meta.get("presence_thresholds")
    if not values:
        return "not calibrated (0.5 for every organ)"
    return ", ".join(f"{ORGAN_BY_LABEL[o + 1].name} {v}" for o, v in enumerate(values))


def averaging(meta: dict) -> str:
    """Which weights the file holds: a moving average or the last step's."""
    decay = meta.get("ema_decay")
    if not decay:
        return "the last training step's weights"
    return f"a moving average of the training weights (`--ema {decay}`)"


def chaos_data(meta: dict) -> str:
    """Which CHAOS subjects trained the weights: images, and label maps used inside synthetic bodies."""
    images, labels = real_image_subjects(meta), label_map_subjects(meta)
    text = f"CHAOS MR T2-SPIR images and labels of subjects {', '.join(images) or 'none'}"
    if "chaos_label_subjects" not in meta:  # weights from before the domain-randomised sources
        return text
    return text + (f"; the organ label maps of subjects {', '.join(labels)} inside synthetic bodies, rendered with "
                   "random contrasts (no image voxel; docs/architecture.md)")


def source_shares(meta: dict) -> dict[str, float]:
    """The recipe's shares of training pairs, as recorded in the weights (else those of this code)."""
    return meta.get("source_shares") or recipe_shares()


def randomised(meta: dict) -> str:
    """The shares of the sources and of the domain-randomised pairs, for weights trained with them."""
    if "chaos_label_subjects" not in meta:
        return ""
    shares = source_shares(meta)
    return (f" ({shares['generated_random']:.0%} of their pairs rendered as two random contrasts of each series' "
            f"tissue map). Pairs: CHAOS subjects {shares['chaos']:.0%} ({shares['synthetic_body']:.0%} of them as "
            f"synthetic bodies), generated studies {1 - shares['chaos']:.0%}")


def chaos_limit(report: dict) -> str:
    """What the CHAOS rows of the metrics can say, given the subjects the weights were trained on."""
    if chaos_trained_on(report):
        return ("The CHAOS rows score subjects whose images trained the model: they measure fit, not a new "
                "patient.")
    return ("Scores are from 5 CHAOS validation subjects (recipe choices were made on them, so they are "
            "optimistic by about 0.025).")


def never_seen_text(report: dict) -> str:
    """The never-seen section's result line, from the evaluation report."""
    entry = never_seen_measured(report)
    if entry is None:
        reason = (report.get("never_seen") or {}).get("reason", "the evaluation report has no never-seen entry")
        return f"Not measured yet ({reason})."
    shipped = [report[k]["model"]["mean"]["dice"] for k in ("chaos_dense", "chaos_sparse")]
    unseen = [entry[k]["model"]["mean"]["dice"] for k in ("chaos_dense", "chaos_sparse")]
    return (f"Mean DSC on the CHAOS validation subjects, same strokes: dense {unseen[0]:.3f}, sparse {unseen[1]:.3f} "
            f"(shipped model{', trained on them:' if chaos_trained_on(report) else ''} {shipped[0]:.3f}, "
            f"{shipped[1]:.3f}); per organ in the table above. sha256 "
            f"`{entry['sha256']}`.")


def never_trained(unseen: list[str]) -> str:
    """The evaluation data the weights never saw: CHAOS subjects (if any) and the generated seeds 1..10."""
    seeds = "generated seeds 1..10 (evaluation, calibration)"
    if not unseen:
        return f"{seeds}; every CHAOS subject was in training, so no CHAOS score here is held out"
    return f"CHAOS subjects {', '.join(unseen)} and {seeds}"


def card(weights: Path, report: dict, commit: str, command: str, notes: str = "") -> str:
    """The model card's markdown."""
    data = torch.load(weights, map_location="cpu", weights_only=True)
    meta, config = data.get("meta", {}), data["config"]
    params = sum(v.numel() for v in data["state"].values())
    size = config["input_size"]
    seeds = meta.get("phantom_seeds") or []
    unseen = [s for s in CHAOS_SUBJECTS if s not in label_map_subjects(meta)]
    return f"""# CrossMR model card

`{weights.name}` is the network behind CrossMR's default method: given strokes for liver, right kidney, left
kidney and spleen on one abdominal MRI series, it segments those organs on that series and on the other
series of the study (T1w, T2w, DWI, in-phase, opposed-phase), slice by slice. Design: the CrossMR paper's
referring model sized for a CPU (FocalNet encoder, FPN, tokens sampled from the strokes, {config['num_queries']}
queries per organ, {3 * config['decoder_rounds']} decoder layers, organ-specific matching; docs/architecture.md), trained
from scratch.

- File: {weights.stat().st_size / 1e6:.1f} MB, fp16, {params / 1e6:.2f} M parameters, input {size} x {size};
  sha256 `{file_sha256(weights)}` (also in `{weights.name}.sha256`; CrossMR refuses a file that does not match).
- Commit: {commit} (the code that trained and calibrated it).
- Presence thresholds (an organ below its threshold is left out of a slice; calibrated after training on
  generated studies seeds 6..10): {thresholds(meta)}.

## Training data
- {chaos_data(meta)}; generated five-contrast studies, seeds {f'{seeds[0]}..{seeds[-1]}' if seeds else 'none'},
  each contrast with its own labels{randomised(meta)}.
- Never trained on: {never_trained(unseen)}.
- {meta.get('steps', '?')} steps ({meta.get('minutes', '?')} min on 2 CPU cores); the file holds {averaging(meta)}.

## Reproduce
`{command}`

then copy `crossmr_model.pt` and its `.sha256` from the run folder into `Resources/Models/`. A step budget:
run from scratch without interruption at the commit above, the command trains the same tensors (the sha256
also covers the wall-clock minutes recorded in the file).

## Metrics
`train/evaluate.py` (details and caveats: docs/results.md); DSC / NSD per organ, weights evaluated sha256
`{report.get('sha256', '?')}`.

{chr(10).join(organ_rows(report))}

## Never-seen weights (evaluation only)
`crossmr_never_seen.pt` is not used by the product. It is trained without one real image voxel (`--no-chaos`:
generated studies and the CHAOS training subjects' organ label maps in synthetic bodies, rendered with random
contrasts; the validation subjects held out entirely), to measure CrossMR on a real contrast it never saw:
`{NEVER_SEEN_COMMAND}`, run at commit {NEVER_SEEN_COMMIT} for the committed file.
{never_seen_text(report)}

## Intended use and limits
- Research use on axial abdominal MRI; not a medical device. Review every result.
- Four organs only. {chaos_limit(report)} Generated studies come from the training generator (docs/results.md).
- One training run; runs of one recipe differ by up to 0.03 per organ. Earlier weights and runs:
  docs/experiments.md.{" " + notes if notes else ""}
"""


def recorded_command(weights: Path) -> str:
    """The training command stored in the weights, as run: two torchrun processes of one thread each."""
    meta = torch.load(weights, map_location="cpu", weights_only=True).get("meta", {})
    recorded = meta.get("command", "")
    return f"{TORCHRUN_PREFIX}{recorded}" if recorded.startswith("train/train.py") else recorded or SHIPPED_COMMAND


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", type=Path, default=MODELS / WEIGHTS_FILE)
    p.add_argument("--json", type=Path, default=ROOT / "runs" / "evaluation.json", help="train/evaluate.py's report")
    p.add_argument("--commit", required=True, help="the commit whose code trained the weights")
    p.add_argument("--command", default=None,
                   help="the command that trained the weights (default: the one recorded in them, under torchrun)")
    p.add_argument("--notes", default="", help="extra text for the limits section")
    p.add_argument("--out", type=Path, default=None, help="output (default: MODEL_CARD.md beside the weights)")
    args = p.parse_args(argv)
    command = args.command or recorded_command(args.weights)
    text = card(args.weights, json.loads(args.json.read_text(encoding="utf-8")), args.commit, command, args.notes).rstrip() + "\n"
    (args.out or args.weights.parent / "MODEL_CARD.md").write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
