"""Benchmark the training loss's matching: one sample at a time (one host copy per sample, the baseline)
against the whole batch at once (one host copy per decoder layer, what `crossmr_loss` uses).

    .venv/bin/python train/bench_matching.py [--device cuda] [--batches 16 64] [--repeats 20]

Prints one row per batch size: milliseconds per decoder layer for each way and their ratio; both ways must
give the same matches (checked).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from CrossMRLib.model.config import ModelConfig  # noqa: E402
from CrossMRLib.model.matching import match_batch  # noqa: E402


def per_sample(masks: torch.Tensor, targets: torch.Tensor, present: torch.Tensor, scores: torch.Tensor) -> list:
    """The baseline: each sample matched on its own (its own cost and host copy)."""
    out = []
    for b in range(masks.shape[0]):
        out += [(b, organ, query) for _, organ, query in
                match_batch(masks[b:b + 1], targets[b:b + 1], present[b:b + 1], scores[b:b + 1])]
    return out


def timed_ms(fn, args: tuple, repeats: int, device: torch.device) -> float:
    """Mean milliseconds of `fn(*args)` after one warm-up call."""
    fn(*args)
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        fn(*args)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / repeats * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--batches", type=int, nargs="+", default=[8, 16, 64])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    config = ModelConfig()
    side = config.input_size // 2  # masks are painted at stride 2
    print(f"device {args.device}, threads {args.threads}, masks {config.num_organs} organs x {config.num_queries} "
          f"queries x {side}^2")
    print("| batch | per sample (ms) | whole batch (ms) | ratio |")
    print("|---|---|---|---|")
    for batch in args.batches:
        g = torch.Generator(device=device).manual_seed(batch)
        masks = torch.randn(batch, config.num_organs, config.num_queries, side, side, device=device, generator=g)
        targets = (torch.rand(batch, config.num_organs, side, side, device=device, generator=g) > 0.6).float()
        present = torch.rand(batch, config.num_organs, device=device, generator=g) > 0.3
        scores = torch.randn(batch, config.num_organs, config.num_queries, device=device, generator=g)
        inputs = (masks, targets, present, scores)
        if sorted(per_sample(*inputs)) != sorted(match_batch(*inputs)):
            raise SystemExit("the two ways matched differently")
        base = timed_ms(per_sample, inputs, args.repeats, device)
        fast = timed_ms(match_batch, inputs, args.repeats, device)
        print(f"| {batch} | {base:.1f} | {fast:.1f} | {base / fast:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
