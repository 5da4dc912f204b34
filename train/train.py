"""Train the CrossMR model from scratch on CPU (or under torchrun with DDP/gloo, or on one CUDA GPU).

The shipped recipe's candidate: real CHAOS images and label maps of all 15 subjects, 24 generated studies, and
domain-randomised images (shares: CrossMRLib/model/sources.py); two processes of one thread each. Not what made
the shipped crossmr_model.pt (its command and commit: Resources/Models/MODEL_CARD.md): three runs of it scored
the generated studies below that file (docs/experiments.md, train/recipes.py).
    OMP_NUM_THREADS=1 .venv/bin/torchrun --nproc_per_node 2 train/train.py --threads 1 --steps 7400 --batch 6 \
        --phantoms 24 --lr 6e-4 --ema 0.999 --size 144 --bf16 --chaos-subjects all \
        --out runs/shipped --export runs/shipped/crossmr_model.pt
The "real contrast never seen in training" weights: the same recipe without one real image, validation subjects
held out (Resources/Models/crossmr_never_seen.pt):
    OMP_NUM_THREADS=1 .venv/bin/torchrun --nproc_per_node 2 train/train.py --threads 1 --steps 7400 --batch 6 \
        --phantoms 24 --lr 6e-4 --ema 0.999 --size 144 --bf16 --no-chaos \
        --out runs/never_seen --export runs/never_seen/crossmr_model.pt
--bf16 needs a CPU with AVX512-BF16 or AMX (or a GPU); elsewhere drop it (same recipe, float32 forward, slower).
--ema 0.999 exports an exponential moving average of the weights instead of the last step's (which goes beside
it as <name>_last_step.pt).
On a CUDA GPU (one process; N processes draw the pairs): .venv/bin/python train/train.py --device cuda \
    --workers 14 --threads 1 --batch 64 ... (docs/architecture.md, "Training on a GPU").
Resumable: run the same command again and it continues from <out>/last.pt.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from CrossMRLib.errors import InputError  # noqa: E402
from CrossMRLib.model.calibration import CALIBRATION_SEEDS  # noqa: E402
from CrossMRLib.model.config import ModelConfig  # noqa: E402
from CrossMRLib.model.data import CHAOS_SUBJECTS, TRAIN_SUBJECTS, chaos_root  # noqa: E402
from CrossMRLib.model.sources import PHANTOM_TRAIN_SEED0, recipe_shares, training_volumes  # noqa: E402
from CrossMRLib.model.training import TrainSettings, cpu_has_native_bf16, init_distributed, train  # noqa: E402

SUBJECT_SETS = {"train": TRAIN_SUBJECTS, "all": CHAOS_SUBJECTS}  # "all": the shipped weights (no CHAOS held out)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=ROOT / "runs" / "model", help="run folder (checkpoints, log)")
    p.add_argument("--minutes", type=float, default=None, help="wall-clock training budget")
    p.add_argument("--steps", type=int, default=None, help="step budget (whichever budget ends first)")
    p.add_argument("--batch", type=int, default=8, help="pairs per step (per process under torchrun)")
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--warmup", type=int, default=100, help="linear warm-up steps")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads per process")
    p.add_argument("--size", type=int, default=128, help="model input size (square)")
    p.add_argument("--phantoms", type=int, default=0, help="generated training studies (seeds 1000+)")
    p.add_argument("--no-chaos", action="store_true",
                   help="leave every real image out (the 'real contrast never seen in training' row): generated "
                        "studies and CHAOS organ label maps in synthetic bodies only")
    p.add_argument("--chaos-subjects", choices=tuple(SUBJECT_SETS), default="train",
                   help="CHAOS subjects whose images and label maps train: train (validation held out, for "
                        "choosing a recipe) or all 15 (the shipped weights)")
    p.add_argument("--chaos", type=Path, default=chaos_root(), help="CHAOS T2-SPIR folder")
    p.add_argument("--cache", type=Path, default=ROOT / "cache", help="phantom .npz cache folder")
    p.add_argument("--export", type=Path, default=None, help="write fp16 weights + sha256 here")
    p.add_argument("--no-calibrate", action="store_true",
                   help="skip calibrating the per-organ presence thresholds of the exported weights")
    p.add_argument("--ema", type=float, default=0.0, metavar="DECAY",
                   help="export an exponential moving average of the weights (e.g. 0.999); the last step's "
                        "weights go beside --export as <name>_last_step.pt (not calibrated)")
    p.add_argument("--bf16", action="store_true",
                   help="forward pass under bfloat16 autocast (faster on CPUs with AMX/AVX512-BF16, refused on CPUs "
                        "without them; weights, optimiser and loss stay float32)")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"),
                   help="cuda: train on the GPU, one process (pair with --workers)")
    p.add_argument("--workers", type=int, default=0,
                   help="draw training pairs (and generate uncached phantoms) in this many processes (0: in the "
                        "training process)")
    p.add_argument("--checkpoint-minutes", type=float, default=3.0)
    p.add_argument("--log-every", type=int, default=20)
    args = p.parse_args(argv)
    if args.minutes is None and args.steps is None:
        p.error("give --minutes and/or --steps")
    if not 0.0 <= args.ema < 1.0:
        p.error(f"--ema must be a decay in [0, 1) (e.g. 0.999; 0 turns the average off), got {args.ema}")
    if args.bf16 and args.device == "cpu" and not cpu_has_native_bf16():
        p.error("--bf16: this CPU has no native bfloat16 (AVX512-BF16 or AMX), so bfloat16 steps would run 10 to 20 "
                "times slower than float32; drop --bf16")
    return args


def calibrate_export(path: Path, log) -> None:
    """Store per-organ presence thresholds (held-out generated studies) in the exported weights."""
    from CrossMRLib.methods.crossmr_model import CrossMRModelMethod
    from CrossMRLib.model.calibration import calibrate_presence
    from CrossMRLib.model.weights import save_weights

    torch.set_num_threads(min(os.cpu_count() or 1, 8))  # other torchrun ranks wait idle at the barrier
    method = CrossMRModelMethod(weights=path, refine=False)  # presence is the network's score: calibrated before sharpening
    log(f"calibrating presence thresholds on generated studies (seeds {CALIBRATION_SEEDS})")
    result = calibrate_presence(method, CALIBRATION_SEEDS, log=log)
    sha = save_weights(method.model, path, {**method.meta, "presence_thresholds": result["presence_thresholds"],
                                            "calibration": result})
    log(f"presence thresholds {result['presence_thresholds']}; wrote {path} (sha256 {sha})")


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    torch.set_num_threads(args.threads)
    if args.device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True  # TF32 matrix products: fp32 range, ~10-bit mantissa
        torch.backends.cudnn.allow_tf32 = True
    distributed = init_distributed()
    rank = torch.distributed.get_rank() if distributed else 0
    log_file = Path(args.out) / "train.log"
    Path(args.out).mkdir(parents=True, exist_ok=True)

    def log(message: str) -> None:
        line = f"{time.strftime('%H:%M:%S')} {message}"
        print(line, flush=True)
        if rank == 0:
            with open(log_file, "a") as handle:
                handle.write(line + "\n")

    subjects = SUBJECT_SETS[args.chaos_subjects]
    volumes = training_volumes(subjects, args.phantoms, args.size, args.chaos, args.cache, args.no_chaos, args.workers)
    log(f"training on {len(volumes)} volume draws (CHAOS {'label maps only' if args.no_chaos else 'images and label maps'} "
        f"of {','.join(subjects)}; {args.phantoms} phantoms), world {torch.distributed.get_world_size() if distributed else 1}")
    settings = TrainSettings(out_dir=args.out, minutes=args.minutes, steps=args.steps, batch=args.batch, lr=args.lr, warmup_steps=args.warmup,
                             seed=args.seed, checkpoint_minutes=args.checkpoint_minutes,
                             log_every=args.log_every, ema_decay=args.ema, bf16=args.bf16, device=args.device, workers=args.workers,
                             model=ModelConfig(input_size=args.size))
    meta = {"command": " ".join(["train/train.py", *(argv if argv is not None else sys.argv[1:])]),
            "chaos_image_subjects": [] if args.no_chaos else list(subjects), "chaos_label_subjects": list(subjects),
            "phantom_seeds": [PHANTOM_TRAIN_SEED0, PHANTOM_TRAIN_SEED0 + args.phantoms - 1] if args.phantoms else [],
            "source_shares": recipe_shares()}
    try:
        train(settings, volumes, log, args.export if rank == 0 else None, meta)
    except InputError as exc:  # e.g. resuming --ema from a run without it: one line, no traceback
        raise SystemExit(f"train.py: {exc}") from None
    if args.export is not None and rank == 0 and not args.no_calibrate:
        calibrate_export(args.export, log)
    if distributed:
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
