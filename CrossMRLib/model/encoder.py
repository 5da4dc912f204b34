"""Image encoder: a small single-channel FocalNet (timm), no pretrained weights."""

from __future__ import annotations

import torch
from torch import nn
from timm.models.focalnet import FocalNet


class Encoder(nn.Module):
    """FocalNet returning its four stage outputs at strides 4, 8, 16 and 32."""

    def __init__(self, embed_dim: int = 32, depths: tuple[int, ...] = (1, 1, 2, 1)) -> None:
        super().__init__()
        self.net = FocalNet(in_chans=1, num_classes=0, embed_dim=embed_dim, depths=tuple(depths),
                            drop_path_rate=0.0)
        self.net.head = nn.Identity()
        self.net.norm = nn.Identity()  # the classifier's final norm: unused by the stage outputs
        self.channels = [embed_dim * 2 ** i for i in range(len(depths))]

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        """(B, 1, H, W) in [0, 1] -> [(B, C_i, H / 2^(i+2), W / 2^(i+2))] for the four stages."""
        return self.net.forward_intermediates((image - 0.5) * 4.0, intermediates_only=True)
