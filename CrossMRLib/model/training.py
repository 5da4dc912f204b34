"""The training loop (used by train/train.py and the tests): seeded, time- or step-budgeted, resumable,
DistributedDataParallel-ready (gloo on CPU) or on one CUDA GPU, with checkpoints written periodically and
atomically."""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.distributed as dist

from ..errors import InputError
from .checkpoint import load_checkpoint, save_checkpoint
from .config import ModelConfig
from .data import PairSampler, Volume
from .ema import WeightAverage
from .losses import crossmr_loss
from .network import CrossMRNet
from .stream import batch_stream
from .weights import save_weights


@dataclass
class TrainSettings:
    """What a run does; `minutes` and/or `steps` bound it (whichever comes first)."""

    out_dir: Path
    minutes: float | None = None
    steps: int | None = None
    batch: int = 8
    lr: float = 5e-4
    weight_decay: float = 0.05
    warmup_steps: int = 100
    seed: int = 0
    checkpoint_minutes: float = 3.0
    log_every: int = 20
    ema_decay: float = 0.0  # > 0: keep a weight average and export it (the last step's weights go beside it)
    bf16: bool = False  # forward pass under bfloat16 autocast (weights, optimiser, matching and loss stay float32)
    device: str = "cpu"  # "cuda": one process on the GPU (not under torchrun)
    workers: int = 0  # > 0: pairs are drawn in this many DataLoader processes (fresh streams on resume)
    model: ModelConfig = field(default_factory=ModelConfig)


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX512-BF16 or AMX). Without it, torch emulates
    bfloat16 and a `--bf16` training step runs 10 to 20 times slower than float32 (seen on an AVX2-only
    AMD EPYC: `train/bench_training_step.py`)."""
    check = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    return any(bool(f()) for f in check if callable(f))


def _rank() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _progress(settings: TrainSettings, step: int, elapsed: float) -> float:
    parts = []
    if settings.steps:
        parts.append(step / settings.steps)
    if settings.minutes:
        parts.append(elapsed / (settings.minutes * 60.0))
    return max(parts) if parts else 0.0


def _lr(settings: TrainSettings, step: int, progress: float) -> float:
    warm = min(1.0, (step + 1) / max(settings.warmup_steps, 1))
    return settings.lr * warm * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))


def backward_step(loss: torch.Tensor, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                  max_norm: float) -> None:
    """One optimiser update: gradients of `loss`, clipped to `max_norm` (global L2 norm), then a step."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
    optimizer.step()


def train(settings: TrainSettings, volumes: list[Volume], log: Callable[[str], None] = print,
          export: Path | None = None, meta: dict | None = None) -> dict:
    """Train (or resume from `out_dir/last.pt`) and return {"steps", "history", "minutes"}."""
    rank, world = _rank()
    device = torch.device(settings.device)
    if device.type == "cuda" and world > 1:
        raise InputError("training on the GPU runs as one process: start train.py with python, not torchrun")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda, but this PyTorch sees no CUDA GPU: drop --device (trains on the CPU)")
    if settings.workers < 0:
        raise InputError(f"workers must be 0 or more (0: draw pairs in the training process), got {settings.workers}")
    out = Path(settings.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(settings.seed)
    model = CrossMRNet(settings.model).to(device)
    # fused: one kernel for all parameters (the same update; about 10 ms less per CPU step than the loop)
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay, fused=True)
    sampler = PairSampler(volumes, settings.model.input_size, settings.seed * 1000 + rank)
    average = WeightAverage(model, settings.ema_decay) if settings.ema_decay > 0 else None
    step, elapsed, history = 0, 0.0, []
    ckpt = out / "last.pt"
    if ckpt.exists():
        # other ranks keep fresh random streams (their data differ anyway)
        step, elapsed, history = load_checkpoint(ckpt, model, optimizer, sampler, restore_streams=rank == 0,
                                                 average=average)
        log(f"resumed from {ckpt} at step {step} ({elapsed / 60:.1f} min)")
    net = model
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(model)
    generator = torch.Generator().manual_seed(settings.seed * 7919 + rank + step)
    stream = None
    if settings.workers > 0:  # seeds apart from the in-process sampler's; a resume draws fresh streams
        stream = batch_stream(volumes, settings.model.input_size, settings.batch,
                              settings.seed * 1000 + 500 + 97 * step + rank * settings.workers, settings.workers,
                              pin_memory=device.type == "cuda")
    start, last_ckpt = time.time() - elapsed, time.time()
    window: list[float] = []
    while True:
        elapsed = time.time() - start
        progress = _progress(settings, step, elapsed)
        flags = torch.tensor([progress, float(progress >= 1.0)])
        if world > 1:
            dist.broadcast(flags, 0)  # rank 0 decides the schedule and when to stop
        progress, stop = float(flags[0]), bool(flags[1])
        if stop:
            break
        for group in optimizer.param_groups:
            group["lr"] = _lr(settings, step, progress)
        batch = sampler.batch(settings.batch) if stream is None else next(stream)
        batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
        model.train()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=settings.bf16):
            preds, valid = net(batch["reference"], batch["scribbles"], batch["target"], generator)
        if settings.bf16:
            preds = as_float32(preds)
        loss, parts = crossmr_loss(preds, valid, batch["masks"])
        backward_step(loss, model, optimizer, max_norm=1.0)
        if average is not None:
            average.update(model)
        step += 1
        window.append(float(loss.detach()))
        if step % settings.log_every == 0:
            mean = float(np.mean(window))
            window = []
            history.append({"step": step, "loss": mean, **parts})
            rate = (time.time() - start) / max(progress, 1e-9) - (time.time() - start) if progress > 0 else 0.0
            if rank == 0:
                log(f"step {step} loss {mean:.4f} bce {parts['bce']:.3f} dice {parts['dice']:.3f} "
                    f"score {parts['score']:.3f} presence {parts['presence']:.3f} lr {optimizer.param_groups[0]['lr']:.2e} "
                    f"{100 * progress:.1f}% ETA {rate / 60:.1f} min")
        if rank == 0 and time.time() - last_ckpt > settings.checkpoint_minutes * 60:
            _save(settings, ckpt, model, optimizer, average, step, time.time() - start, sampler, history, export,
                  {**(meta or {}), "steps": step})
            last_ckpt = time.time()
    elapsed = time.time() - start
    if rank == 0:
        _save(settings, ckpt, model, optimizer, average, step, elapsed, sampler, history, export,
              {**(meta or {}), "steps": step, "minutes": round(elapsed / 60, 1)})
        (out / "history.json").write_text(json.dumps(history, indent=1))
        log(f"done: {step} steps in {elapsed / 60:.1f} min")
    return {"steps": step, "history": history, "minutes": elapsed / 60, "model": model,
            "average": average.model if average is not None else None}


def as_float32(preds: list[dict]) -> list[dict]:
    """The network's per-layer outputs with floating tensors in float32 (after a bfloat16 autocast forward pass,
    so that the matching and the loss run in float32)."""
    return [{k: v.float() if torch.is_tensor(v) and v.is_floating_point() else v for k, v in p.items()} for p in preds]


def last_step_path(export: Path) -> Path:
    """Where an --ema run puts the last step's own weights, beside the exported average."""
    return Path(export).with_name(Path(export).stem + "_last_step.pt")


def _save(settings: TrainSettings, ckpt: Path, model: CrossMRNet, optimizer, average: WeightAverage | None,
          step: int, elapsed: float, sampler, history: list, export: Path | None, meta: dict) -> None:
    """Checkpoint, and export the weights (the average when there is one, and then the last step beside it)."""
    extra = {"config": model.config.to_dict(), **({"ema": average.state_dict()} if average is not None else {})}
    save_checkpoint(ckpt, model, optimizer, step, elapsed, sampler, history, extra=extra)
    if export is None:
        return
    if average is None:
        save_weights(model, export, meta)
        return
    save_weights(average.model, export, {**meta, "ema_decay": settings.ema_decay})
    save_weights(model, last_step_path(export), meta)


def init_distributed() -> bool:
    """Join a torchrun process group (gloo, CPU) when launched by torchrun; True if distributed."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        dist.init_process_group("gloo")
        return True
    return dist.is_initialized()
