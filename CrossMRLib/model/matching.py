"""Organ-specific bipartite matching: queries may only be matched to the ground truth of their own organ.

The costs of every query against its own organ's mask are computed on the device (on a GPU for the
whole batch at once) and copied to the host once per batch (`match_batch`); scipy's
`linear_sum_assignment` then matches each sample on a cost matrix that is infinite wherever a query's
organ differs from the mask's organ. One copy of the costs per decoder layer instead of one per sample
keeps a GPU step from waiting on hundreds of small transfers (`train/bench_matching.py`).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment

COST_BCE = 2.0
COST_DICE = 2.0
COST_SCORE = 2.0  # like Mask2Former's class cost: favours the query that already claims the organ


def own_organ_costs(masks: torch.Tensor, targets: torch.Tensor, scores: torch.Tensor | None = None
                    ) -> torch.Tensor:
    """(B, O, N, h, w) mask logits vs (B, O, h, w) organ masks in [0, 1] -> (B, O, N) cost of every
    query against its own organ's mask: 2 BCE (mean over pixels) + 2 Dice (- 2 sigmoid(score) with
    `scores` (B, O, N))."""
    logits = masks.flatten(3).float()  # (B, O, N, P)
    truth = targets.flatten(2)[..., None].float()  # (B, O, P, 1)
    # BCE(x, t) = softplus(x) - x t; the products with the truth as one matrix product per sample and organ
    bce = (F.softplus(logits).sum(-1) - (logits @ truth)[..., 0]) / logits.shape[-1]
    probs = logits.sigmoid()
    dice = 1 - (2 * (probs @ truth)[..., 0] + 1) / (probs.sum(-1) + truth.sum((-2, -1))[..., None] + 1)
    cost = COST_BCE * bce + COST_DICE * dice
    if scores is not None:
        cost = cost - COST_SCORE * scores.float().sigmoid()
    return cost


def organ_cost_matrix(costs: np.ndarray, organs: list[int]) -> np.ndarray:
    """One sample's own-organ costs (O, N) -> the full (O N, G) cost matrix for the organs `organs` (G),
    +inf wherever a query's organ differs from the mask's organ."""
    o, n = costs.shape
    full = np.full((o * n, len(organs)), np.inf)
    for column, organ in enumerate(organs):
        full[organ * n:(organ + 1) * n, column] = costs[organ]
    return full


def assign(costs: np.ndarray, organs: list[int]) -> list[tuple[int, int]]:
    """(organ, query) pairs, one per organ in `organs`, from one sample's own-organ costs (O, N)."""
    if not organs:
        return []
    n = costs.shape[1]
    rows, cols = linear_sum_assignment(organ_cost_matrix(costs, organs))
    pairs = []
    for r, c in zip(rows, cols):
        organ, query = divmod(int(r), n)
        if organ != organs[c]:
            raise AssertionError("matching assigned a query to another organ's mask")
        pairs.append((organ, query))
    return pairs


@torch.no_grad()
def match_batch(masks: torch.Tensor, targets: torch.Tensor, present: torch.Tensor,
                scores: torch.Tensor | None = None) -> list[tuple[int, int, int]]:
    """Match a batch: (sample, organ, query) for every organ present in a sample.

    `masks` (B, O, N, h, w) logits; `targets` (B, O, h, w) masks at mask resolution; `present` (B, O) bool,
    the organs to match; `scores` (B, O, N) optional score logits."""
    # on a CPU one sample at a time keeps the temporaries in cache (the whole batch at once is slower there)
    chunk = 1 if masks.device.type == "cpu" else masks.shape[0]
    costs = torch.cat([own_organ_costs(masks[i:i + chunk], targets[i:i + chunk],
                                       None if scores is None else scores[i:i + chunk])
                       for i in range(0, masks.shape[0], chunk)]).cpu().double().numpy()
    organs = present.cpu().numpy()
    return [(b, organ, query) for b in range(len(costs))
            for organ, query in assign(costs[b], np.flatnonzero(organs[b]).tolist())]


def match_sample(masks: torch.Tensor, targets: torch.Tensor, organs: list[int],
                 scores: torch.Tensor | None = None) -> list[tuple[int, int]]:
    """Match one sample's queries to its ground-truth organ masks.

    `masks`: (O, N, h, w) logits; `targets`: (O, H, W) masks per organ (area-resized to the mask grid);
    `organs`: organ indices (0-based) that have a ground truth to match; `scores` (O, N) optional score
    logits. Returns (organ, query) pairs, one per organ in `organs`.
    """
    if not organs:
        return []
    small = targets.float()
    if small.shape[-2:] != masks.shape[-2:]:
        small = F.interpolate(small[None], size=masks.shape[-2:], mode="area")[0]
    present = torch.zeros(masks.shape[0], dtype=torch.bool)
    present[organs] = True
    chosen = match_batch(masks[None], small[None], present[None], None if scores is None else scores[None])
    return [(organ, query) for _, organ, query in chosen]
