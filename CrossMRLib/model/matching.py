"""Organ-specific bipartite matching: queries may only be matched to the ground truth of their own organ."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment

COST_BCE = 2.0
COST_DICE = 2.0
COST_SCORE = 2.0  # like Mask2Former's class cost: favours the query that already claims the organ


def pair_costs(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """(Q, P) mask logits vs (G, P) targets in [0, 1] -> (Q, G) cost = 2 BCE + 2 Dice (mean over pixels)."""
    pos = F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits), reduction="none")
    neg = F.binary_cross_entropy_with_logits(logits, torch.zeros_like(logits), reduction="none")
    bce = (pos @ targets.T + neg @ (1 - targets).T) / logits.shape[1]
    probs = logits.sigmoid()
    dice = 1 - (2 * probs @ targets.T + 1) / (probs.sum(-1)[:, None] + targets.sum(-1)[None] + 1)
    return COST_BCE * bce + COST_DICE * dice


def organ_cost_matrix(logits: torch.Tensor, targets: torch.Tensor, query_organ: np.ndarray,
                      target_organ: np.ndarray, scores: torch.Tensor | None = None) -> np.ndarray:
    """Full cost matrix (Q, G) with +inf wherever a query's organ differs from the target's organ.

    Cost = 2 BCE + 2 Dice (+ 2 x -sigmoid(score) when `scores` (Q,) are given)."""
    cost = pair_costs(logits, targets)
    if scores is not None:
        cost = cost - COST_SCORE * scores.sigmoid()[:, None]
    cost = cost.detach().cpu().double().numpy()
    cost[np.asarray(query_organ)[:, None] != np.asarray(target_organ)[None, :]] = np.inf
    return cost


@torch.no_grad()
def match_sample(masks: torch.Tensor, targets: torch.Tensor, organs: list[int],
                 scores: torch.Tensor | None = None) -> list[tuple[int, int]]:
    """Match one sample's queries to its ground-truth organ masks.

    `masks`: (O, N, h, w) logits; `targets`: (O, H, W) masks per organ; `organs`: organ indices (0-based)
    that have a ground truth to match; `scores` (O, N) optional score logits. Returns (organ, query)
    pairs, one per organ in `organs`.
    """
    if not organs:
        return []
    o, n, h, w = masks.shape
    small = targets[organs].float()
    if small.shape[-2:] != (h, w):
        small = F.interpolate(small[None], size=(h, w), mode="area")[0]
    small = small.flatten(1)
    query_organ = np.repeat(np.arange(o), n)
    rows, cols = linear_sum_assignment(organ_cost_matrix(masks.flatten(2).reshape(o * n, -1), small,
                                                         query_organ, np.asarray(organs),
                                                         None if scores is None else scores.reshape(-1)))
    pairs = []
    for r, c in zip(rows, cols):
        organ, query = divmod(int(r), n)
        if organ != organs[c]:
            raise AssertionError("matching assigned a query to another organ's mask")
        pairs.append((organ, query))
    return pairs
