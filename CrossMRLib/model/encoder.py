"""Image encoder: a small single-channel FocalNet (`focalnet.py`), no pretrained weights."""

from __future__ import annotations

import torch
from torch import nn

from .focalnet import FocalNet


class Encoder(nn.Module):
    """FocalNet returning its four stage outputs at strides 4, 8, 16 and 32."""

    def __init__(self, embed_dim: int = 32, depths: tuple[int, ...] = (1, 1, 2, 1)) -> None:
        super().__init__()
        self.net = FocalNet(in_chans=1, embed_dim=embed_dim, depths=tuple(depths))
        self.channels = [embed_dim * 2 ** i for i in range(len(depths))]

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        """(B, 1, H, W) in [0, 1] -> [(B, C_i, H / 2^(i+2), W / 2^(i+2))] for the four stages."""
        return self.net.forward_intermediates((image - 0.5) * 4.0)
