"""Visual sampler: per organ, scribble points -> bilinearly sampled reference features + positional encoding."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .posenc import sine_encoding


def choose_points(scribbles: torch.Tensor, num_points: int,
                  generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Pick `num_points` scribble pixels per (sample, organ).

    `scribbles` is (B, O, H, W) bool. Returns normalised (x, y) coordinates (B, O, P, 2) and `valid`
    (B, O), False where an organ has no scribble (its coordinates are then the image centre).
    With a generator the points are random (training); without one they are evenly spaced along the
    scribble pixels in raster order, so inference is deterministic.
    """
    device = scribbles.device
    scribbles = scribbles.cpu()  # the per-organ picks loop in Python (and the generator is a CPU one)
    b, o, h, w = scribbles.shape
    coords = torch.full((b, o, num_points, 2), 0.5)
    valid = scribbles.flatten(2).any(-1)
    flat = scribbles.flatten(2)
    for bi in range(b):
        for oi in range(o):
            if not valid[bi, oi]:
                continue
            idx = flat[bi, oi].nonzero().squeeze(1)
            if generator is not None:
                pick = idx[torch.randint(len(idx), (num_points,), generator=generator)]
            else:
                pick = idx[torch.linspace(0, len(idx) - 1, num_points).round().long()]
            coords[bi, oi, :, 0] = ((pick % w).float() + 0.5) / w
            coords[bi, oi, :, 1] = ((pick // w).float() + 0.5) / h
    return coords.to(device), valid.to(device)


class VisualSampler(nn.Module):
    """Turns reference features at each decoder level into per-organ visual tokens.

    Tokens per organ: one per sampled point (feature at the point + encoding of its position) plus one
    mean of the features under the whole scribble (at the scribble's centroid).
    """

    def __init__(self, dim: int, num_levels: int) -> None:
        super().__init__()
        self.dim = dim
        self.proj = nn.ModuleList(nn.Linear(dim, dim) for _ in range(num_levels))
        self.pos = nn.Linear(dim, dim)
        self.mean_embed = nn.Parameter(torch.zeros(dim))

    def forward(self, features: list[torch.Tensor], scribbles: torch.Tensor, coords: torch.Tensor
                ) -> list[torch.Tensor]:
        """features: per level (B, D, h, w); scribbles (B, O, H, W) bool; coords (B, O, P, 2).

        Returns per level tokens (B, O, P + 1, D).
        """
        b, o, p, _ = coords.shape
        weights = scribbles.float()
        area = weights.flatten(2).sum(-1).clamp(min=1.0)  # (B, O)
        h, w = scribbles.shape[-2:]
        ys = (torch.arange(h, dtype=torch.float32, device=weights.device) + 0.5) / h
        xs = (torch.arange(w, dtype=torch.float32, device=weights.device) + 0.5) / w
        centroid = torch.stack([(weights.sum(-2) * xs).sum(-1) / area, (weights.sum(-1) * ys).sum(-1) / area], -1)
        all_coords = torch.cat([coords, centroid[:, :, None]], dim=2)  # (B, O, P+1, 2)
        pos = self.pos(sine_encoding(all_coords, self.dim))
        grid = (coords * 2 - 1).reshape(b, o * p, 1, 2)
        tokens = []
        for level, feat in enumerate(features):
            sampled = F.grid_sample(feat, grid, mode="bilinear", align_corners=False)  # (B, D, O*P, 1)
            sampled = sampled[..., 0].transpose(1, 2).reshape(b, o, p, -1)
            small = F.interpolate(weights, size=feat.shape[-2:], mode="area")  # (B, O, h, w)
            denom = small.flatten(2).sum(-1).clamp(min=1e-6)[..., None]
            mean = torch.einsum("bohw,bdhw->bod", small, feat) / denom + self.mean_embed
            level_tokens = torch.cat([sampled, mean[:, :, None]], dim=2)
            tokens.append(self.proj[level](level_tokens) + pos)
        return tokens
