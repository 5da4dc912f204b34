"""Benchmark one CPU training step (forward, loss, backward, optimiser) in float32 and under bfloat16 autocast
(`train.py --bf16`), against float32 measured in the same run.

    .venv/bin/python train/bench_training_step.py [--threads 1] [--batch 8] [--steps 6] [--size 128]

Needs the CHAOS training subjects (../shared/data/chaos_t2spir) and draws pairs like train.py.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from CrossMRLib.model.config import ModelConfig  # noqa: E402
from CrossMRLib.model.data import TRAIN_SUBJECTS, PairSampler, load_chaos  # noqa: E402
from CrossMRLib.model.losses import crossmr_loss  # noqa: E402
from CrossMRLib.model.network import CrossMRNet  # noqa: E402
from CrossMRLib.model.training import as_float32  # noqa: E402


def step_ms(config: ModelConfig, batches: list[dict], bf16: bool = False, warmup: int = 2) -> float:
    """Mean milliseconds per training step over `batches` after `warmup` of them (`bf16`: as train.py --bf16)."""
    torch.manual_seed(0)
    model = CrossMRNet(config).train()
    optimizer = torch.optim.AdamW(model.parameters(), 1e-4)
    generator = torch.Generator().manual_seed(0)
    start = 0.0
    for i, batch in enumerate(batches):
        if i == warmup:
            start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            preds, valid = model(batch["reference"], batch["scribbles"], batch["target"], generator)
        if bf16:
            preds = as_float32(preds)
        loss, _ = crossmr_loss(preds, valid, batch["masks"])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return (time.perf_counter() - start) / (len(batches) - warmup) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=8, help="pairs per step (8: one torchrun rank of the recipe)")
    parser.add_argument("--steps", type=int, default=6, help="timed steps per precision")
    parser.add_argument("--size", type=int, default=128)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    sampler = PairSampler(load_chaos(TRAIN_SUBJECTS[:3], args.size), args.size, 0)
    batches = [sampler.batch(args.batch) for _ in range(args.steps + 2)]
    print(f"threads {args.threads}, {args.batch} pairs per step, input {args.size}")
    print("| precision | ms per step | vs float32 |")
    print("|---|---|---|")
    config, base = ModelConfig(input_size=args.size), None
    for bf16 in (False, True):
        ms = step_ms(config, batches, bf16)
        base = base or ms
        print(f"| {'bf16 autocast' if bf16 else 'float32'} | {ms:.0f} | {ms / base:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
