"""FocalNet (Yang et al., "Focal Modulation Networks", NeurIPS 2022), the parts CrossMR's encoder uses.

Adapted from timm's `timm/models/focalnet.py` (Ross Wightman, Apache-2.0; itself from microsoft/FocalNet, MIT):
same modules, parameter names and initialisation, so weights trained with timm's FocalNet load unchanged and
`Testing/test_focalnet.py` checks the outputs against timm's. Kept here because importing timm (and
torchvision through it) took about as long as importing torch, every time a study was segmented. Only the
configuration CrossMR uses is implemented: no classifier head, no final norm, no layer scale, no post-norm,
no overlapping downsampling, no stochastic depth.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of an NCHW tensor."""

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__(channels, eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.layer_norm(x.permute(0, 2, 3, 1), self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class Downsample(nn.Module):
    """Strided (non-overlapping) convolution, then LayerNorm2d."""

    def __init__(self, in_chs: int, out_chs: int, stride: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_chs, out_chs, kernel_size=stride, stride=stride)
        self.norm = LayerNorm2d(out_chs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.proj(x))


class FocalModulation(nn.Module):
    """Query times a gated sum of depthwise-convolved contexts at `focal_level` widths plus a global one."""

    def __init__(self, dim: int, focal_window: int, focal_level: int, focal_factor: int = 2) -> None:
        super().__init__()
        self.focal_level = focal_level
        self.input_split = [dim, dim, focal_level + 1]
        self.f = nn.Conv2d(dim, 2 * dim + focal_level + 1, kernel_size=1)
        self.h = nn.Conv2d(dim, dim, kernel_size=1)
        self.act = nn.GELU()
        self.proj = nn.Conv2d(dim, dim, kernel_size=1)
        self.focal_layers = nn.ModuleList()
        for k in range(focal_level):
            size = focal_factor * k + focal_window
            self.focal_layers.append(nn.Sequential(
                nn.Conv2d(dim, dim, kernel_size=size, groups=dim, padding=size // 2, bias=False), nn.GELU()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, ctx, gates = torch.split(self.f(x), self.input_split, 1)
        ctx_all = 0
        for level, layer in enumerate(self.focal_layers):
            ctx = layer(ctx)
            ctx_all = ctx_all + ctx * gates[:, level:level + 1]
        ctx_all = ctx_all + self.act(ctx.mean((2, 3), keepdim=True)) * gates[:, self.focal_level:]
        return self.proj(q * self.h(ctx_all))


class Mlp(nn.Module):
    """1x1 convolution, GELU, 1x1 convolution."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(dim, hidden, kernel_size=1)
        self.act = nn.GELU()
        self.fc2 = nn.Conv2d(hidden, dim, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class FocalNetBlock(nn.Module):
    """Pre-norm residual focal modulation, then pre-norm residual MLP."""

    def __init__(self, dim: int, mlp_ratio: float, focal_level: int, focal_window: int) -> None:
        super().__init__()
        self.norm1 = LayerNorm2d(dim)
        self.modulation = FocalModulation(dim, focal_window, focal_level)
        self.norm2 = LayerNorm2d(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.modulation(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class FocalNetStage(nn.Module):
    """Optional stride-2 downsampling, then `depth` blocks."""

    def __init__(self, dim: int, out_dim: int, depth: int, downsample: bool, mlp_ratio: float, focal_level: int,
                 focal_window: int) -> None:
        super().__init__()
        self.downsample = Downsample(dim, out_dim, stride=2) if downsample else nn.Identity()
        self.blocks = nn.ModuleList([FocalNetBlock(out_dim, mlp_ratio, focal_level, focal_window)
                                     for _ in range(depth)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.downsample(x)
        for block in self.blocks:
            x = block(x)
        return x


class FocalNet(nn.Module):
    """Stride-4 stem and one stage per entry of `depths` (widths embed_dim x 1, 2, 4, ...)."""

    def __init__(self, in_chans: int = 1, embed_dim: int = 32, depths: tuple[int, ...] = (1, 1, 2, 1),
                 mlp_ratio: float = 4.0, focal_level: int = 2, focal_window: int = 3) -> None:
        super().__init__()
        dims = [embed_dim * 2 ** i for i in range(len(depths))]
        self.stem = Downsample(in_chans, dims[0], stride=4)
        self.layers = nn.Sequential(*[
            FocalNetStage(dims[max(i - 1, 0)], dims[i], depth, i > 0, mlp_ratio, focal_level, focal_window)
            for i, depth in enumerate(depths)])
        self.apply(_init_weights)

    def forward_intermediates(self, x: torch.Tensor) -> list[torch.Tensor]:
        """(B, C, H, W) -> every stage's output, strides 4, 8, 16, ..."""
        x = self.stem(x)
        out = []
        for stage in self.layers:
            x = stage(x)
            out.append(x)
        return out


def trunc_normal_(tensor: torch.Tensor, std: float, bound: float = 2.0) -> torch.Tensor:
    """Normal(0, std) truncated to [-bound, bound] by inverse-CDF sampling, as timm draws it (torch's own
    `nn.init.trunc_normal_` now draws different numbers from the same seed)."""
    with torch.no_grad():
        cdf = lambda v: (1.0 + math.erf(v / math.sqrt(2.0))) / 2.0  # noqa: E731
        low, high = cdf(-bound / std), cdf(bound / std)
        tensor.uniform_(2 * low - 1, 2 * high - 1).erfinv_().mul_(std * math.sqrt(2.0))
        return tensor.clamp_(min=-bound, max=bound)


def _init_weights(module: nn.Module) -> None:
    """timm's FocalNet initialisation (truncated normal, std 0.02; zero biases), applied in the same order."""
    if isinstance(module, (nn.Conv2d, nn.Linear)):
        trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
