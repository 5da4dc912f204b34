"""Same-series prompting: target slices near a stroke of their own series are prompted by that stroke too.

A stroke of organ o on target slice s is encoded from the target's own image (the model learned same-series
prompting from the real T2 pairs). Every target slice within `OWN_REACH_MM` of such a stroke takes its organ-o
tokens from the nearest one: with `mix` (the default) half the point tokens come from the own stroke and half
from the reference's scribble, and the mean token from the own stroke (one token set of the usual size, as
the network was trained with); without it the own stroke's tokens replace the reference's. Slices farther
away keep the reference's tokens alone, exactly as without strokes. An organ the reference scribbles lack
is prompted by the series' own strokes on every slice.
"""

from __future__ import annotations

import numpy as np
import torch

from ..model.geometry import resample
from ..model.inference import TokenCache, nearest_scribbled, prepare_scribbles
from ..model.network import CrossMRNet, Features

OWN_REACH_MM = 20.0  # target slices this close (along the series' slice axis) to an own stroke use it
NONE = -1


def own_key(slice_index: int) -> int:
    """The token key of a target's own stroked slice (reference slices are keys >= 0, -1 is none)."""
    return -int(slice_index) - 2


def own_rows(has_stroke: np.ndarray, slice_mm: float, reach_mm: float = OWN_REACH_MM) -> np.ndarray:
    """(Kt, O): per target slice and organ, the nearest own stroked slice within `reach_mm`, -1 otherwise.
    `has_stroke` (Kt, O) bool."""
    kt = has_stroke.shape[0]
    nearest = nearest_scribbled(np.arange(kt), has_stroke)
    far = np.abs(nearest - np.arange(kt)[:, None]) * float(slice_mm) > reach_mm
    nearest[(nearest < 0) | far] = NONE
    return nearest


@torch.no_grad()
def encode_own_strokes(model: CrossMRNet, images: np.ndarray, strokes: np.ndarray, slices: list[int],
                       to_reference: np.ndarray | None, levels_of=None) -> dict[int, tuple[list[torch.Tensor], torch.Tensor]]:
    """Tokens of the target's own stroked slices: {slice: (per level (O, T, D), valid (O,))}. `images` (Kt, S,
    S) model-size target images, `strokes` (Kt, J, I) organ strokes on the target grid, `to_reference` the
    per-slice frames of `iter_slice_outputs` (None: one frame). `levels_of(s)`: the slice's cached encoder
    levels, or None to encode it."""
    from ..model.inference import model_device

    size = images.shape[-1]
    device = model_device(model)
    out: dict[int, tuple[list[torch.Tensor], torch.Tensor]] = {}
    for s in slices:
        masks = prepare_scribbles(strokes[s:s + 1], model.config.num_organs, size).float()
        image = torch.from_numpy(np.ascontiguousarray(images[s:s + 1]))[:, None]
        if to_reference is not None:
            masks = resample(masks, to_reference[s:s + 1], (size, size)) > 0.25
            image = resample(image, to_reference[s:s + 1], (size, size))
        levels = levels_of(s) if levels_of is not None else None
        if levels is None:
            levels = model.encode(image.to(device), mask_rows=None).levels
        tokens, valid = model.tokens(Features(levels, None), masks.bool().to(device))
        out[s] = ([t[0].float() for t in tokens], valid[0])
    return out


class MixedTokens:
    """Token source for `iter_slice_outputs` (keys >= 0: reference slices of `reference`; `own_key(s)`: the
    target's own stroked slice s, mixed with the reference slice `mixed_with[s-row]` when `mix`)."""

    def __init__(self, reference: TokenCache, own: dict[int, tuple[list[torch.Tensor], torch.Tensor]],
                 reference_rows: np.ndarray, mix: bool = True) -> None:
        self.reference, self.own, self.reference_rows, self.mix = reference, own, reference_rows, mix

    def rows(self, own: np.ndarray) -> np.ndarray:
        """The key table: own keys where `own` (Kt, O) has a slice, reference slices elsewhere."""
        keys = self.reference_rows.copy()
        has = own >= 0
        keys[has] = [own_key(s) for s in own[has]]
        return keys

    def gather_at(self, start: int, rows: np.ndarray) -> list[torch.Tensor]:
        """Tokens (B, O, T, D) per level for the key rows of target slices start.. (see the class)."""
        self.reference.ensure([k for k in self.reference_rows[start:start + len(rows)].reshape(-1).tolist() if k >= 0])
        template = next(iter(self.own.values()))[0]
        b, organs = rows.shape
        levels = [torch.zeros(b, organs, *t.shape[1:], device=t.device) for t in template]
        for i in range(b):
            for o in range(organs):
                k = int(rows[i, o])
                ref = int(self.reference_rows[start + i, o])
                for level, out in enumerate(levels):
                    if k >= 0:
                        out[i, o] = self.reference.tokens[k][0][level][o]
                    elif k <= -2:
                        own = self.own[-k - 2][0][level][o]
                        if self.mix and ref >= 0:
                            mixed = self.reference.tokens[ref][0][level][o].clone()
                            mixed[0:-1:2] = own[0:-1:2]  # every other point token, and the mean token
                            mixed[-1] = own[-1]
                            own = mixed
                        out[i, o] = own
        return levels
