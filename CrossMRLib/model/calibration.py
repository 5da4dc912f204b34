"""Per-organ presence thresholds, calibrated on held-out generated studies.

The network's presence score says whether an organ is in a target slice. Past an organ's end (lung bases
above the liver, the pelvis below the kidneys) a score just above 0.5 often paints a look-alike, so each
organ's threshold is chosen to maximise its mean 3D Dice on generated studies that are used neither for
training (seeds 1000+) nor for evaluation (seeds 1..5): T1w scribbles (dense and sparse), every contrast
as target, the inference path users get (nearest scribbled slice, one pass per slice, smoothing across
slices, clean-up) except the edge-aware sharpening (`refine.py`): that only reshapes the masks of organs
already judged present, and the thresholds stay a property of the network's presence scores.
"""

from __future__ import annotations

from typing import Callable, Iterable, Iterator

import numpy as np

from ..metrics import dice
from ..pairing import identity_pairing, pair_slices
from ..scribbles.synth import synthesize_scribbles
from .data import CONTRASTS
from .inference import smoothed_labels

CALIBRATION_SEEDS = (6, 7, 8, 9, 10)  # generated studies never trained or evaluated on
CANDIDATES = (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.925, 0.95)
SCRIBBLE_MODES = ("dense", "sparse")


def calibration_cases(seeds: tuple[int, ...] = CALIBRATION_SEEDS) -> Iterator[tuple]:
    """(reference, scribbles, target, truth, pairing) for T1w scribbles on every contrast of each study."""
    from ..phantom import generate_study

    for seed in seeds:
        study = generate_study(seed)
        reference = study.images["t1w"]
        ref_truth = np.asarray(study.labels["t1w"].array, dtype=np.uint8)
        spacing = (float(reference.spacing[1]), float(reference.spacing[0]))
        for m, mode in enumerate(SCRIBBLE_MODES):
            scribbles = synthesize_scribbles(ref_truth, mode, np.random.default_rng(10 * seed + m), spacing=spacing)
            for contrast in CONTRASTS:
                target = study.images[contrast]
                truth = np.asarray(study.labels[contrast].array, dtype=np.uint8)
                pairing = identity_pairing(target) if contrast == "t1w" else pair_slices(reference, target)
                yield reference, scribbles, target, truth, pairing


def calibrate_presence(method, seeds: tuple[int, ...] = CALIBRATION_SEEDS,
                       candidates: tuple[float, ...] = CANDIDATES,
                       log: Callable[[str], None] | None = None, cases: Iterable[tuple] | None = None) -> dict:
    """Best threshold per organ for a `CrossMRModelMethod`; returns {"presence_thresholds": [per organ],
    "seeds", "mean_dice": {threshold: [per organ]}}. Ties keep the lower threshold. `cases` (default: the
    generated studies `seeds`) yields (reference, scribbles, target, truth, pairing)."""
    organs = list(range(1, method.model.config.num_organs + 1))
    scores = {t: {o: [] for o in organs} for t in candidates}
    for n, (reference, scribbles, target, truth, pairing) in enumerate(cases if cases is not None else calibration_cases(seeds), start=1):
        outputs = [(a, b, p.half(), q) for a, b, p, q in method.slice_outputs(reference, scribbles, target, pairing)]
        for t in candidates:
            labels = np.zeros(target.shape, dtype=np.uint8)
            for a, b, batch in smoothed_labels(outputs, target.shape[0], t):
                labels[a:b] = batch
            labels = method.clean(labels, reference, scribbles, target, pairing)
            for o in organs:
                scores[t][o].append(dice(labels == o, truth == o))
        if log is not None and n % 10 == 0:
            log(f"calibration: {n} volumes")
    mean = {t: [float(np.mean(scores[t][o])) for o in organs] for t in candidates}
    best = [max(candidates, key=lambda t: (round(mean[t][i], 6), -t)) for i in range(len(organs))]
    return {"presence_thresholds": [float(t) for t in best], "seeds": list(seeds),
            "mean_dice": {str(t): [round(v, 4) for v in mean[t]] for t in candidates}}

