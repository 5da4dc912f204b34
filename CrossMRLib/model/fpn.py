"""Light feature pyramid: multi-scale decoder features (strides 32, 16, 8) and stride-2 mask features."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _conv(cin: int, cout: int, k: int = 3, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, k // 2, bias=False), nn.GroupNorm(8, cout), nn.GELU())


class FPN(nn.Module):
    """Top-down pyramid over the encoder stages, plus a shallow full-resolution branch for sharp masks."""

    def __init__(self, in_channels: list[int], dim: int) -> None:
        super().__init__()
        self.lateral = nn.ModuleList(nn.Conv2d(c, dim, 1) for c in in_channels)
        self.smooth = nn.ModuleList(_conv(dim, dim) for _ in in_channels)
        self.shallow = nn.Sequential(_conv(1, dim // 2, 3, 2), _conv(dim // 2, dim))
        self.mask_out = nn.Sequential(_conv(dim, dim), nn.Conv2d(dim, dim, 1))

    @property
    def mask_projection(self) -> nn.Conv2d:
        """The last (1 x 1) convolution of the mask features: linear, so inference folds it into the mask
        embeddings instead of running it on every stride-2 pixel (`project=False`)."""
        return self.mask_out[-1]

    def forward(self, image: torch.Tensor, stages: list[torch.Tensor], mask_rows: slice | None = slice(None),
                project: bool = True) -> tuple[list[torch.Tensor], torch.Tensor | None]:
        """Returns ([stride 32, 16, 8] features, stride-2 mask features), all with `dim` channels.

        Mask features are computed only for the batch rows `mask_rows` (None: none), since only target
        slices need them; a reference slice only gives visual tokens from the decoder levels.
        `project=False` leaves out the mask features' last convolution (`mask_projection`)."""
        outs: list[torch.Tensor] = []
        top = None
        finest = 0 if mask_rows is not None else 1  # the stride-4 level only feeds the mask features
        for i in reversed(range(finest, len(stages))):
            x = self.lateral[i](stages[i])
            if top is not None:
                x = x + F.interpolate(top, size=x.shape[-2:], mode="bilinear", align_corners=False)
            top = self.smooth[i](x)
            outs.append(top)
        # outs: strides 32, 16, 8, 4
        if mask_rows is None:
            return outs[:3], None
        shallow = self.shallow(image[mask_rows])
        up = F.interpolate(outs[-1][mask_rows], size=shallow.shape[-2:], mode="bilinear", align_corners=False)
        up = up.contiguous()  # the pyramid runs channels-last, the shallow branch NCHW: adding mixed layouts is slow
        mask_features = self.mask_out[0](shallow + up)
        if project:
            mask_features = self.mask_projection(mask_features)
        return outs[:3], mask_features
