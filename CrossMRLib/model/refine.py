"""Edge-aware sharpening of the network's organ probabilities with the full-resolution target image.

The network paints masks on a coarse grid (half its input side, itself smaller than most images), so its organ
boundaries are soft and can sit a few pixels off the organ's edge. A guided filter (He, Sun and Tang, "Guided Image
Filtering", 2010) fits, in every window of the target slice, the probabilities as a linear function of the
image; where the window straddles an organ edge the fit follows the edge, elsewhere it only smooths. The
radius and eps are the best of those compared on the calibration studies (generated seeds 6..10, used
neither for training nor for evaluation); see docs/architecture.md.
"""

from __future__ import annotations

from typing import Iterable, Iterator, Sequence

import numpy as np
import torch

RADIUS_MM = 6.0  # window half-width in the target's in-plane millimetres
SUPPORT = 0.01  # probabilities at or below this are "nothing" when choosing where to filter (see `support_window`)
EPS = 1e-3  # regularisation on the [0, 1]-normalised image: edges weaker than about sqrt(EPS) are smoothed over


def _window_sum(x: torch.Tensor, radius: int, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Sums of `x` over windows of +-radius along `dim` (negative), clipped at the borders, and the window
    sizes. Differences of a cumulative sum, taken by slicing (much faster than gathering indices)."""
    n = x.shape[dim]
    radius = min(radius, n - 1)
    cumulative = torch.cumsum(x, dim)
    last = cumulative.narrow(dim, n - 1, 1)
    repeat = [-1] * x.dim()
    repeat[dim] = radius
    upper = torch.cat([cumulative.narrow(dim, radius, n - radius), last.expand(*repeat)], dim)
    lower = torch.cat([torch.zeros_like(cumulative.narrow(dim, 0, radius + 1)),
                       cumulative.narrow(dim, 0, n - radius - 1)], dim)
    index = torch.arange(n)
    counts = (index + radius + 1).clamp(max=n) - (index - radius).clamp(min=0)
    return upper - lower, counts.to(x.dtype)


def box_mean(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Mean of (..., H, W) `x` over (2 radius + 1)^2 windows; windows are clipped at the image border."""
    rows, row_counts = _window_sum(x, radius, -2)
    both, col_counts = _window_sum(rows, radius, -1)
    return both / (row_counts[:, None] * col_counts[None, :])


def guided_filter(probs: torch.Tensor, guide: torch.Tensor, radius: int, eps: float = EPS) -> torch.Tensor:
    """(B, O, H, W) probabilities filtered with (B, 1, H, W) `guide` (values in [0, 1]); output in [0, 1].
    The window means are taken two at once (the four first-order ones in one stacked call, then those of the
    coefficients): the same sums as one call each, with a third of the calls (a call costs more than its
    arithmetic on an organ's window)."""
    organs = probs.shape[1]
    means = box_mean(torch.cat([guide, guide * guide, probs, guide * probs], 1), radius)
    mean_i, mean_ii = means[:, :1], means[:, 1:2]
    mean_p, mean_ip = means[:, 2:2 + organs], means[:, 2 + organs:]
    a = (mean_ip - mean_i * mean_p) / (mean_ii - mean_i * mean_i + eps)
    b = mean_p - a * mean_i
    smoothed = box_mean(torch.cat([a, b], 1), radius)
    return (smoothed[:, :organs] * guide + smoothed[:, organs:]).clamp(0.0, 1.0)


def radius_pixels(spacing_ji_mm: Sequence[float], radius_mm: float = RADIUS_MM) -> int:
    """`radius_mm` in pixels of a grid with in-plane spacing (row, column) in mm (at least 1)."""
    return max(1, int(round(radius_mm / float(np.mean(spacing_ji_mm)))))


def refined_outputs(outputs: Iterable[tuple[int, int, torch.Tensor, torch.Tensor]], guide: np.ndarray,
                    radius: int, eps: float = EPS, min_presence: Sequence[float] | None = None
                    ) -> Iterator[tuple[int, int, torch.Tensor, torch.Tensor]]:
    """`iter_slice_outputs` batches with each organ's probabilities guided-filtered by the target slices
    (`guide` (K, J, I) in [0, 1], the target grid). Organs with no probability on a slice stay empty.
    `min_presence` (per organ): organs whose presence score on a slice is below it come back empty there
    without being filtered (the presence thresholds: those organs are left out of the slice anyway)."""
    for start, stop, probs, presence in outputs:
        image = torch.from_numpy(np.ascontiguousarray(guide[start:stop], dtype=np.float32))[:, None]
        probs = probs.float()
        keep = probs.flatten(2).amax(-1) > 0
        if min_presence is not None:
            keep &= presence >= torch.as_tensor(min_presence, dtype=presence.dtype)
        sharpened = torch.zeros_like(probs)
        for k, o in keep.nonzero().tolist():
            window = support_window(probs[k, o], radius)
            if window is not None:
                rows, cols = window
                sharpened[k, o, rows, cols] = guided_filter(probs[k:k + 1, o:o + 1, rows, cols],
                                                            image[k:k + 1, :, rows, cols], radius, eps)[0, 0]
        yield start, stop, sharpened, presence


def support_window(probs: torch.Tensor, radius: int) -> tuple[slice, slice] | None:
    """Rows and columns of the box around an (H, W) probability map's pixels above `SUPPORT`, widened by
    4 `radius` (None when there are none). The filter's output at a pixel depends on the probabilities
    within 2 `radius` of it through windows reaching 2 `radius` further, so outside the box it is within
    `SUPPORT` of 0: filtering only the box gives the same masks at a fraction of the cost (organs cover a
    small part of a slice)."""
    above = probs > SUPPORT
    rows = torch.nonzero(above.any(1))[:, 0]
    if len(rows) == 0:
        return None
    cols = torch.nonzero(above.any(0))[:, 0]
    margin = 4 * radius
    h, w = probs.shape
    return (slice(max(0, int(rows[0]) - margin), min(h, int(rows[-1]) + margin + 1)),
            slice(max(0, int(cols[0]) - margin), min(w, int(cols[-1]) + margin + 1)))
