"""Seeds for the interactive baselines: organ scribbles + background strokes, carried and cropped like Slicer.

Seed labelmaps use the organ labels 1..4 and `BACKGROUND_SEED` for background strokes. `seed_box`
reproduces the automatic crop of Slicer's auto-complete effects (Grow from seeds): the bounding box of
all seeds grown on each side by `EXTENT_GROWTH_RATIO` of its size (at least 3 voxels), clipped to the
image; voxels outside it stay background, as in Slicer.
"""

from __future__ import annotations

import numpy as np

from CrossMRLib.errors import Cancelled, InputError
from CrossMRLib.grids import carry_labels
from CrossMRLib.pairing import SlicePairing
from CrossMRLib.series import Series

BACKGROUND_SEED = 5
EXTENT_GROWTH_RATIO = 0.20  # Slicer's value when no editable-area mask is set
MIN_MARGIN = 3


def merge_seeds(scribbles: np.ndarray, background: np.ndarray) -> np.ndarray:
    """One uint8 seed labelmap: organ scribbles (1..4) over background strokes (`BACKGROUND_SEED`)."""
    seeds = np.where(np.asarray(background, dtype=bool), BACKGROUND_SEED, 0).astype(np.uint8)
    organ = np.asarray(scribbles) > 0
    seeds[organ] = np.asarray(scribbles)[organ]
    return seeds


def carried_seeds(scribbles: np.ndarray, background: np.ndarray, reference: Series, target: Series,
                  pairing: SlicePairing) -> np.ndarray:
    """Organ + background seeds of the reference carried onto `target` by physical position."""
    return merge_seeds(carry_labels(np.asarray(scribbles, dtype=np.uint8), reference, target, pairing),
                       carry_labels(np.asarray(background, dtype=np.uint8), reference, target, pairing) > 0)


def seed_box(seeds: np.ndarray, ratio: float = EXTENT_GROWTH_RATIO) -> tuple[slice, ...] | None:
    """Slicer's auto-complete extent around all seeds (None when there are no seeds)."""
    nonzero = np.nonzero(seeds)
    if len(nonzero[0]) == 0:
        return None
    box = []
    for idx, size in zip(nonzero, seeds.shape):
        low, high = int(idx.min()), int(idx.max())
        margin = int(max(MIN_MARGIN, ratio * (high - low)))
        box.append(slice(max(low - margin, 0), min(high + margin, size - 1) + 1))
    return tuple(box)


def pad_to_min(array: np.ndarray, minimum: int = 3, mode: str = "edge") -> tuple[np.ndarray, tuple[slice, ...]]:
    """Pad every axis to at least `minimum` voxels; returns the padded array and the slices to undo it."""
    pads = [((minimum - n + 1) // 2, (minimum - n) // 2) if n < minimum else (0, 0) for n in array.shape]
    if not any(p != (0, 0) for p in pads):
        return array, tuple(slice(None) for _ in array.shape)
    padded = np.pad(array, pads, mode=mode) if mode == "edge" else np.pad(array, pads)
    return padded, tuple(slice(a, a + n) for (a, _), n in zip(pads, array.shape))


def organ_labels(result: np.ndarray) -> np.ndarray:
    """Drop the background seed label from a baseline's output: uint8 organ labels 0..4."""
    return np.where((result > 0) & (result < BACKGROUND_SEED), result, 0).astype(np.uint8)


def check_background(background: np.ndarray, reference: Series) -> None:
    """Background strokes must be drawn on the reference grid."""
    if background.shape != reference.shape:
        raise InputError(f"background strokes have shape {background.shape} but the reference '{reference.name}' "
                         f"is {reference.shape}; draw them on the reference series")


class CarriedSeedsMethod:
    """Base of the seeded baselines run on each target: organ + background seeds carried over by position,
    then `grow(image, seeds, spacing_ijk)` on the target's own intensities."""

    name = ""
    weights_sha256 = None

    def __init__(self, background: np.ndarray) -> None:
        self.background = np.asarray(background, dtype=bool)

    def grow(self, image: np.ndarray, seeds: np.ndarray, spacing_ijk) -> np.ndarray:
        raise NotImplementedError

    def segment_target(self, reference: Series, scribbles: np.ndarray, target: Series, pairing: SlicePairing,
                       cancel=None) -> np.ndarray:
        if cancel is not None and cancel():
            raise Cancelled()
        check_background(self.background, reference)
        seeds = carried_seeds(scribbles, self.background, reference, target, pairing)
        return self.grow(target.array, seeds, target.spacing)
