"""Resumable training checkpoints (`last.pt`): weights, optimizer, progress and random streams.

Shared by the CrossMR training loop and the benchmark's U-Net training. These files are written by our own
training runs only; shipped weights go through `weights.py` instead (sha256-checked, weights_only).
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..errors import InputError


def _transform_states(sampler) -> dict:
    """The numpy streams of the augmenter's MONAI transforms (each has its own), so a resume continues them."""
    transforms = getattr(sampler.augment, "transforms", {})
    return {name: t.R.get_state() for name, t in transforms.items()}


def save_checkpoint(path: Path, model, optimizer, step: int, elapsed: float, sampler, history: list,
                    extra: dict | None = None) -> None:
    """Write atomically; `sampler` must have `.rng` and `.augment.rng` numpy generators."""
    tmp = path.with_suffix(".tmp")
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step,
                "elapsed": elapsed, "history": history, **(extra or {}),
                "sampler_rng": sampler.rng.bit_generator.state, "aug_rng": sampler.augment.rng.bit_generator.state,
                "monai_rng": _transform_states(sampler), "torch_rng": torch.get_rng_state()}, tmp)
    tmp.replace(path)


def load_checkpoint(path: Path, model, optimizer, sampler, restore_streams: bool = True,
                    average=None) -> tuple[int, float, list]:
    """Restore model and optimizer (and the random streams if asked, and the weight average `average` if one
    is given and was saved as extra "ema"); returns (step, elapsed s, history)."""
    state = torch.load(path, map_location="cpu", weights_only=False)  # our own training file, not shipped weights
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    if average is not None:
        if "ema" not in state:
            raise InputError(f"{path} was written without --ema; resume without --ema or start a new --out folder")
        average.load_state_dict(state["ema"])
    if restore_streams:
        sampler.rng.bit_generator.state = state["sampler_rng"]
        sampler.augment.rng.bit_generator.state = state["aug_rng"]
        torch.set_rng_state(state["torch_rng"])
        for name, transform_state in state.get("monai_rng", {}).items():
            sampler.augment.transforms[name].R.set_state(transform_state)
    return state["step"], state["elapsed"], state["history"]
