"""Training of the benchmark U-Nets: reference-contrast slices only, CrossMR's augmentation, a step budget.

nnU-Net's recipe where it applies on CPU: Dice + cross-entropy on every deep-supervision output
(weights 1/2^i, normalised), poly learning-rate decay (exponent 0.9) over the budget, gradient-norm
clipping at 12. The optimiser is AdamW (lr 1e-3), not nnU-Net's SGD with Nesterov momentum 0.99: that
one is made for nnU-Net's 250,000 iterations, and in this budget it learned the liver only (DSC 0 on both
kidneys and the spleen; the comparison is in docs/experiments.md, "Benchmark baselines"). With
`config.bf16` (the benchmark sets it where the CPU has native bfloat16: AMX / AVX-512 BF16) the forward
pass runs in bfloat16 autocast (weights, optimiser and loss stay float32): a step takes about half the
time there; elsewhere torch emulates bfloat16 and a step would take about 30 times longer, so it runs in
float32 (timings in docs/experiments.md). `config.train_device="cuda"` trains on a GPU (batches are drawn
on the CPU); the weights are saved for the CPU, where the benchmark runs them. The budget is a
number of steps, so a second training with the same settings and thread count gives the same weights
bit for bit (learning rate, sampled slices and augmentation depend on the step only; a resumed
training continues the same streams).
A wall-clock budget (`minutes`, no `max_steps`) is available but gives a different network each time.
Slices are drawn from the organs' slice range (+-3 slices). Augmentation is CrossMR's
(`CrossMRLib.model.augment.PairAugmenter`), so both see the same augmentation: with probability 0.5 the
target-side contrast changes, else the light reference-side ones; the shared affine (p 0.7) and the
small extra affine (p 0.7), without left-right flips (they would swap the kidneys for a network that
sees no scribbles). Resumable: `last.pt` every few minutes.
"""

from __future__ import annotations

import json
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from monai.losses import DiceCELoss

from CrossMRLib.model.augment import PairAugmenter, warp
from CrossMRLib.model.checkpoint import load_checkpoint, save_checkpoint
from CrossMRLib.model.training import backward_step
from CrossMRLib.organs import MAX_LABEL
from CrossMRLib.scribbles.synth import stroke_in_mask

from .orient import display_orientation
from .unet import UNetConfig, build_unet, save_unet

CHECKPOINT_MINUTES = 3.0


@dataclass
class TrainVolume:
    """One training volume at patch size: images (K, S, S) float32 in [0, 1], labels (K, S, S) uint8."""

    name: str
    images: np.ndarray
    labels: np.ndarray
    spacing: tuple[float, float]  # (row, column) mm of a patch pixel


def train_volume(volume, contrast: str) -> TrainVolume:
    """One contrast of a `CrossMRLib.model.data.Volume`, in the display orientation the U-Net sees at
    inference (`orient.py`): without it, generated studies stored RAS, LPS or LAS put the right kidney on
    either side of the image."""
    if contrast not in volume.geometry:
        raise ValueError(f"{volume.name}: no geometry for {contrast!r}, so its orientation is unknown")
    turn = display_orientation(volume.geometry[contrast][0])
    return TrainVolume(volume.name, turn.apply(volume.images[contrast]), turn.apply(volume.labels[contrast]),
                       turn.spacing(volume.spacing))


class SliceSampler:
    """Seeded augmented training slices: (C, S, S) input and (1, S, S) labels."""

    def __init__(self, volumes: list[TrainVolume], config: UNetConfig) -> None:
        if not volumes:
            raise ValueError("no training volumes for the U-Net")
        self.volumes, self.config = volumes, config
        self.rng = np.random.default_rng(config.seed)
        self.augment = PairAugmenter(config.seed)
        self.ranges = []
        for vol in volumes:
            organ = np.flatnonzero(vol.labels.reshape(len(vol.labels), -1).any(1))
            low, high = (0, len(vol.labels) - 1) if organ.size == 0 else (int(organ[0]), int(organ[-1]))
            self.ranges.append((max(low - 3, 0), min(high + 3, len(vol.labels) - 1)))

    def sample(self) -> tuple[torch.Tensor, torch.Tensor]:
        i = int(self.rng.integers(len(self.volumes)))
        vol, (low, high) = self.volumes[i], self.ranges[i]
        k = int(self.rng.integers(low, high + 1))
        image, labels = vol.images[k].astype(np.float32), vol.labels[k]
        if self.rng.random() < 0.5:
            image = self.augment.target_intensity(image, labels)
        else:
            image = self.augment.reference_intensity(image)
        img_t, lab_t = torch.from_numpy(image)[None], torch.from_numpy(labels.astype(np.int64))
        if self.rng.random() < 0.7:
            affine, _, _, field = self.augment.geometry(img_t, lab_t, shared=True)
            img_t, lab_t = warp(img_t, lab_t, affine, field=field)
        channels = [img_t]
        if self.config.scribble_channels:
            channels.append(self._scribbles(lab_t.numpy(), vol.spacing))
        if self.rng.random() < 0.7:  # carried scribbles never sit exactly where the target organ is
            affine, _, _, _ = self.augment.geometry(img_t, lab_t, shared=False)
            channels[0], lab_t = warp(channels[0], lab_t, affine)
        return torch.cat(channels), lab_t[None]

    def _scribbles(self, labels: np.ndarray, spacing: tuple[float, float]) -> torch.Tensor:
        planes = torch.zeros(MAX_LABEL, *labels.shape)
        if self.rng.random() < 0.25:  # slices without scribbles (sparse use)
            return planes
        for organ in range(1, MAX_LABEL + 1):
            mask = labels == organ
            if mask.sum() >= 3 and self.rng.random() < 0.85:
                planes[organ - 1] = torch.from_numpy(stroke_in_mask(mask, self.rng, spacing).astype(np.float32))
        return planes

    def batch(self, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        parts = [self.sample() for _ in range(size)]
        return torch.stack([p[0] for p in parts]), torch.stack([p[1] for p in parts])


def supervision_weights(heads: int) -> torch.Tensor:
    """nnU-Net's deep-supervision weights 1/2^i, normalised to sum 1."""
    weights = torch.tensor([0.5 ** i for i in range(heads)])
    return weights / weights.sum()


def _progress(config: UNetConfig, step: int, elapsed: float) -> float:
    """Fraction of the budget used: by steps when there is a step budget (reproducible), else by time."""
    if config.max_steps:
        return step / config.max_steps
    return elapsed / (config.minutes * 60.0)


def train_unet(config: UNetConfig, volumes: list[TrainVolume], out_dir: Path,
               log: Callable[[str], None] = print, progress: Callable[[float], None] | None = None,
               checkpoint_minutes: float = CHECKPOINT_MINUTES, meta_extra: dict | None = None) -> Path:
    """Train (or resume, or reuse) the U-Net of `config`; returns the path of its weights (`unet.pt`).

    `last.pt` is written after a step once `checkpoint_minutes` have passed since the previous one;
    `meta_extra` is stored with the weights' metadata (e.g. how the training was run)."""
    if not config.minutes and not config.max_steps:
        raise ValueError("a U-Net needs a time (minutes) or step budget")
    out = Path(out_dir)
    weights = out / "unet.pt"
    if weights.exists():
        return weights
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)
    device = torch.device(config.train_device)
    model = build_unet(config).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    sampler = SliceSampler(volumes, config)
    step, elapsed, history = 0, 0.0, []
    ckpt = out / "last.pt"
    if ckpt.exists():
        step, elapsed, history = load_checkpoint(ckpt, model, optimizer, sampler)
        log(f"{config.row_name}: resumed at step {step} ({elapsed / 60:.1f} min)")
    loss_fn = DiceCELoss(to_onehot_y=True, softmax=True, batch=True)
    start, last_ckpt, window = time.time() - elapsed, time.time(), []
    while step == 0 or _progress(config, step, time.time() - start) < 1.0:
        fraction = min(_progress(config, step, time.time() - start), 1.0)
        for group in optimizer.param_groups:
            group["lr"] = config.lr * (1.0 - fraction) ** 0.9
        with warnings.catch_warnings():  # MONAI warns about blank slices it leaves unchanged
            warnings.simplefilter("ignore", UserWarning)
            x, y = sampler.batch(config.batch)
        x, y = x.to(device), y.to(device)
        model.train()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=config.bf16):  # fp32 weights and loss
            outputs = model(x).float()  # (B, heads, C, S, S)
        weights_ds = supervision_weights(outputs.shape[1])
        loss = sum(w * loss_fn(outputs[:, i], y) for i, w in enumerate(weights_ds))
        backward_step(loss, model, optimizer, max_norm=12.0)
        step += 1
        window.append(float(loss.detach()))
        if step % 10 == 0:
            history.append({"step": step, "loss": float(np.mean(window))})
            window = []
        if time.time() - last_ckpt >= checkpoint_minutes * 60:
            save_checkpoint(ckpt, model, optimizer, step, time.time() - start, sampler, history)
            last_ckpt = time.time()
        if progress is not None:
            progress(min(_progress(config, step, time.time() - start), 1.0))
    elapsed = time.time() - start
    meta = {"steps": step, "minutes": round(elapsed / 60, 2), "volumes": [v.name for v in volumes],
            "history": history, "config": asdict(config), **(meta_extra or {})}
    save_unet(model, config, weights, meta)
    (out / "meta.json").write_text(json.dumps(meta, indent=1))
    ckpt.unlink(missing_ok=True)
    log(f"{config.row_name}: {step} steps in {elapsed / 60:.1f} min")
    return weights

