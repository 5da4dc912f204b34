"""Preprocessing as in the CrossMR paper: percentile clip, [0, 1] rescale, per-slice resize and back."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

MODEL_SIZE: tuple[int, int] = (256, 256)
LOWER_PERCENTILE = 0.5
UPPER_PERCENTILE = 99.5



def normalize_intensity(array: np.ndarray) -> np.ndarray:
    """Clip a volume to its 0.5th-99.5th percentile and rescale to [0, 1] (float32); what MONAI's
    `ScaleIntensityRange(low, high, 0, 1, clip=True)` does, without importing MONAI (slow) at inference."""
    array = np.asarray(array, dtype=np.float32)
    low, high = np.percentile(array, [LOWER_PERCENTILE, UPPER_PERCENTILE])
    if high <= low:  # constant image: nothing to rescale
        return np.zeros_like(array, dtype=np.float32)
    out = (array - np.float32(low)) / np.float32(high - low)
    return np.clip(out, 0.0, 1.0, out=out).astype(np.float32, copy=False)


def resize_slices(array: np.ndarray, size: tuple[int, int] = MODEL_SIZE, mode: str = "bilinear") -> np.ndarray:
    """Resize every slice of a (K, J, I) array to `size` (bilinear for images, nearest for masks)."""
    return _resize(array, size, mode)


def restore_slices(array: np.ndarray, shape_ji: tuple[int, int], mode: str = "nearest") -> np.ndarray:
    """Resize (K, H, W) model-size slices back to a series' in-plane shape (J, I)."""
    return _resize(array, tuple(shape_ji), mode)


def _resize(array: np.ndarray, size: tuple[int, int], mode: str) -> np.ndarray:
    if mode not in ("bilinear", "nearest"):
        raise ValueError(f"mode must be 'bilinear' or 'nearest', got {mode!r}")
    array = np.asarray(array)
    if array.shape[1:] == tuple(size):
        return array.copy()
    tensor = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))[:, None]
    if mode == "nearest":
        out = F.interpolate(tensor, size=size, mode="nearest-exact")
        return out[:, 0].numpy().astype(array.dtype)
    out = F.interpolate(tensor, size=size, mode="bilinear", align_corners=False, antialias=True)
    return out[:, 0].numpy()
