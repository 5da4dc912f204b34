"""Give trained weights the cheaper stride-2 mask branch: distil its two convolutions, keep everything else.

The stride-2 mask branch (two full 3x3 convolutions at 72 x 72 pixels) is about two thirds of a target slice's
encoding work. This script builds the same network with the branch's two convolutions depthwise-separable
(`ModelConfig.mask_branch = "separable"`), copies every other weight from the teacher unchanged, and trains only
those two convolutions to reproduce the teacher's mask features on target images drawn as in training (the
teacher's own CHAOS subjects and generated studies; only images are used, never labels). The result is then
calibrated like any exported weights (presence thresholds on the generated calibration studies).

    .venv/bin/python train/distill_mask_branch.py --teacher Resources/Models/crossmr_model.pt \
        --out runs/distilled/crossmr_model.pt

A teacher trained without real images (crossmr_never_seen.pt) is distilled on images without real ones too.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from CrossMRLib.errors import InputError  # noqa: E402
from CrossMRLib.model.config import ModelConfig  # noqa: E402
from CrossMRLib.model.data import PairSampler, chaos_root  # noqa: E402
from CrossMRLib.model.network import CrossMRNet  # noqa: E402
from CrossMRLib.model.sources import training_volumes  # noqa: E402
from CrossMRLib.model.weights import file_sha256, load_weights, save_weights  # noqa: E402

STUDENT_MODULES = ("fpn.shallow.1.", "fpn.mask_out.0.")  # the two convolutions that change


def student_from(teacher: CrossMRNet) -> CrossMRNet:
    """The teacher's network with a separable mask branch: every weight but the branch's two convolutions
    copied, those two left to train (and the only parameters that require gradients)."""
    config = ModelConfig.from_dict({**teacher.config.to_dict(), "mask_branch": "separable"})
    student = CrossMRNet(config)
    copied = {k: v for k, v in teacher.state_dict().items() if not k.startswith(STUDENT_MODULES)}
    missing, unexpected = student.load_state_dict(copied, strict=False)
    if unexpected or set(missing) != {k for k in student.state_dict() if k.startswith(STUDENT_MODULES)}:
        raise ValueError(f"teacher and student differ outside the mask branch: {missing} {unexpected}")
    for name, param in student.named_parameters():
        param.requires_grad_(name.startswith(STUDENT_MODULES))
    return student


def mask_features(model: CrossMRNet, images: torch.Tensor, stages: list[torch.Tensor]) -> torch.Tensor:
    """The projected stride-2 mask features of `images` given their encoder `stages`."""
    return model.fpn(images, stages, slice(None), project=True)[1]


def distil(teacher: CrossMRNet, sampler: PairSampler, steps: int, batch: int, lr: float, log) -> tuple[CrossMRNet, float]:
    """Train the student's mask branch on `steps` batches of target images; returns (student, final loss),
    the loss being the mean squared error relative to the teacher features' variance."""
    teacher.eval()
    student = student_from(teacher).train()
    trainable = [p for p in student.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(trainable, lr=lr, weight_decay=0.0)
    warmup = max(1, steps // 20)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1.0 + math.cos(math.pi * min(s, steps) / steps)))
    recent: list[float] = []
    for step in range(steps):
        images = sampler.batch(batch)["target"]
        with torch.no_grad():
            stages = teacher.encoder(images)
            wanted = mask_features(teacher, images, stages)
        got = mask_features(student, images, stages)
        loss = F.mse_loss(got, wanted) / wanted.var().clamp_min(1e-6)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        schedule.step()
        recent = (recent + [loss.item()])[-50:]
        if (step + 1) % 50 == 0 or step + 1 == steps:
            log(f"step {step + 1}/{steps} relative error {sum(recent) / len(recent):.4f}")
    return student.eval(), sum(recent) / len(recent)


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--teacher", type=Path, default=ROOT / "Resources" / "Models" / "crossmr_model.pt")
    p.add_argument("--out", type=Path, required=True, help="weights file to write (with its .sha256)")
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--batch", type=int, default=8, help="target images per step")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--chaos", type=Path, default=chaos_root())
    p.add_argument("--cache", type=Path, default=ROOT / "cache", help="generated training studies kept here")
    p.add_argument("--no-calibrate", action="store_true", help="keep the teacher's presence thresholds")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    log = lambda m: print(f"{time.strftime('%H:%M:%S')} {m}", flush=True)  # noqa: E731
    try:
        teacher, meta = load_weights(args.teacher)
    except InputError as exc:
        raise SystemExit(f"distill_mask_branch.py: {exc}") from None
    if teacher.config.mask_branch != "full":
        raise SystemExit(f"distill_mask_branch.py: {args.teacher} already has a {teacher.config.mask_branch} mask "
                         "branch; pass weights trained with the full one")
    images = list(meta.get("chaos_image_subjects") or [])
    labels = list(meta.get("chaos_label_subjects") or images)
    seeds = meta.get("phantom_seeds") or []
    phantoms = seeds[1] - seeds[0] + 1 if len(seeds) == 2 else 0
    volumes = training_volumes(tuple(labels), phantoms, teacher.config.input_size, args.chaos, args.cache,
                               no_chaos=not images, processes=args.threads)
    log(f"distilling {args.teacher.name} (sha256 {file_sha256(args.teacher)[:8]}) on target images of "
        f"{len(volumes)} volumes ({'real and ' if images else 'no real images; '}{phantoms} generated studies)")
    tick = time.perf_counter()
    student, error = distil(teacher, PairSampler(volumes, teacher.config.input_size, args.seed), args.steps,
                            args.batch, args.lr, log)
    minutes = (time.perf_counter() - tick) / 60.0
    command = "train/distill_mask_branch.py " + " ".join(argv if argv is not None else sys.argv[1:])
    distilled = {"command": command.strip(), "teacher_sha256": file_sha256(args.teacher), "steps": args.steps,
                 "relative_error": round(error, 5), "minutes": round(minutes, 1)}
    save_weights(student, args.out, {**meta, "distilled": distilled})
    log(f"wrote {args.out} after {minutes:.1f} min (relative feature error {error:.4f})")
    if not args.no_calibrate:
        from train import calibrate_export

        calibrate_export(args.out, log)
        torch.set_num_threads(args.threads)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
