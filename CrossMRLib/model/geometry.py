"""In-plane alignment of slices from different series: series differ in field of view, pixel size and
in-plane orientation (flips), so a target slice is resampled into its reference slice's frame before
the network sees the pair, and predictions are mapped back to the target grid."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def frame_theta(out_ijk_to_ras: np.ndarray, out_shape_ji: tuple[int, int], out_k: float,
                in_ijk_to_ras: np.ndarray, in_shape_ji: tuple[int, int]) -> np.ndarray:
    """(2, 3) affine for `F.affine_grid` (align_corners=False): normalised (x, y) of the output slice
    (slice `out_k` of the output series) -> normalised (x, y) in the input series' in-plane frame."""
    m = np.linalg.inv(np.asarray(in_ijk_to_ras, float)) @ np.asarray(out_ijk_to_ras, float)
    (jo, io), (ji, ii) = out_shape_ji, in_shape_ji
    # normalised -> index in the output frame: i = (x + 1) / 2 * I - 0.5
    to_index = np.array([[io / 2, 0, io / 2 - 0.5], [0, jo / 2, jo / 2 - 0.5], [0, 0, 1]])
    # index in the input frame -> normalised: x = (i + 0.5) / I * 2 - 1
    to_norm = np.array([[2 / ii, 0, 1 / ii - 1], [0, 2 / ji, 1 / ji - 1], [0, 0, 1]])
    plane = np.array([[m[0, 0], m[0, 1], m[0, 2] * out_k + m[0, 3]],
                      [m[1, 0], m[1, 1], m[1, 2] * out_k + m[1, 3]], [0, 0, 1]])
    return (to_norm @ plane @ to_index)[:2]


def resample(images: torch.Tensor, thetas: np.ndarray | torch.Tensor, size: tuple[int, int],
             mode: str = "bilinear") -> torch.Tensor:
    """Sample (B, C, H, W) images on output grids of `size` given (B, 2, 3) thetas (zeros outside)."""
    theta = torch.as_tensor(np.asarray(thetas), dtype=torch.float32, device=images.device)
    grid = F.affine_grid(theta, [images.shape[0], images.shape[1], *size], align_corners=False)
    return F.grid_sample(images.float(), grid, mode=mode, padding_mode="zeros", align_corners=False)


def is_identity(theta: np.ndarray, tol: float = 1e-4) -> bool:
    return bool(np.abs(np.asarray(theta) - np.array([[1, 0, 0], [0, 1, 0]])).max() < tol)
