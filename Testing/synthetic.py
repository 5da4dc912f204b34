"""Tiny synthetic series for engine tests: four ellipsoid 'organs' placed in RAS, sampled on any grid."""

from __future__ import annotations

import numpy as np

from CrossMRLib.series import Series, make_ijk_to_ras

# organ label -> (centre RAS mm, semi-axes mm, intensity); +x is the patient's right in RAS
ORGAN_BLOBS = {
    1: ((60.0, 10.0, 0.0), (55.0, 50.0, 45.0), 0.8),
    2: ((55.0, -45.0, -35.0), (18.0, 18.0, 30.0), 0.5),
    3: ((-60.0, -45.0, -25.0), (18.0, 18.0, 30.0), 0.55),
    4: ((-70.0, -10.0, 20.0), (22.0, 30.0, 30.0), 0.35),
}


def grid(shape_kji=(20, 64, 64), spacing=(5.0, 5.0, 6.0), origin=(-160.0, -160.0, -60.0), flip_k=False,
         directions=None) -> np.ndarray:
    """IJK-to-RAS for a grid; `flip_k` makes slice k run feet-ward (origin moved to the top)."""
    directions = np.eye(3) if directions is None else np.asarray(directions, float)
    if flip_k:
        directions = directions.copy()
        directions[:, 2] *= -1
        origin = tuple(np.asarray(origin) + np.asarray(np.eye(3)[:, 2]) * spacing[2] * (shape_kji[0] - 1))
    return make_ijk_to_ras(spacing, origin, directions)


def labels_on(ijk_to_ras: np.ndarray, shape_kji, shift=(0.0, 0.0, 0.0)) -> np.ndarray:
    """Organ labelmap sampled on a grid (optionally with the anatomy shifted, like breathing)."""
    k, j, i = np.meshgrid(*(np.arange(n) for n in shape_kji), indexing="ij")
    ijk = np.stack([i.ravel(), j.ravel(), k.ravel(), np.ones(i.size)])
    ras = (ijk_to_ras @ ijk)[:3].T - np.asarray(shift)
    labels = np.zeros(i.size, np.uint8)
    for label, (centre, axes, _) in ORGAN_BLOBS.items():
        inside = (((ras - centre) / axes) ** 2).sum(axis=1) <= 1.0
        labels[inside & (labels == 0)] = label
    return labels.reshape(shape_kji)


def make_series(name: str, shape_kji=(20, 64, 64), spacing=(5.0, 5.0, 6.0), origin=(-160.0, -160.0, -60.0),
                flip_k=False, contrast=None, noise=0.02, seed=0, directions=None) -> tuple[Series, Series]:
    """(image, labels) series; `contrast` maps label -> intensity to mimic another MR contrast."""
    matrix = grid(shape_kji, spacing, origin, flip_k, directions)
    labels = labels_on(matrix, shape_kji)
    values = {0: 0.1, **{l: v for l, (_, _, v) in ORGAN_BLOBS.items()}, **(contrast or {})}
    image = np.vectorize(values.get)(labels).astype(np.float32)
    image += np.random.default_rng(seed).normal(0, noise, image.shape).astype(np.float32)
    return Series(image * 1000, matrix, name), Series(labels, matrix, name + "_labels")


def noise_series(name: str, seed: int, shape_kji, spacing=(4.0, 4.0, 6.0), origin=(0.0, 0.0, 0.0)) -> Series:
    """A series of uniform noise in [0, 100) on an axis-aligned grid: the model's input, no anatomy."""
    rng = np.random.default_rng(seed)
    return Series(rng.random(shape_kji).astype(np.float32) * 100, make_ijk_to_ras(spacing, origin), name)
