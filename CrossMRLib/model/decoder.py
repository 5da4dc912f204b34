"""Organ-query decoder: masked cross-attention to the target, self-attention within each organ's group
[its queries + its visual tokens], FFN; a mask head and a score head after every layer."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .posenc import grid_coords, sine_encoding


class DecoderLayer(nn.Module):
    """One decoder layer (cross-attention, grouped self-attention, FFN; post-norm like Mask2Former)."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.cross = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.self_attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.ffn = nn.Sequential(nn.Linear(dim, dim * 4), nn.GELU(), nn.Linear(dim * 4, dim))
        self.norms = nn.ModuleList(nn.LayerNorm(dim) for _ in range(3))

    def forward(self, queries: torch.Tensor, query_pos: torch.Tensor, memory: torch.Tensor,
                memory_pos: torch.Tensor, attn_mask: torch.Tensor | None, tokens: torch.Tensor) -> torch.Tensor:
        """queries (B, O*N, D); memory (B, HW, D); attn_mask (B*heads, O*N, HW) bool (True = blocked);
        tokens (B, O, T, D). Returns updated queries."""
        b, q, d = queries.shape
        o, t = tokens.shape[1], tokens.shape[2]
        n = q // o
        out, _ = self.cross(queries + query_pos, memory + memory_pos, memory, attn_mask=attn_mask,
                            need_weights=False)
        queries = self.norms[0](queries + out)
        group = torch.cat([queries.reshape(b, o, n, d), tokens], dim=2).reshape(b * o, n + t, d)
        group_pos = torch.cat([query_pos.reshape(b, o, n, d), torch.zeros_like(tokens)], dim=2).reshape(b * o, n + t, d)
        out, _ = self.self_attn(group + group_pos, group + group_pos, group, need_weights=False)
        queries = self.norms[1](queries + out[:, :n].reshape(b, q, d))
        return self.norms[2](queries + self.ffn(queries))


class OrganDecoder(nn.Module):
    """N learnable queries duplicated per organ, decoded against the target's multi-scale features."""

    def __init__(self, dim: int, heads: int, num_queries: int, num_organs: int, num_levels: int = 3,
                 rounds: int = 1) -> None:
        super().__init__()
        self.dim, self.heads, self.num_queries, self.num_organs = dim, heads, num_queries, num_organs
        self.num_levels = num_levels
        self.query_feat = nn.Parameter(torch.randn(num_queries, dim) * 0.02)
        self.query_pos = nn.Parameter(torch.randn(num_queries, dim) * 0.02)
        self.organ_embed = nn.Parameter(torch.randn(num_organs, dim) * 0.02)
        self.level_embed = nn.Parameter(torch.zeros(num_levels, dim))
        self.memory_pos = nn.Linear(dim, dim)
        self.layers = nn.ModuleList(DecoderLayer(dim, heads) for _ in range(num_levels * rounds))
        self.out_norm = nn.LayerNorm(dim)
        self.mask_embed = nn.Sequential(nn.Linear(dim, dim), nn.GELU(), nn.Linear(dim, dim), nn.GELU(),
                                        nn.Linear(dim, dim))
        self.score = nn.Linear(dim, 1)

    def _heads(self, queries: torch.Tensor, mask_features: torch.Tensor,
               next_size: tuple[int, int] | None) -> tuple[dict, torch.Tensor | None]:
        b = queries.shape[0]
        x = self.out_norm(queries)
        masks = torch.einsum("bqd,bdhw->bqhw", self.mask_embed(x), mask_features)
        scores = self.score(x)[..., 0]
        pred = {"masks": masks.reshape(b, self.num_organs, self.num_queries, *masks.shape[-2:]),
                "scores": scores.reshape(b, self.num_organs, self.num_queries)}
        if next_size is None:
            return pred, None
        small = F.interpolate(masks.detach(), size=next_size, mode="bilinear", align_corners=False)
        blocked = small.flatten(2) < 0.0  # sigmoid < 0.5
        blocked[blocked.all(-1)] = False  # a query predicting nothing may look everywhere
        return pred, blocked.repeat_interleave(self.heads, dim=0)

    def forward(self, features: list[torch.Tensor], mask_features: torch.Tensor,
                tokens: list[torch.Tensor]) -> list[dict]:
        """features: target levels (B, D, h, w), coarse to fine; tokens: per level (B, O, T, D).

        Returns one prediction per layer (plus the initial one), each {"masks": (B, O, N, H2, W2),
        "scores": (B, O, N)}; the last is the final output.
        """
        b = mask_features.shape[0]
        o, n = self.num_organs, self.num_queries
        queries = (self.query_feat[None] + self.organ_embed[:, None]).reshape(1, o * n, -1).expand(b, -1, -1)
        query_pos = self.query_pos[None].expand(o, -1, -1).reshape(1, o * n, -1).expand(b, -1, -1)
        memories = []
        for level, feat in enumerate(features):
            h, w = feat.shape[-2:]
            pos = self.memory_pos(sine_encoding(grid_coords(h, w, feat.device), self.dim)) + self.level_embed[level]
            memories.append((feat.flatten(2).transpose(1, 2), pos[None].expand(b, -1, -1), (h, w)))
        pred, attn_mask = self._heads(queries, mask_features, memories[0][2])
        preds = [pred]
        for i, layer in enumerate(self.layers):
            memory, memory_pos, _ = memories[i % self.num_levels]
            queries = layer(queries, query_pos, memory, memory_pos, attn_mask, tokens[i % self.num_levels])
            last = i == len(self.layers) - 1
            pred, attn_mask = self._heads(queries, mask_features, None if last else memories[(i + 1) % self.num_levels][2])
            preds.append(pred)
        return preds
