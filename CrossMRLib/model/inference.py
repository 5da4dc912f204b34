"""Batched slice-pair inference: reference tokens are computed once per reference slice and reused for
every target slice paired with it (and across calls, through `TokenCache`).

Where the user scribbled an organ on the target slice's own position (`scribbled_presence`), the organ
counts as present whatever the network's presence score: the user has said it is there.

Each slice's probabilities are averaged with its neighbours' in the series (`smoothed_labels`; the neighbour
weight is the best of those compared on the calibration studies, generated seeds 6..10, used neither for
training nor for evaluation), and `refine.py` moves the boundaries onto the target image's edges.

The network runs on the model's device (`CrossMRLib.devices`: a CUDA GPU in half precision, or the CPU); the
outputs always come back as float32 CPU tensors.
"""

from __future__ import annotations

from typing import Callable, Iterable, Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import Cancelled
from ..preprocess import normalize_intensity, resize_slices
from .geometry import resample
from .network import CrossMRNet, Features, best_query_logits, probabilities_to_labels

TARGET_BATCH = 16
NEIGHBOUR_WEIGHT = 0.5  # weight of each neighbouring slice's probabilities (the slice itself: 1)
OUTSIDE_LOGIT = 30.0  # logits resampled from outside the network's field of view come out this far below 0


def model_device(model: torch.nn.Module) -> torch.device:
    """The device of the network's parameters (stand-ins without parameters: the CPU)."""
    first = next(iter(model.parameters()), None) if hasattr(model, "parameters") else None
    return first.device if first is not None else torch.device("cpu")


def _autocast(device: torch.device):
    """Half precision on a GPU; nothing on the CPU (float32 there)."""
    return torch.autocast("cuda", dtype=torch.float16) if device.type == "cuda" else torch.autocast("cpu", enabled=False)


def prepare_images(volume: np.ndarray, size: int) -> np.ndarray:
    """(K, J, I) raw voxels -> (K, S, S) float32 in [0, 1] (per-volume percentile normalisation)."""
    return resize_normalized(normalize_intensity(volume), size)


def resize_normalized(normalized: np.ndarray, size: int) -> np.ndarray:
    """(K, J, I) volume already in [0, 1] -> (K, S, S) float32 model input."""
    return resize_slices(normalized, (size, size), "bilinear").astype(np.float32)


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


def scribbled_presence(has_scribble: np.ndarray, reference_index: np.ndarray, distance_mm: np.ndarray,
                       max_distance_mm: float) -> np.ndarray:
    """(Kt, O) bool: target slices paired with a reference slice that has scribbles of the organ, at most
    `max_distance_mm` away (never under the relative-order fallback, whose distances are NaN).
    `has_scribble` (Kr, O)."""
    near = np.asarray(distance_mm, dtype=float) <= max_distance_mm  # NaN compares False
    return np.asarray(has_scribble, bool)[np.asarray(reference_index)] & near[:, None]


def with_scribbled_presence(outputs: Iterable[tuple[int, int, torch.Tensor, torch.Tensor]], scribbled: np.ndarray
                            ) -> Iterator[tuple[int, int, torch.Tensor, torch.Tensor]]:
    """`iter_slice_outputs` batches with presence 1 where `scribbled` (Kt, O) is set."""
    forced = torch.from_numpy(np.asarray(scribbled, bool))
    for start, stop, probs, presence in outputs:
        yield start, stop, probs, torch.where(forced[start:stop], torch.ones_like(presence), presence)


class TokenCache:
    """Visual tokens per reference slice for one (reference images, scribbles) pair."""

    def __init__(self, model: CrossMRNet, images: np.ndarray, scribbles: torch.Tensor) -> None:
        self.model, self.images, self.scribbles = model, images, scribbles
        self.tokens: dict[int, tuple[list[torch.Tensor], torch.Tensor]] = {}

    @torch.no_grad()
    def ensure(self, slices: list[int]) -> None:
        """Encode the reference slices not cached yet (in one batch)."""
        todo = sorted({int(k) for k in slices if int(k) >= 0 and int(k) not in self.tokens})
        device = model_device(self.model)
        for start in range(0, len(todo), TARGET_BATCH):
            chunk = todo[start:start + TARGET_BATCH]
            with _autocast(device):
                feats = self.model.encode(torch.from_numpy(self.images[chunk])[:, None].to(device), mask_rows=None)
            self._keep(chunk, feats)

    @torch.no_grad()
    def add_encoded(self, start: int, encoded: Features) -> None:
        """Tokens of the scribbled reference slices start.. from their features encoded as a target's (the
        reference series segmented itself: each of its slices is encoded once, not twice)."""
        rows = [i for i in range(len(encoded.levels[0]))
                if start + i not in self.tokens and bool(self.scribbles[start + i].any())]
        if rows:
            self._keep([start + i for i in rows], Features([level[rows] for level in encoded.levels], None))

    def _keep(self, slices: list[int], feats: Features) -> None:
        """Cache the tokens of reference `slices` from their encoded features (one row each)."""
        device = feats.levels[0].device
        with _autocast(device):
            tokens, valid = self.model.tokens(feats, self.scribbles[slices].to(device))
        tokens = [t.float() for t in tokens]
        for i, k in enumerate(slices):
            self.tokens[k] = ([t[i] for t in tokens], valid[i])

    def gather(self, organ_slices: np.ndarray) -> list[torch.Tensor]:
        """Tokens (B, O, T, D) per level for rows of organ -> reference slice indices (-1 = none)."""
        self.ensure(organ_slices.reshape(-1).tolist())
        b, organs = organ_slices.shape
        any_tokens = next(iter(self.tokens.values()))[0]
        levels = []
        for level, ref in enumerate(any_tokens):
            out = torch.zeros(b, organs, *ref.shape[1:], device=ref.device)
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
                       features: dict[int, Features] | None = None, reference_cache: TokenCache | None = None,
                       ) -> Iterator[tuple[int, int, torch.Tensor, torch.Tensor]]:
    """Per batch of target slices: (start, stop, probabilities (B, O, J, I), presence (B, O)), on the CPU.

    `targets` (Kt, S, S) are model-size target images; `organ_slices` (Kt, O) gives each target slice's
    reference slice per organ (-1: organ not scribbled -> never predicted). `to_reference` (Kt, 2, 3): per
    target slice, the affine taking the paired reference slice's normalised frame to the target's (the
    target is resampled into the reference frame); `to_target` the inverse, bringing the predictions back
    onto the target grid (J, I) = `out_shape`. None: the series share one in-plane frame.

    Probabilities are the best query's mask per organ (zero for organs without scribbles); presence is
    the sigmoid of that organ's best query score (0 without scribbles). Batches without any scribbled
    organ are skipped (their labels stay empty).

    `features` ({batch start: encoded batch}): the target batches' encoder outputs are looked up there and
    stored there when missing, so a later call on the same target images (new strokes) encodes nothing.
    `cache` may also be a token source with `gather_at(start, rows)` (keys other than -1 count as prompted).
    `reference_cache`: `targets` are that cache's reference images themselves; the tokens of their scribbled
    slices are taken from the batches as they are encoded here instead of encoding those slices again.
    """
    model.eval()
    device = model_device(model)
    size = tuple(targets.shape[-2:])
    for start in range(0, len(targets), TARGET_BATCH):
        if cancel is not None and cancel():
            raise Cancelled()
        stop = min(start + TARGET_BATCH, len(targets))
        rows = organ_slices[start:stop]
        valid = torch.from_numpy(rows != -1)
        if not valid.any():
            continue
        encoded = features.get(start) if features is not None else None
        if encoded is None:
            images = torch.from_numpy(targets[start:stop])[:, None].to(device)
            if to_reference is not None:
                images = resample(images, to_reference[start:stop], size)
            with _autocast(device):
                encoded = model.encode(images, project_mask=False)
            if features is not None:
                features[start] = encoded
        if reference_cache is not None:
            reference_cache.add_encoded(start, encoded)
        tokens = cache.gather_at(start, rows) if hasattr(cache, "gather_at") else cache.gather(rows)
        with _autocast(device):
            pred = model.decode(encoded, tokens, final_only=True)[-1]
        presence = torch.sigmoid(pred["scores"].float().max(-1).values).cpu() * valid
        logits = best_query_logits(pred).float()
        if to_target is None:
            logits = F.interpolate(logits, size=out_shape, mode="bilinear", align_corners=False)
        else:
            logits = resample(logits + OUTSIDE_LOGIT, to_target[start:stop], tuple(out_shape)) - OUTSIDE_LOGIT
        yield start, stop, torch.sigmoid(logits).cpu() * valid[..., None, None], presence


def smoothed_labels(outputs: Iterable[tuple[int, int, torch.Tensor, torch.Tensor]], num_slices: int,
                    score_threshold: float | Sequence[float] = 0.5, weight: float = NEIGHBOUR_WEIGHT,
                    ) -> Iterator[tuple[int, int, np.ndarray]]:
    """(start, stop, labels) per batch of `iter_slice_outputs`: each slice's thresholded probabilities
    averaged with its neighbours' (`weight` each; a slice without output counts as empty), kept only for
    the organs present on the slice itself. A batch is labelled once the next one has arrived, so only
    two batches are held at a time."""
    threshold = torch.as_tensor(score_threshold, dtype=torch.float32)
    pending: tuple[int, int, torch.Tensor] | None = None
    before: tuple[int, torch.Tensor] | None = None  # (index, probabilities) of the slice before `pending`

    def label(batch: tuple[int, int, torch.Tensor], after: tuple[int, torch.Tensor] | None) -> np.ndarray:
        start, stop, gated = batch
        previous = torch.zeros_like(gated)
        previous[1:] = gated[:-1]
        if before is not None and before[0] == start - 1:
            previous[0] = before[1]
        following = torch.zeros_like(gated)
        following[:-1] = gated[1:]
        if after is not None and after[0] == stop:
            following[-1] = after[1]
        index = torch.arange(start, stop, dtype=torch.float32)
        norm = 1.0 + weight * ((index > 0).float() + (index < num_slices - 1).float())
        smooth = (gated + weight * (previous + following)) / norm[:, None, None, None]
        present = gated.flatten(2).amax(-1) > 0
        return probabilities_to_labels(smooth * present[..., None, None]).numpy()

    for start, stop, probs, presence in outputs:
        present = (presence >= threshold) & (presence > 0)
        gated = probs.float() * present[..., None, None]
        if pending is not None:
            yield pending[0], pending[1], label(pending, (start, gated[0]))
            before = (pending[1] - 1, pending[2][-1])
        pending = (start, stop, gated)
    if pending is not None:
        yield pending[0], pending[1], label(pending, None)
