"""GELU whose backward pass reads its input and gradient in one memory layout.

The encoder's activations come out of the stem convolution in channels-last layout (a one-channel image is
both NCHW- and NHWC-contiguous, and oneDNN picks NHWC), while most gradients flowing back into them are
NCHW. `aten::gelu_backward` then takes a strided path about 8x slower than with matching layouts (about 5 %
of a CPU training step on an AVX2 CPU, docs/architecture.md). `LayoutGELU` computes the same values and
the same derivative, with the gradient first put in its input's layout.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _layout(x: torch.Tensor) -> torch.memory_format:
    """The memory format `x` is stored in (channels-last only for 4-D tensors not NCHW-contiguous)."""
    if x.dim() == 4 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last):
        return torch.channels_last
    return torch.contiguous_format


class _LayoutGelu(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        return F.gelu(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        layout = _layout(x)
        x = x.contiguous(memory_format=layout)
        return torch.ops.aten.gelu_backward(grad.to(x.dtype).contiguous(memory_format=layout), x)


class LayoutGELU(nn.GELU):
    """`nn.GELU()` (exact, erf form) with a layout-matched backward pass; no parameters, same state dict."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled() and x.requires_grad:
            return _LayoutGelu.apply(x)
        return F.gelu(x)


def use_layout_gelu(module: nn.Module) -> nn.Module:
    """Replace every exact `nn.GELU` inside `module` by `LayoutGELU` (in place); returns `module`."""
    for name, child in list(module.named_children()):
        if type(child) is nn.GELU and child.approximate == "none":
            setattr(module, name, LayoutGELU())
        else:
            use_layout_gelu(child)
    return module
