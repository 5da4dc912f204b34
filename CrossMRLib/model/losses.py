"""Training loss: matched-query BCE 2.5 + Dice 2.5 and a per-query score loss, with deep supervision."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .matching import match_batch

WEIGHT_BCE = 2.5
WEIGHT_DICE = 2.5
WEIGHT_SCORE = 2.0
WEIGHT_PRESENCE = 2.0  # organ level: the best query's score says whether the organ is in the target


def dice_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean soft Dice loss over rows of (M, P) logits vs targets."""
    probs = logits.sigmoid()
    return (1 - (2 * (probs * targets).sum(-1) + 1) / (probs.sum(-1) + targets.sum(-1) + 1)).mean()


def layer_loss(pred: dict, valid: torch.Tensor, targets: torch.Tensor, present: torch.Tensor | None = None
               ) -> dict[str, torch.Tensor]:
    """Loss of one decoder layer.

    `valid` (B, O): organs with reference scribbles (only those are supervised). `targets` (B, O, H, W):
    the organ masks in the target slice (all zero when the organ is absent). Every query of a valid organ
    gets a score target (1 for its matched query, 0 otherwise): absent organs learn to score low.
    """
    masks, scores = pred["masks"], pred["scores"]
    if targets.shape[-2:] != masks.shape[-2:]:  # supervise at mask resolution (soft, area-averaged targets)
        present = targets.flatten(2).any(-1) if present is None else present
        targets = F.interpolate(targets.float(), size=masks.shape[-2:], mode="area")
    present = (targets.flatten(2).any(-1) if present is None else present) & valid
    score_targets = torch.zeros_like(scores)
    chosen = match_batch(masks, targets, present, scores)  # (sample, organ, query)
    index = torch.tensor(chosen, dtype=torch.long, device=masks.device).reshape(-1, 3).unbind(1)
    score_targets[index] = 1.0
    score_weight = valid[..., None].expand_as(scores).float()
    score = F.binary_cross_entropy_with_logits(scores, score_targets, weight=score_weight, reduction="sum")
    score = score / score_weight.sum().clamp(min=1.0)
    best = scores.max(-1).values  # what inference thresholds
    presence = F.binary_cross_entropy_with_logits(best, present.float(), weight=valid.float(), reduction="sum")
    presence = presence / valid.float().sum().clamp(min=1.0)
    if chosen:
        # one gather (a per-match index would build a full-size gradient for every match)
        logits = masks[index].flatten(1)
        truth = targets[index[:2]].float().flatten(1)
        bce = F.binary_cross_entropy_with_logits(logits, truth)
        dice = dice_loss(logits, truth)
    else:
        bce = dice = masks.sum() * 0.0
    return {"bce": bce, "dice": dice, "score": score, "presence": presence}


def crossmr_loss(preds: list[dict], valid: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
    """Total loss summed over every decoder layer's prediction (deep supervision) and its final-layer parts."""
    total = targets.new_zeros((), dtype=torch.float32)
    parts: dict[str, float] = {}
    present = targets.flatten(2).any(-1)
    small = F.interpolate(targets.float(), size=preds[0]["masks"].shape[-2:], mode="area")
    for i, pred in enumerate(preds):
        terms = layer_loss(pred, valid, small, present)
        total = total + (WEIGHT_BCE * terms["bce"] + WEIGHT_DICE * terms["dice"] + WEIGHT_SCORE * terms["score"]
                         + WEIGHT_PRESENCE * terms["presence"])
        if i == len(preds) - 1:
            parts = {k: float(v.detach()) for k, v in terms.items()}
    return total, parts
