"""Paired augmentation: one labelled slice -> a lightly changed reference and a target-like other contrast.

Intensity (MONAI): the target gets a random chain of contrast changes (random monotone remap via
histogram shift, non-monotone remap, per-organ contrast changes, inversion, gamma, scaling), bias field,
Gibbs ringing, Gaussian/Rician noise, blur and DWI-like down-sampling; the reference only light noise,
gamma and bias. Geometry (torch): a shared random flip/affine for both, with a smooth random deformation
(SynthSeg's nonlinear spatial augmentation: organs of shapes and extents no training subject has), plus a
small extra shift, scale and rotation of the target only, because paired slices of real series never line
up exactly.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from monai.data import get_track_meta, set_track_meta
from monai.transforms import (IntensityRemap, RandAdjustContrast, RandBiasField, RandGaussianNoise,
                              RandGaussianSmooth, RandGibbsNoise, RandHistogramShift, RandIntensityRemap, RandRicianNoise,
                              RandSimulateLowResolution)


DEFORM_SHARE = 0.7  # of the shared geometric changes, those with a smooth deformation
DEFORM_STD = 0.08  # largest std of the control points' displacements per unit of their spacing (image = 2 units)


def _rescale(image: np.ndarray) -> np.ndarray:
    low, high = np.percentile(image, [0.5, 99.5])
    if high - low < 1e-6:
        return np.zeros_like(image, dtype=np.float32)
    return np.clip((image - low) / (high - low), 0.0, 1.0).astype(np.float32)


class SeededIntensityRemap(RandIntensityRemap):
    """MONAI's RandIntensityRemap, drawing its noise from its own seeded stream.

    MONAI's version hands each call to a new `IntensityRemap`, whose random stream is the unseeded one shared
    by every MONAI transform in the process, so the same seed gave a different augmentation each run.
    """

    def __call__(self, img: torch.Tensor) -> torch.Tensor:
        self.randomize(None)
        img = torch.as_tensor(img)
        if not self._do_transform:
            return img
        channels = list(img) if self.channel_wise else [img]
        out = []
        for channel in channels:
            remap = IntensityRemap(self.kernel_size, self.R.choice([-self.slope, self.slope]))
            remap.set_random_state(state=self.R)
            out.append(remap(channel))
        return torch.stack(out) if self.channel_wise else out[0]


class PairAugmenter:
    """Seeded paired augmentation; call `target_intensity`, `reference_intensity`, then `geometry`."""

    def __init__(self, seed: int = 0, strength: float = 1.0) -> None:
        self.rng = np.random.default_rng(seed)
        self.strength = strength
        self.transforms = {
            "histogram": RandHistogramShift(num_control_points=(4, 10), prob=1.0),
            "remap": SeededIntensityRemap(prob=1.0, kernel_size=30, slope=0.7),
            "gamma": RandAdjustContrast(prob=1.0, gamma=(0.4, 2.5)),
            "bias": RandBiasField(prob=1.0, coeff_range=(0.1, 0.5)),
            "gibbs": RandGibbsNoise(prob=1.0, alpha=(0.1, 0.6)),
            "noise": RandGaussianNoise(prob=1.0, std=0.06),
            "rician": RandRicianNoise(prob=1.0, std=0.08, relative=False),
            "blur": RandGaussianSmooth(prob=1.0, sigma_x=(0.4, 1.5), sigma_y=(0.4, 1.5)),
            "lowres": RandSimulateLowResolution(prob=1.0, zoom_range=(0.3, 0.7), upsample_mode="bilinear"),
            "ref_gamma": RandAdjustContrast(prob=1.0, gamma=(0.8, 1.25)),
            "ref_bias": RandBiasField(prob=1.0, coeff_range=(0.0, 0.15)),
            "ref_noise": RandGaussianNoise(prob=1.0, std=0.02),
        }
        for i, t in enumerate(self.transforms.values()):
            t.set_random_state(seed=int(seed) * 101 + i)

    def _apply(self, name: str, image: np.ndarray) -> np.ndarray:
        tracking = get_track_meta()
        set_track_meta(False)  # plain tensors: the same values without MetaTensor bookkeeping (~15 % of drawing)
        try:
            out = self.transforms[name](image[None])
        finally:
            set_track_meta(tracking)
        out = out.numpy() if isinstance(out, torch.Tensor) else np.asarray(out)
        return out[0].astype(np.float32)

    def _chance(self, p: float) -> bool:
        return bool(self.rng.random() < min(1.0, p * self.strength))

    def organ_contrast(self, image: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """Give each organ (and the background) its own random intensity change, with soft borders."""
        out = image.copy()
        for organ in np.unique(labels):
            if organ == 0 or not self._chance(0.6):
                continue
            soft = torch.from_numpy((labels == organ).astype(np.float32))[None, None]
            soft = F.avg_pool2d(soft, 5, 1, 2)[0, 0].numpy()
            target = self.rng.uniform(0.05, 0.95)
            mix = self.rng.uniform(0.3, 1.0)
            shifted = image + mix * (target - float(image[labels == organ].mean()))
            out = out * (1 - soft) + shifted * soft
        return out

    def target_intensity(self, image: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """A target-like image of another 'contrast' (float32 (H, W) in [0, 1])."""
        x = image.astype(np.float32)
        if self._chance(0.35):
            x = self.organ_contrast(x, labels)
        if self._chance(0.5):
            x = self._apply("histogram", x)  # random monotone remap
        if self._chance(0.4) and float(x.max() - x.min()) > 1e-3:
            levels = np.round(_rescale(x) * 127.0) / 127.0  # remap a 128-level curve, not every value
            x = _rescale(self._apply("remap", levels.astype(np.float32)))  # random non-monotone remap
        if self._chance(0.25):
            x = 1.0 - x  # T1 <-> T2-like inversion
        if self._chance(0.5):
            x = self._apply("gamma", np.clip(x, 0, 1))
        if self._chance(0.4):
            x = self._apply("bias", x)
        if self._chance(0.25):
            x = self._apply("lowres", x)  # DWI-like resolution
        if self._chance(0.25):
            x = self._apply("blur", x)
        if self._chance(0.2):
            x = self._apply("gibbs", x)
        if self._chance(0.35):
            x = self._apply("noise" if self.rng.random() < 0.5 else "rician", x)
        return _rescale(x)

    def reference_intensity(self, image: np.ndarray) -> np.ndarray:
        """A lightly changed reference (gamma, bias, noise)."""
        x = image.astype(np.float32)
        if self._chance(0.3):
            x = self._apply("ref_gamma", np.clip(x, 0, 1))
        if self._chance(0.3):
            x = self._apply("ref_bias", x)
        if self._chance(0.3):
            x = self._apply("ref_noise", x)
        return _rescale(x)

    def _affine(self, shift: float, scale: tuple[float, float], degrees: float) -> np.ndarray:
        angle = math.radians(self.rng.uniform(-degrees, degrees))
        s = self.rng.uniform(*scale) if self._chance(1.0) else 1.0
        aspect = self.rng.uniform(0.95, 1.05)
        t = self.rng.uniform(-shift, shift, size=2)
        rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
        return np.concatenate([rot @ np.diag([1 / s * aspect, 1 / s / aspect]), t[:, None]], axis=1)

    def deformation(self, shape: tuple[int, int]) -> torch.Tensor:
        """A smooth random displacement field (H, W, 2) in normalised coordinates: Gaussian displacements on a
        coarse grid of 3-6 control points a side, upsampled bicubically (std up to `DEFORM_STD` times the
        control spacing, small enough that the field does not fold)."""
        n = int(self.rng.integers(3, 7))
        std = self.rng.uniform(0.0, DEFORM_STD) * 2.0 / (n - 1)  # finer grids move less: no fold-over
        coarse = torch.from_numpy(self.rng.normal(0.0, std, (1, 2, n, n)).astype(np.float32))
        field = F.interpolate(coarse, size=tuple(shape), mode="bicubic", align_corners=True)[0]
        return field.permute(1, 2, 0).contiguous()

    def geometry(self, images: torch.Tensor, labels: torch.Tensor,
                 shared: bool) -> tuple[np.ndarray, bool, bool, torch.Tensor | None]:
        """Draw one geometric change: a (2, 3) affine, flips and a deformation field (or None). `shared`: large,
        deformed (both images) or small (target-only offset). Apply with `warp`."""
        if shared:
            field = self.deformation(tuple(images.shape[-2:])) if self._chance(DEFORM_SHARE) else None
            return self._affine(0.08, (0.85, 1.2), 12.0), self._chance(0.25), self._chance(0.1), field
        return self._affine(0.05, (0.92, 1.08), 8.0), False, False, None


def warp(image: torch.Tensor, labels: torch.Tensor, affine: np.ndarray, flip_x: bool = False,
         flip_y: bool = False, field: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Apply an affine (output -> input, normalised coords) plus a displacement `field` (H, W, 2) and flips
    to (1, H, W) image and (H, W) labels."""
    theta = torch.as_tensor(affine, dtype=torch.float32)[None]
    grid = F.affine_grid(theta, [1, 1, *image.shape[-2:]], align_corners=False)
    if field is not None:
        grid = grid + field[None]
    out = F.grid_sample(image[None], grid, mode="bilinear", padding_mode="zeros", align_corners=False)[0]
    lab = F.grid_sample(labels[None, None].float(), grid, mode="nearest", padding_mode="zeros",
                        align_corners=False)[0, 0].to(labels.dtype)
    dims = ([-1] if flip_x else []) + ([-2] if flip_y else [])
    if dims:
        out, lab = out.flip(dims), lab.flip(dims)
    return out, lab
