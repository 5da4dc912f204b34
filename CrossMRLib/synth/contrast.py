"""Domain-randomised MR contrasts from tissue maps (in the spirit of SynthSeg, Billot et al. 2023).

A `RandomContrast` draws one random "sequence": per tissue class a mixture of 1-3 Gaussian intensity
components (not one mean), a label-aware texture amplitude, and whether fat is suppressed (with a spatially
failing suppression). `render` turns a tissue slice into an image with that contrast plus a random
acquisition: bias field, partial volume (blur, low resolution along one axis, blending of the neighbouring
slices through the slice thickness), motion ghosts along the phase-encoding axis, Rician noise and gamma.
Two independent draws give the reference and target of a training pair; the organ labels follow from the
tissue codes, so image and labels always agree.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from ..phantom.tissues import CODE, NUM_TISSUES

FAT_CODES = (CODE["subcutaneous fat"], CODE["visceral fat"], CODE["renal sinus fat"])
BLOOD_CODES = (CODE["aorta"], CODE["vein"], CODE["hepatic vessel"])
FLUID_CODES = (CODE["urine"], CODE["CSF"], CODE["bile"], CODE["GI fluid"], CODE["ureter"])
DARK_CODES = (CODE["air"], CODE["gas"], CODE["cortical bone"])  # no protons: dark in every real sequence


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], scale_px: float) -> np.ndarray:
    """Unit-std smooth random field with features of about `scale_px` pixels (low-res noise, bicubic upsampled)."""
    coarse = tuple(max(2, int(np.ceil(n / max(scale_px, 1.0))) + 1) for n in shape)
    low = torch.from_numpy(rng.normal(size=coarse).astype(np.float32))[None, None]
    field = F.interpolate(low, size=tuple(shape), mode="bicubic", align_corners=True)[0, 0].numpy()
    return (field - field.mean()) / (field.std() + 1e-6)


class RandomContrast:
    """One random contrast: per tissue code intensities (a mixture), texture and fat suppression."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        means = rng.uniform(0.0, 1.0, NUM_TISSUES)
        self._link(means, FAT_CODES, 0.8, 0.05)  # fat looks alike wherever it is, most of the time
        self._link(means, BLOOD_CODES, 0.5, 0.08)
        self._link(means, FLUID_CODES, 0.5, 0.08)
        dark = rng.random() < 0.9
        for code in DARK_CODES:
            means[code] = rng.uniform(0.0, 0.08) if dark else means[code]
        self.fat_suppressed = bool(rng.random() < 0.35)
        if self.fat_suppressed:
            self.fat_unsuppressed = means[list(FAT_CODES)].copy()
            means[list(FAT_CODES)] = rng.uniform(0.0, 0.15)
        self.components = [means[c] + rng.normal(0.0, 0.08, int(rng.integers(1, 4))) for c in range(NUM_TISSUES)]
        self.spread = rng.uniform(0.0, 0.04, NUM_TISSUES)  # per-pixel spread inside a component
        self.texture = rng.uniform(0.0, 0.12, NUM_TISSUES)  # amplitude of the smooth within-tissue texture
        self.texture_scale = rng.uniform(2.0, 8.0)  # pixels
        self.means = means

    def _link(self, means: np.ndarray, codes: tuple[int, ...], p: float, jitter: float) -> None:
        if self.rng.random() < p:
            means[list(codes)] = means[codes[0]] + self.rng.normal(0.0, jitter, len(codes))

    def tissue_image(self, tissue: np.ndarray) -> np.ndarray:
        """Noise-free intensities of one (H, W) tissue slice: mixtures, texture, failing fat suppression."""
        rng, shape = self.rng, tissue.shape
        mixing = smooth_noise(rng, shape, self.texture_scale * 1.5)
        texture = smooth_noise(rng, shape, self.texture_scale)
        grain = rng.normal(size=shape).astype(np.float32)
        out = np.zeros(shape, np.float32)
        for code in np.unique(tissue):
            inside = tissue == code
            comps = self.components[code]
            if len(comps) == 1:
                value = np.full(int(inside.sum()), comps[0], np.float32)
            else:  # components occupy regions of a smooth field: patchy, not salt-and-pepper
                cuts = np.quantile(mixing[inside], np.linspace(0, 1, len(comps) + 1)[1:-1])
                value = comps[np.digitize(mixing[inside], cuts)].astype(np.float32)
            value = value + self.texture[code] * texture[inside] + self.spread[code] * grain[inside]
            out[inside] = value
        if self.fat_suppressed:
            failure = np.clip(smooth_noise(rng, shape, shape[0] / 3.0) * 0.8 - rng.uniform(0.3, 1.5), 0.0, 1.0)
            for code, unsuppressed in zip(FAT_CODES, self.fat_unsuppressed):
                inside = tissue == code
                out[inside] += failure[inside] * (unsuppressed - out[inside])
        return np.clip(out, 0.0, None)


def _acquire(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Resolution, bias, ghosting, noise and gamma on a noise-free slice; rescaled to [0, 1]."""
    shape = image.shape
    phase_axis = int(rng.integers(2))
    if rng.random() < 0.4:  # coarser acquired resolution along the phase-encoding axis, then interpolated
        factor = rng.uniform(1.3, 2.5)
        small = ndimage.zoom(image, [1.0 / factor if a == phase_axis else 1.0 for a in range(2)], order=1)
        image = ndimage.zoom(small, [n / s for n, s in zip(shape, small.shape)], order=1)[: shape[0], : shape[1]]
    sigma = rng.uniform(0.0, 1.0, 2)
    if sigma.max() > 0.2:
        image = ndimage.gaussian_filter(image, sigma)
    bias = np.exp(rng.uniform(0.0, 0.6) * smooth_noise(rng, shape, shape[0] / rng.uniform(1.5, 4.0)))
    image = image * bias.astype(np.float32)
    if rng.random() < 0.25:  # respiratory ghosts: faint replicas shifted along the phase-encoding axis
        ghosts = np.zeros_like(image)
        period = int(rng.integers(shape[phase_axis] // 8, shape[phase_axis] // 2))
        for n in (1, 2):
            amp = rng.uniform(0.02, 0.12) / n
            ghosts += amp * (np.roll(image, n * period, phase_axis) + np.roll(image, -n * period, phase_axis))
        image = image + ghosts
    scale = float(np.percentile(image, 99.5)) or 1.0
    noise = rng.uniform(0.003, 0.06) * scale
    image = np.hypot(image + rng.normal(0.0, noise, shape), rng.normal(0.0, noise, shape))  # Rician magnitude
    low, high = np.percentile(image, [0.5, 99.5])
    image = np.clip((image - low) / max(high - low, 1e-6), 0.0, 1.0)
    if rng.random() < 0.5:
        image = image ** np.exp(rng.normal(0.0, 0.3))
    return image.astype(np.float32)


def render(tissues: np.ndarray, index: int, contrast: RandomContrast, rng: np.random.Generator) -> np.ndarray:
    """Slice `index` of a (K, H, W) tissue stack in `contrast`, float32 (H, W) in [0, 1]; with probability 0.4
    the neighbouring slices leak in (partial volume through a thick slice)."""
    image = contrast.tissue_image(tissues[index])
    if rng.random() < 0.4 and len(tissues) > 1:
        weight = rng.uniform(0.05, 0.3)
        for k in (index - 1, index + 1):
            if 0 <= k < len(tissues):
                image = (1 - weight) * image + weight * contrast.tissue_image(tissues[k])
    return _acquire(image, rng)
