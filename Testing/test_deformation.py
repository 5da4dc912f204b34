"""The shared smooth deformation of the paired augmentation (SynthSeg's nonlinear spatial augmentation)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from CrossMRLib.model.augment import DEFORM_STD, PairAugmenter, warp

IDENTITY = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


def _fields(seed: int, count: int, shape=(96, 96)) -> list[torch.Tensor]:
    aug = PairAugmenter(seed)
    return [aug.deformation(shape) for _ in range(count)]


def _jacobian_determinant(field: torch.Tensor) -> np.ndarray:
    """Determinant of the sampling map x -> x + field(x) (normalised coordinates), by finite differences."""
    h, w = field.shape[:2]
    grid = F.affine_grid(torch.as_tensor(IDENTITY, dtype=torch.float32)[None], [1, 1, h, w], align_corners=False)[0]
    mapped = (grid + field).numpy()
    dx = np.gradient(mapped, 2.0 / w, axis=1)  # d(mapped)/d(x), x = column
    dy = np.gradient(mapped, 2.0 / h, axis=0)
    return dx[..., 0] * dy[..., 1] - dx[..., 1] * dy[..., 0]


def test_a_seed_gives_the_same_deformations_and_draws_differ():
    first, again, other = _fields(3, 4), _fields(3, 4), _fields(4, 4)
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not any(torch.equal(a, b) for a, b in zip(first, other))
    assert not torch.equal(first[0], first[1])


def test_deformations_are_smooth_bounded_and_never_fold():
    """Organs keep their topology (no tearing, no fold-over) and no part moves farther than a few times the
    control points' std: the largest displacement stays within 4 stds."""
    fields = _fields(0, 40)
    assert max(float(f.abs().max()) for f in fields) <= 4 * DEFORM_STD
    assert max(float(f.abs().max()) for f in fields) > 0.5 * DEFORM_STD  # they do move
    assert min(float(_jacobian_determinant(f).min()) for f in fields) > 0.2


def test_image_and_labels_are_deformed_alike():
    """The same field moves the image and its labels: after the warp each organ's pixels keep that organ's
    intensity (away from its edge), and the organ's shape has changed."""
    size = 96
    yy, xx = np.mgrid[:size, :size]
    labels = np.zeros((size, size), np.int64)
    labels[((yy - 40) / 22.0) ** 2 + ((xx - 38) / 28.0) ** 2 < 1] = 1
    labels[((yy - 62) / 9.0) ** 2 + ((xx - 72) / 8.0) ** 2 < 1] = 2
    image = torch.from_numpy((labels * 0.4).astype(np.float32))[None]
    aug = PairAugmenter(7)
    moved = 0
    for _ in range(10):
        field = aug.deformation((size, size))
        out, lab = warp(image, torch.from_numpy(labels), IDENTITY, field=field)
        lab = lab.numpy()
        for organ in (1, 2):
            core = (lab == organ) & ~_edge(lab)
            assert core.sum() > 30
            assert np.allclose(out[0].numpy()[core], 0.4 * organ, atol=1e-4)
        moved += int((lab != labels).sum() > 20)
    assert moved >= 5


def _edge(labels: np.ndarray) -> np.ndarray:
    padded = np.pad(labels, 1, mode="edge")
    around = [padded[1 + dy:1 + dy + labels.shape[0], 1 + dx:1 + dx + labels.shape[1]]
              for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    return np.any([a != labels for a in around], axis=0)
