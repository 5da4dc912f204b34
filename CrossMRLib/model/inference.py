"""Batched slice-pair inference: reference tokens are computed once per reference slice and reused for
every target slice paired with it (and across calls, through `TokenCache`)."""

from __future__ import annotations

from typing import Callable, Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import Cancelled
from ..preprocess import normalize_intensity, resize_slices
from .geometry import resample
from .network import CrossMRNet, probabilities_to_labels, select_outputs

TARGET_BATCH = 16


def prepare_images(volume: np.ndarray, size: int) -> np.ndarray:
    """(K, J, I) raw voxels -> (K, S, S) float32 in [0, 1] (per-volume percentile normalisation)."""
    return resize_slices(normalize_intensity(volume), (size, size), "bilinear").astype(np.float32)


def prepare_scribbles(scribbles: np.ndarray, num_organs: int, size: int) -> torch.Tensor:
    """(K, J, I) labelmap -> (K, O, S, S) bool; any scribble pixel inside a model pixel keeps it (thin
    strokes survive down-sampling)."""
    masks = torch.stack([torch.from_numpy(np.ascontiguousarray(scribbles == o + 1)) for o in range(num_organs)], 1)
    if tuple(masks.shape[-2:]) == (size, size):
        return masks
    if masks.shape[-2] >= size and masks.shape[-1] >= size:
        return F.adaptive_max_pool2d(masks.float(), (size, size)) > 0
    return F.interpolate(masks.float(), size=(size, size), mode="nearest") > 0


def nearest_scribbled(reference_index: np.ndarray, has_scribble: np.ndarray) -> np.ndarray:
    """Per target slice and organ, the reference slice with scribbles for that organ nearest to the
    target's paired reference slice (-1 where the organ has no scribble at all). `has_scribble` (Kr, O)."""
    kr, organs = has_scribble.shape
    out = np.full((len(reference_index), organs), -1, dtype=np.int64)
    for o in range(organs):
        slices = np.flatnonzero(has_scribble[:, o])
        if slices.size:
            nearest = np.abs(np.asarray(reference_index)[:, None] - slices[None]).argmin(1)
            out[:, o] = slices[nearest]
    return out


class TokenCache:
    """Visual tokens per reference slice for one (reference images, scribbles) pair."""

    def __init__(self, model: CrossMRNet, images: np.ndarray, scribbles: torch.Tensor) -> None:
        self.model, self.images, self.scribbles = model, images, scribbles
        self.tokens: dict[int, tuple[list[torch.Tensor], torch.Tensor]] = {}

    @torch.no_grad()
    def ensure(self, slices: list[int]) -> None:
        """Encode the reference slices not cached yet (in one batch)."""
        todo = sorted({int(k) for k in slices if int(k) >= 0 and int(k) not in self.tokens})
        for start in range(0, len(todo), TARGET_BATCH):
            chunk = todo[start:start + TARGET_BATCH]
            feats = self.model.encode(torch.from_numpy(self.images[chunk])[:, None])
            tokens, valid = self.model.tokens(feats, self.scribbles[chunk])
            for i, k in enumerate(chunk):
                self.tokens[k] = ([t[i] for t in tokens], valid[i])

    def gather(self, organ_slices: np.ndarray) -> list[torch.Tensor]:
        """Tokens (B, O, T, D) per level for rows of organ -> reference slice indices (-1 = none)."""
        self.ensure(organ_slices.reshape(-1).tolist())
        b, organs = organ_slices.shape
        any_tokens = next(iter(self.tokens.values()))[0]
        levels = []
        for level, ref in enumerate(any_tokens):
            out = torch.zeros(b, organs, *ref.shape[1:])
            for i in range(b):
                for o in range(organs):
                    k = int(organ_slices[i, o])
                    if k >= 0:
                        out[i, o] = self.tokens[k][0][level][o]
            levels.append(out)
        return levels


@torch.no_grad()
def iter_slice_outputs(model: CrossMRNet, cache: TokenCache, targets: np.ndarray, organ_slices: np.ndarray,
                       out_shape: tuple[int, int], cancel: Callable[[], bool] | None = None,
                       to_reference: np.ndarray | None = None, to_target: np.ndarray | None = None,
                       ) -> Iterator[tuple[int, int, torch.Tensor, torch.Tensor]]:
    """Per batch of target slices: (start, stop, probabilities (B, O, J, I), presence (B, O)).

    `targets` (Kt, S, S) are model-size target images; `organ_slices` (Kt, O) gives each target slice's
    reference slice per organ (-1: organ not scribbled -> never predicted). `to_reference` (Kt, 2, 3): per
    target slice, the affine taking the paired reference slice's normalised frame to the target's (the
    target is resampled into the reference frame); `to_target` the inverse, bringing the predictions back
    onto the target grid (J, I) = `out_shape`. None: the series share one in-plane frame.

    Probabilities are the best query's mask per organ (zero for organs without scribbles); presence is
    the sigmoid of that organ's best query score (0 without scribbles). Batches without any scribbled
    organ are skipped (their labels stay empty).
    """
    model.eval()
    size = targets.shape[-2:]
    for start in range(0, len(targets), TARGET_BATCH):
        if cancel is not None and cancel():
            raise Cancelled()
        stop = min(start + TARGET_BATCH, len(targets))
        rows = organ_slices[start:stop]
        valid = torch.from_numpy(rows >= 0)
        if not valid.any():
            continue
        images = torch.from_numpy(targets[start:stop])[:, None]
        if to_reference is not None:
            images = resample(images, to_reference[start:stop], tuple(size))
        pred = model.decode(model.encode(images), cache.gather(rows))[-1]
        presence = torch.sigmoid(pred["scores"].max(-1).values) * valid
        if to_target is None:
            probs = select_outputs(pred, valid, out_shape, score_threshold=0.0)
        else:
            probs = resample(select_outputs(pred, valid, tuple(pred["masks"].shape[-2:]), score_threshold=0.0),
                             to_target[start:stop], tuple(out_shape))
        yield start, stop, probs, presence


def labels_from_outputs(probs: torch.Tensor, presence: torch.Tensor,
                        score_threshold: float | Sequence[float] = 0.5) -> np.ndarray:
    """(B, O, J, I) probabilities and (B, O) presence -> (B, J, I) uint8 labels; an organ whose presence
    is below its threshold (one value, or one per organ) is absent from that slice."""
    threshold = torch.as_tensor(score_threshold, dtype=presence.dtype)
    present = (presence >= threshold) & (presence > 0)
    return probabilities_to_labels(probs * present[..., None, None]).numpy()

