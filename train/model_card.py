"""Write Resources/Models/MODEL_CARD.md from the weights' metadata and train/evaluate.py's JSON.

    .venv/bin/python train/model_card.py [--json runs/evaluation.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from CrossMRLib.model.data import TRAIN_SUBJECTS, VAL_SUBJECTS  # noqa: E402
from CrossMRLib.model.inference import NEIGHBOUR_WEIGHT  # noqa: E402
from CrossMRLib.model.refine import EPS, RADIUS_MM  # noqa: E402
from CrossMRLib.model.weights import WEIGHTS_FILE, file_sha256  # noqa: E402
from CrossMRLib.organs import ORGAN_BY_LABEL  # noqa: E402

CONTRASTS = ("t2w", "dwi", "inphase", "opposed")
SHIPPED_COMMAND = ("OMP_NUM_THREADS=1 .venv/bin/torchrun --nproc_per_node 2 train/train.py --threads 1 --steps 7400 "
                   "--batch 6 --phantoms 24 --lr 6e-4 --ema 0.999 --size 144 --out runs/s144b6 "
                   "--export runs/s144b6/crossmr_model.pt")


def _echoes(report: dict) -> str:
    """How the evaluation segmented the series that share one grid (the in- and opposed-phase echoes)."""
    if report.get("echoes_together"):
        return ("Series on one grid (the in- and opposed-phase echoes) are segmented together, their probabilities "
                "and presence scores averaged, so both get the same masks (`crossmr segment --separate-series`: "
                "each on its own).")
    return "Every series segmented on its own."


def metric_rows(report: dict) -> list[str]:
    organs = sorted(ORGAN_BY_LABEL)
    head = "| evaluation | " + " | ".join(ORGAN_BY_LABEL[o].name for o in organs) + " | mean |"
    rows = [head, "|---" * (len(organs) + 2) + "|"]
    keys = [("chaos_dense", "CHAOS val, dense scribbles"), ("chaos_sparse", "CHAOS val, sparse (1 slice/organ)")]
    keys += [(f"phantom_{c}", f"generated, T1w scribbles -> {c}") for c in CONTRASTS]
    for key, title in keys:
        if key not in report:
            continue
        for who, label in (("model", "CrossMR"), ("growcut", "Grow from seeds")):
            if who not in report[key]:
                continue
            s = report[key][who]
            cells = [f"{s[str(o)]['dice']:.3f} / {s[str(o)]['nsd']:.3f}" for o in organs]
            rows.append(f"| {title}: {label} | " + " | ".join(cells) + f" | {s['mean']['dice']:.3f} / {s['mean']['nsd']:.3f} |")
    return rows


def _thresholds(meta: dict) -> str:
    values = meta.get("presence_thresholds")
    if not values:
        return "not calibrated (0.5 for every organ)"
    return ", ".join(f"{ORGAN_BY_LABEL[o + 1].name} {v}" for o, v in enumerate(values))


def _sharpening(report: dict) -> str:
    if not report.get("refine"):
        return ""
    return (f"sharpened along the target slice's edges (guided filter, radius {RADIUS_MM:g} mm, eps {EPS:g}; "
            "`CrossMRLib/model/refine.py`), ")


def _flag(meta: dict, name: str) -> float:
    """The value of a numeric flag in the recorded training command (0 when absent)."""
    words = str(meta.get("command", "")).split()
    return float(words[words.index(name) + 1]) if name in words else 0.0


def _boundary(meta: dict) -> str:
    """The --boundary-weight recorded in the training command, as loss text ('' when off)."""
    weight = _flag(meta, "--boundary-weight")
    if not weight:
        return ""
    return f" (mask pixels next to an organ boundary counted {1 + weight:g} times, `--boundary-weight {weight:g}`)"


def _references(meta: dict) -> str:
    """Which contrast generated pairs take their reference from, per the recorded --t1w-reference-share."""
    share = _flag(meta, "--t1w-reference-share")
    if not share:
        return "reference and target contrasts drawn uniformly"
    return (f"the reference is T1w in {100 * share:g} % of them (`--t1w-reference-share {share:g}`), otherwise "
            "drawn uniformly like the target")


def _mask_head(config: dict) -> str:
    """How the FPN's stride-2 mask branch is built, per the weights' config."""
    if config.get("mask_head", "full") == "separable":
        return "depthwise-separable 3 x 3 convolutions in its stride-2 mask branch, `--mask-head separable`"
    return "full 3 x 3 convolutions in its stride-2 mask branch"


def _averaging(meta: dict) -> str:
    decay = meta.get("ema_decay")
    if not decay:
        return "those of the last training step"
    return (f"exponential moving average of the training weights, decay {decay} (`--ema {decay}`: about the last "
            f"{round(1 / (1 - decay))} steps; the last step's own weights are written beside as `*_last_step.pt`)")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--weights", type=Path, default=ROOT / "Resources" / "Models" / WEIGHTS_FILE)
    p.add_argument("--json", type=Path, default=ROOT / "runs" / "evaluation.json")
    p.add_argument("--notes", default="", help="extra text for the Limitations section")
    p.add_argument("--commit", required=True, help="the commit whose code trained the weights")
    p.add_argument("--command", default=SHIPPED_COMMAND, help="the command that trained the weights")
    args = p.parse_args()
    data = torch.load(args.weights, map_location="cpu", weights_only=True)
    meta, config = data.get("meta", {}), data["config"]
    report = json.loads(args.json.read_text())
    sha = file_sha256(args.weights)
    params = sum(v.numel() for v in data["state"].values())
    text = f"""# CrossMR model card

- File: `{args.weights.name}` ({args.weights.stat().st_size / 1e6:.1f} MB, fp16), sha256 `{sha}`
  (also in `{args.weights.name}.sha256`; the engine refuses a file that does not match).
- Commit: {args.commit} (training and calibration code; the weights were added in the commit after it).
- Network: CrossMR (paper design, CPU-sized): FocalNet encoder (timm, 1 channel, embed_dim
  {config['embed_dim']}, depths {tuple(config['depths'])}, no pretrained weights), FPN (width {config['hidden_dim']}; {_mask_head(config)}),
  visual sampler ({config['num_points']} scribble points + 1 mean token per organ and level, sine position
  encoding), decoder with {config['num_queries']} queries per organ, {3 * config['decoder_rounds']} layers (masked
  cross-attention, self-attention within [organ queries + organ tokens], FFN), mask and score heads.
  {params / 1e6:.2f} M parameters. Input: every slice resized to {config['input_size']} x {config['input_size']} after
  0.5-99.5 percentile clipping to [0, 1]; masks predicted at stride 2 and resized to the series grid.
- Inference (metrics below): {report.get('model_passes', 1)} pass(es) per target slice at sub-pixel shifts, probabilities
  averaged, {_sharpening(report)}then each slice averaged with its neighbours (weight {NEIGHBOUR_WEIGHT} each) before the
  presence thresholds and the clean-up near the scribbles (`CrossMRLib/model/inference.py`; `crossmr segment --fast`:
  one pass). An organ scribbled on the reference slice at a target slice's position (within half a slice)
  counts as present there whatever its score, and on the reference's grid the strokes keep their organ.
  {_echoes(report)}

## Training
- Command (from scratch, seeded; run again to resume from `<out>/last.pt`), then copy `crossmr_model.pt` and its
  `.sha256` from the run folder into `Resources/Models/`:
  `{args.command}`
  (recorded in the weights as `{meta.get('command', '')}` per process). Generated training studies are cached
  under `cache/` on first use (about 10 s each).
- Reproducible: the budget is a number of steps (not minutes), so the same command run from scratch without
  interruption trains bit-identical tensors (checked for one process by `Testing/test_model_training.py`;
  not yet repeated at full size under torchrun); the file's sha256 also depends on the wall-clock minutes
  recorded in its metadata. A run stopped and resumed continues the schedule but not every random stream,
  so its weights differ slightly. Bit-identical only with the code of the commit above: later code may compute
  the same maths in another order (e.g. the faster training step of December 2026), which changes the last
  digits of the floats and, over thousands of steps, the weights.
- Weights: {_averaging(meta)}.
- Steps: {meta.get('steps', '?')}, wall clock {meta.get('minutes', '?')} min on 2 shared CPU cores (see limitations).
- Data: CHAOS MR T2-SPIR training subjects {', '.join(meta.get('chaos_train_subjects', TRAIN_SUBJECTS))} (labels of all
  four organs); generated five-contrast studies, seeds {meta.get('phantom_seeds', [])} (T1w, T2w, DWI b800,
  in-phase, opposed-phase, each with its own labels). Validation subjects {', '.join(VAL_SUBJECTS)} and generated
  seeds 1..5 are never trained on.
- Labels used: protocol `{meta.get('protocol', '?')}` (`all-labels`: labels of every generated contrast; the paper's
  protocol, reference-contrast labels only, is `--protocol reference-only`, not the shipped model).
- Pairs: reference slice + synthetic scribbles -> the same, a neighbouring or a slice up to 8 away (organs may be
  absent); 15 % of pairs aim 1-5 slices past a scribbled organ's end (the organ must come out empty), heavy target-like contrast augmentation (MONAI: monotone and non-monotone intensity remaps, per-organ
  contrast, inversion, gamma, bias field, Gibbs, noise, blur, DWI-like down-sampling), small geometric offsets.
- Generated pairs: {_references(meta)}; the target slice of a cross-contrast pair is resampled into the reference slice's in-plane frame
  (series differ in field of view, pixel size and flips); inference does the same and maps masks back.
- Loss: organ-specific Hungarian matching (cost BCE 2 + Dice 2 + 2 x -sigmoid(score), infinite across organs),
  BCE 2.5{_boundary(meta)} + Dice 2.5 on matched queries, score BCE 2.0 on every query of a scribbled organ, organ presence
  BCE 2.0 on the best query's score (absent organ -> empty), deep supervision on every layer.

## Presence thresholds (calibrated after training by the same command)
Per organ, the presence score below which the organ is left out of a slice: {_thresholds(meta)}. Chosen to
maximise each organ's mean 3D DSC on generated studies seeds {meta.get('calibration', {}).get('seeds', '?')}
(used neither for training nor for evaluation; T1w dense and sparse scribbles, all five contrasts as targets,
the users' inference path at the commit above, with scribbled slices counted as present, without the edge
sharpening, which does not change presence scores), from candidates {list(meta.get('calibration', {}).get('mean_dice', {}))}.

## Metrics (train/evaluate.py; DSC / NSD, NSD tolerance liver 5 mm, kidneys and spleen 3 mm)
Weights evaluated: sha256 `{report.get('sha256', '?')}`.

{chr(10).join(metric_rows(report))}

Model time per slice during evaluation: {report.get('ms_per_slice', float('nan')):.0f} ms (shared, loaded CPU).

## Intended use and limitations
- Research use on abdominal MRI (axial series); not a medical device.
- Issue targets (CHAOS dense mean DSC >= 0.92, sparse >= 0.85, generated contrasts >= 0.90) versus the table above:
  see docs/results.md. {args.notes}
"""
    out = args.weights.parent / "MODEL_CARD.md"
    out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
