"""Exponential moving average of the weights during training (`train.py --ema`): the average of the last
~1/(1-decay) steps is usually steadier than the weights of the last step alone."""

from __future__ import annotations

import copy

import torch


class WeightAverage:
    """A frozen copy of `model` whose floating-point tensors follow the trained ones, `w <- d*w + (1-d)*w_new`.

    The decay ramps up as (1+n)/(10+n) over the first updates (so the random start is forgotten quickly)
    and is capped at `decay`. Integer buffers are copied as they are.
    """

    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"weight-average decay must be between 0 and 1, got {decay}")
        self.decay = decay
        self.updates = 0
        self.model = copy.deepcopy(model).eval()
        for parameter in self.model.parameters():
            parameter.requires_grad_(False)

    def current_decay(self) -> float:
        """The decay the next update uses."""
        return min(self.decay, (1 + self.updates) / (10 + self.updates))

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        """Move the average towards `model`'s current weights."""
        weight = 1.0 - self.current_decay()
        for average, current in zip(self.model.state_dict().values(), model.state_dict().values()):
            if average.is_floating_point():
                average.lerp_(current, weight)
            else:
                average.copy_(current)
        self.updates += 1

    def state_dict(self) -> dict:
        """What a checkpoint keeps to resume the average."""
        return {"decay": self.decay, "updates": self.updates, "weights": self.model.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        """Resume from `state_dict()`; the decay of the running command wins."""
        self.updates = int(state["updates"])
        self.model.load_state_dict(state["weights"])
