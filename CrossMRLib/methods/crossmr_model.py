"""The CrossMR model as a segmentation method (the pipeline's default)."""

from __future__ import annotations

import hashlib
import os
from collections import OrderedDict
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
import torch

from ..devices import resolve_device
from ..errors import InputError
from ..pairing import SlicePairing
from ..series import Series, same_grid
from ..grids import carry_labels
from ..corrections.erase import apply_erase
from ..corrections.strokes import positive
from ..corrections.tokens import OWN_REACH_MM, MixedTokens, encode_own_strokes, own_rows
from ..model.inference import (TARGET_BATCH, TokenCache, iter_slice_outputs, nearest_scribbled, prepare_images,
                               prepare_scribbles, resize_normalized, scribbled_presence, smoothed_labels,
                               with_scribbled_presence)
from ..model.refine import radius_pixels, refined_outputs
from ..preprocess import normalize_intensity
from ..postprocess import keep_components_near_seeds, keep_strokes
from ..model.geometry import frame_theta, is_identity
from ..model.weights import WEIGHTS_FILE, load_weights


def default_weights() -> Path:
    """CROSSMR_WEIGHTS if set, else the shipped Resources/Models/crossmr_model.pt."""
    env = os.environ.get("CROSSMR_WEIGHTS")
    if env:
        return Path(env)
    import CrossMRLib

    return Path(CrossMRLib.__file__).resolve().parents[1] / "Resources" / "Models" / WEIGHTS_FILE


class CrossMRModelMethod:
    """Scribbles on a reference slice -> organ masks on paired target slices, per organ from the nearest
    scribbled reference slice. Reference tokens are cached per reference series across calls.

    Correction strokes on a target (`strokes`, see `CrossMRLib/corrections`) prompt the target slices near
    them too, count as present, seed the clean-up and are labelled as drawn; erase strokes remove the organ's
    wrong piece. After `cache_features()` the encoder outputs of every target are kept across calls, so a
    re-run with new strokes decodes only."""

    name = "model"
    own_reach_mm = OWN_REACH_MM  # see corrections/tokens.py
    mix_tokens = True

    def __init__(self, weights: Path | None = None, threads: int | None = None, clean_up: bool = True,
                 refine: bool = True, device: str = "auto") -> None:
        """`refine`: sharpen the probabilities along the target image's edges (`CrossMRLib/model/refine.py`).
        `device`: "auto" (a CUDA GPU when torch sees one, else the CPU), "cpu" or "cuda"."""
        self.weights = Path(weights) if weights else default_weights()
        self.device = resolve_device(device)
        if threads is not None:
            if int(threads) < 1:
                raise InputError(f"threads={threads} must be at least 1")
            torch.set_num_threads(int(threads))
        self.model, self.meta = load_weights(self.weights)
        self.model.to(self.device)
        from ..model.weights import file_sha256

        self.weights_sha256: str = file_sha256(self.weights)
        self.size = self.model.config.input_size
        self.clean_up = clean_up
        self.refine = refine
        self._cache_key: tuple | None = None
        self._cache: TokenCache | None = None
        self._features: OrderedDict = OrderedDict()  # encoder outputs per target series (`cache_features`)
        self._feature_limit = 0

    def _reference_cache(self, reference: Series, scribbles: np.ndarray) -> TokenCache:
        key = (id(reference), reference.shape, hashlib.sha1(np.ascontiguousarray(scribbles).tobytes()).hexdigest(),
               hashlib.sha1(np.ascontiguousarray(reference.array[:, ::8, ::8]).tobytes()).hexdigest())
        if key != self._cache_key or self._cache is None:
            images = prepare_images(reference.array, self.size)
            masks = prepare_scribbles(np.asarray(scribbles), self.model.config.num_organs, self.size)
            self._cache, self._cache_key = TokenCache(self.model, images, masks), key
        return self._cache

    @staticmethod
    def _frames(reference: Series, target: Series, reference_index: np.ndarray
                ) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Per target slice, affines between its paired reference slice's frame and its own (None when the
        series share one in-plane frame)."""
        ref_ji, tgt_ji = reference.shape[1:], target.shape[1:]
        to_ref = np.stack([frame_theta(reference.ijk_to_ras, ref_ji, int(r), target.ijk_to_ras, tgt_ji)
                           for r in reference_index])
        if all(is_identity(t) for t in to_ref):
            return None, None
        to_tgt = np.stack([frame_theta(target.ijk_to_ras, tgt_ji, t, reference.ijk_to_ras, ref_ji)
                           for t in range(target.num_slices)])
        return to_ref, to_tgt

    def cache_features(self, series: int = 8) -> None:
        """Keep the encoder outputs of the last `series` target series (about 1.4 MB per slice) across calls,
        so re-running a series with new strokes encodes none of its slices (0: keep none, the default)."""
        self._feature_limit = int(series)
        while len(self._features) > self._feature_limit:
            self._features.popitem(last=False)

    def _target_features(self, target: Series, to_ref: np.ndarray | None) -> dict | None:
        """The encoder-output store of `target` in its current frame (None when features are not kept)."""
        if self._feature_limit <= 0:
            return None
        key = (target.name, target.shape, target.ijk_to_ras.round(4).tobytes(),
               hashlib.sha1(np.ascontiguousarray(target.array[:, ::4, ::4]).tobytes()).hexdigest(),
               None if to_ref is None else np.asarray(to_ref).round(6).tobytes())
        store = self._features
        if key not in store:
            store[key] = {}
            while len(store) > self._feature_limit:
                store.popitem(last=False)
        store.move_to_end(key)
        return store[key]

    def segment_target(self, reference: Series, scribbles: np.ndarray, target: Series, pairing: SlicePairing,
                       cancel: Callable[[], bool] | None = None, strokes: np.ndarray | None = None) -> np.ndarray:
        """uint8 (K', J', I') labels in `target`'s grid; `strokes`: correction strokes on that grid (0..4, 255)."""
        return self.segment_targets(reference, scribbles, [target], [pairing], cancel, strokes)[0]

    def segment_targets(self, reference: Series, scribbles: np.ndarray, targets: Sequence[Series],
                        pairings: Sequence[SlicePairing], cancel: Callable[[], bool] | None = None,
                        strokes: np.ndarray | None = None) -> list[np.ndarray]:
        """uint8 labels for series on one grid (say the in- and opposed-phase echoes of one acquisition):
        each series' probabilities and presence scores, sharpened along its own image, are averaged over the
        series, so they all get the same masks (before each one's clean-up with its own `pairings` entry).
        `strokes`: correction strokes on their shared grid (0..4, 255), applied to all of them."""
        if len(targets) != len(pairings) or not targets:
            raise ValueError("segment_targets needs one pairing per target and at least one target")
        first = targets[0]
        for other in targets[1:]:
            if not same_grid(first, other):
                raise InputError(f"'{other.name}' and '{first.name}' are not on one grid; segment them one at a time")
        thresholds = self.presence_thresholds
        # one series alone: organs below their threshold are dropped unsharpened (they are left out anyway); several:
        # every organ is sharpened in every series, so one series' absent organ does not halve another's probabilities
        floor = thresholds if len(targets) == 1 else None
        streams = [self.slice_outputs(reference, scribbles, t, pairings[0], cancel, floor, strokes) for t in targets]
        averaged = streams[0] if len(streams) == 1 else \
            ((batches[0][0], batches[0][1], sum(b[2] for b in batches) / len(batches),
              sum(b[3] for b in batches) / len(batches)) for batches in zip(*streams))
        labels = np.zeros(first.shape, dtype=np.uint8)
        for start, stop, batch in smoothed_labels(averaged, first.num_slices, thresholds):
            labels[start:stop] = batch
        return [self.clean(labels.copy(), reference, scribbles, t, p, strokes) for t, p in zip(targets, pairings)]

    @property
    def presence_thresholds(self) -> list[float]:
        """Per organ, the presence score below which the organ is absent from a slice: calibrated on
        held-out generated studies and stored with the weights (0.5 for weights without calibration)."""
        stored = self.meta.get("presence_thresholds")
        return [float(v) for v in stored] if stored else [0.5] * self.model.config.num_organs

    def slice_outputs(self, reference: Series, scribbles: np.ndarray, target: Series, pairing: SlicePairing,
                      cancel: Callable[[], bool] | None = None, min_presence: Sequence[float] | None = None,
                      strokes: np.ndarray | None = None) -> Iterator[tuple[int, int, torch.Tensor, torch.Tensor]]:
        """The network's per-batch (start, stop, probabilities, presence) on `target`'s grid, before the
        presence thresholds and the clean-up (see `iter_slice_outputs`), sharpened along the target's edges
        unless refine=False. Presence is 1 on target slices within half a reference slice of a slice the
        user scribbled the organ on (`scribbled_presence`) and on slices with the organ's own `strokes`.
        `min_presence` (per organ): organs with a presence below it are left empty instead of sharpened
        (see `refined_outputs`)."""
        scribbles = np.asarray(scribbles)
        if scribbles.shape != reference.shape:
            raise InputError(f"scribbles shape {scribbles.shape} differs from the reference '{reference.name}' "
                             f"shape {reference.shape}; draw the scribbles on the reference series")
        if len(pairing.reference_index) != target.num_slices:
            raise InputError(f"pairing has {len(pairing.reference_index)} rows but '{target.name}' has "
                             f"{target.num_slices} slices; pair the series again")
        cache = self._reference_cache(reference, scribbles)
        has_scribble = cache.scribbles.flatten(2).any(-1).numpy()
        organ_slices = nearest_scribbled(np.asarray(pairing.reference_index), has_scribble)
        scribbled = scribbled_presence(has_scribble, pairing.reference_index, pairing.distance_mm,
                                       0.5 * float(reference.spacing[2]))
        normalized = normalize_intensity(target.array)
        to_ref, to_tgt = (self._frames(reference, target, np.asarray(pairing.reference_index))
                          if pairing.rule == "position" else (None, None))  # no usable geometry: resize only
        images = resize_normalized(normalized, self.size)
        features = self._target_features(target, to_ref)
        tokens = cache
        own = positive(strokes)
        if own is not None and own.any():
            has_own = np.stack([(own == o + 1).reshape(len(own), -1).any(1) for o in range(has_scribble.shape[1])], 1)
            scribbled = scribbled | has_own
            reach = own_rows(has_own, float(target.spacing[2]), self.own_reach_mm)
            alone = ~has_scribble.any(0)  # organs only this series' strokes show: prompted on every slice
            reach[:, alone] = own_rows(has_own, float(target.spacing[2]), np.inf)[:, alone]
            levels_of = None if features is None else (
                lambda s: [l[s % TARGET_BATCH:s % TARGET_BATCH + 1] for l in features[s - s % TARGET_BATCH].levels]
                if s - s % TARGET_BATCH in features else None)
            own_slices = sorted(set(reach[reach >= 0].tolist()))  # none when own_reach_mm < 0 (tokens left alone)
            if own_slices:
                own_tokens = encode_own_strokes(self.model, images, own, own_slices, to_ref, levels_of)
                tokens = MixedTokens(cache, own_tokens, organ_slices, self.mix_tokens)
                organ_slices = tokens.rows(reach)
        itself = to_ref is None and images.shape == cache.images.shape and np.array_equal(images, cache.images)
        outputs = iter_slice_outputs(self.model, tokens, images, organ_slices, target.shape[1:], cancel, to_ref,
                                     to_tgt, features, cache if itself else None)
        outputs = with_scribbled_presence(outputs, scribbled)
        if not self.refine:
            return outputs
        return refined_outputs(outputs, normalized, radius_pixels(target.spacing[1::-1]), min_presence=min_presence)

    def clean(self, labels: np.ndarray, reference: Series, scribbles: np.ndarray, target: Series,
              pairing: SlicePairing, strokes: np.ndarray | None = None) -> np.ndarray:
        """Keep only the predicted pieces near the scribbles carried onto `target` and its own organ strokes
        (unless clean_up=False); apply the erase strokes (`corrections/erase.py`); on the reference series
        itself (same grid) the user's scribbles, and on every series its own organ strokes, are labelled as
        drawn."""
        own = positive(strokes)
        if self.clean_up or strokes is not None:
            seeds = carry_labels(np.asarray(scribbles), reference, target, pairing,
                                 max_distance_mm=float(reference.spacing[2]))
            if own is not None:
                seeds = np.where(own > 0, own, seeds)
        if self.clean_up:
            labels = keep_components_near_seeds(labels, seeds, target.spacing[::-1])
        if strokes is not None:
            labels = apply_erase(labels, strokes, seeds, target.spacing[::-1])
        if target.shape == reference.shape and np.allclose(target.ijk_to_ras, reference.ijk_to_ras, atol=1e-4):
            labels = keep_strokes(labels, np.asarray(scribbles))
        if own is not None:
            labels = keep_strokes(labels, own)
        return labels
