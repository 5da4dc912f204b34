"""Edge-aware sharpening: boundaries move onto the image's edges, never appear from nothing."""

from __future__ import annotations

import numpy as np
import torch

from CrossMRLib.model.refine import box_mean, guided_filter, radius_pixels, refined_outputs


def test_box_mean_is_the_mean_over_windows_clipped_at_the_border():
    x = torch.from_numpy(np.random.default_rng(0).random((2, 1, 9, 11)).astype(np.float64))
    got = box_mean(x, 2)
    want = torch.zeros_like(x)
    for j in range(9):
        for i in range(11):
            want[..., j, i] = x[..., max(0, j - 2):j + 3, max(0, i - 2):i + 3].mean((-2, -1))
    assert torch.allclose(got, want, atol=1e-9)
    small = x[..., :3, :4]  # a window wider than the image: every pixel gets the image's mean
    assert torch.allclose(box_mean(small, 5), small.mean((-2, -1), keepdim=True).expand_as(small), atol=1e-9)


def _crossings(probs: torch.Tensor) -> np.ndarray:
    """Per row, the first column where the probability falls below 0.5."""
    return (probs[0, 0] < 0.5).float().argmax(-1).numpy()


def test_a_soft_boundary_moves_onto_the_image_edge():
    cols = torch.arange(64, dtype=torch.float32)
    image = torch.where(cols < 32, 0.7, 0.3).expand(1, 1, 48, 64).clone()  # organ edge at column 32
    image += 0.005 * torch.from_numpy(np.random.default_rng(1).standard_normal((1, 1, 48, 64)).astype(np.float32))
    probs = torch.sigmoid((29.5 - cols) / 2.0).expand(1, 1, 48, 64).clone()  # the network's edge, 2 px short
    assert np.all(_crossings(probs) == 30)
    refined = guided_filter(probs, image, radius=5)
    assert np.all(_crossings(refined) == 32), _crossings(refined)
    assert float((refined[..., 31] - refined[..., 32]).min()) > 0.3  # and sharp: was 0.12 across the edge
    flat = _crossings(guided_filter(probs, torch.full_like(image, 0.5), radius=5))
    assert np.all(flat == 30), flat  # no edge in the image: the boundary stays where it was


def test_refined_outputs_keep_empty_organs_empty_and_presence_unchanged():
    probs = torch.zeros(3, 2, 20, 20)
    probs[:, 0, 5:15, 5:15] = 0.9
    presence = torch.tensor([[0.9, 0.1]] * 3)
    guide = np.random.default_rng(2).random((5, 20, 20)).astype(np.float32)
    (start, stop, out, kept), = list(refined_outputs([(2, 5, probs, presence)], guide, radius=2))
    assert (start, stop) == (2, 5) and out.shape == probs.shape and torch.equal(kept, presence)
    assert out[:, 1].abs().max() == 0  # an organ the network left empty stays empty
    assert 0.0 <= float(out.min()) and float(out.max()) <= 1.0
    assert float(out[:, 0, 8:12, 8:12].min()) > 0.5 and float(out[:, 0, :2, :2].max()) < 0.5


def test_organs_below_their_presence_floor_come_back_empty_the_others_unchanged():
    probs = torch.zeros(2, 3, 20, 20)
    probs[:, :, 5:15, 5:15] = 0.8
    presence = torch.tensor([[0.9, 0.4, 0.7], [0.2, 0.9, 0.7]])
    guide = np.random.default_rng(3).random((2, 20, 20)).astype(np.float32)
    (_, _, every, _), = list(refined_outputs([(0, 2, probs, presence)], guide, radius=2))
    (_, _, floored, kept), = list(refined_outputs([(0, 2, probs, presence)], guide, radius=2,
                                                  min_presence=[0.5, 0.5, 0.8]))
    assert torch.equal(kept, presence)
    below = (presence < torch.tensor([0.5, 0.5, 0.8]))
    assert floored[below].abs().max() == 0  # left out of those slices by the thresholds anyway
    assert torch.equal(floored[~below], every[~below])  # the rest is sharpened exactly as before


def test_radius_is_in_millimetres():
    assert radius_pixels((1.25, 1.25)) == 5  # CHAOS T2-SPIR
    assert radius_pixels((2.6, 2.6)) == 2  # a coarse DWI grid
    assert radius_pixels((40.0, 40.0)) == 1  # never below one pixel


def test_filtering_only_around_the_organ_gives_the_masks_of_filtering_the_whole_slice():
    """`refined_outputs` filters a box around each organ (see `support_window`); the masks are those of the
    whole-slice filter, whose output outside the box is close to zero anyway."""
    rng = np.random.default_rng(4)
    yy, xx = np.mgrid[:96, :128]
    guide = (0.3 + 0.4 * (((yy - 40) / 18.0) ** 2 + ((xx - 50) / 25.0) ** 2 < 1) + 0.02 * rng.standard_normal((96, 128)))
    logits = 6.0 - 6.0 * np.sqrt(((yy - 41) / 16.0) ** 2 + ((xx - 52) / 23.0) ** 2)  # the network's soft, offset blob
    probs = torch.from_numpy(1 / (1 + np.exp(-logits))).float()[None, None]
    image = torch.from_numpy(guide.astype(np.float32))[None, None]
    whole = guided_filter(probs, image, radius=4)
    (_, _, boxed, _), = list(refined_outputs([(0, 1, probs, torch.ones(1, 1))], guide[None].astype(np.float32), radius=4))
    assert float((boxed - whole).abs().max()) < 0.02
    assert torch.equal(boxed > 0.5, whole > 0.5) and int((whole > 0.5).sum()) > 500


def _textbook_guided_filter(probs: torch.Tensor, guide: torch.Tensor, radius: int, eps: float) -> torch.Tensor:
    """He et al.'s algorithm 1, one window mean at a time, one organ at a time."""
    out = []
    for o in range(probs.shape[1]):
        p = probs[:, o:o + 1]
        mean_i, mean_p = box_mean(guide, radius), box_mean(p, radius)
        a = (box_mean(guide * p, radius) - mean_i * mean_p) / (box_mean(guide * guide, radius) - mean_i ** 2 + eps)
        b = mean_p - a * mean_i
        out.append((box_mean(a, radius) * guide + box_mean(b, radius)).clamp(0.0, 1.0))
    return torch.cat(out, 1)


def test_several_organs_filtered_in_one_call_match_the_textbook_filter_organ_by_organ():
    rng = np.random.default_rng(5)
    probs = torch.from_numpy(rng.random((2, 4, 23, 31)).astype(np.float32))
    guide = torch.from_numpy(rng.random((2, 1, 23, 31)).astype(np.float32))
    for radius in (1, 3, 20):
        want = _textbook_guided_filter(probs, guide, radius, 1e-3)
        assert torch.allclose(guided_filter(probs, guide, radius, 1e-3), want, atol=1e-6)
