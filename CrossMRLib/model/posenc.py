"""Sine positional encoding of normalised (x, y) positions, shared by visual tokens and target features."""

from __future__ import annotations

import math

import torch


def sine_encoding(coords: torch.Tensor, dim: int) -> torch.Tensor:
    """(..., 2) positions in [0, 1] (x, y) -> (..., dim) sine/cosine features (dim divisible by 4)."""
    quarter = dim // 4
    freqs = (2.0 ** torch.arange(quarter, dtype=coords.dtype, device=coords.device)) * math.pi
    parts = []
    for axis in range(2):
        angles = coords[..., axis:axis + 1] * freqs
        parts += [angles.sin(), angles.cos()]
    return torch.cat(parts, dim=-1)


def grid_coords(height: int, width: int, device: torch.device | None = None) -> torch.Tensor:
    """(H * W, 2) normalised (x, y) centres of a feature map's cells, row-major."""
    ys = (torch.arange(height, device=device, dtype=torch.float32) + 0.5) / height
    xs = (torch.arange(width, device=device, dtype=torch.float32) + 0.5) / width
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=-1)
