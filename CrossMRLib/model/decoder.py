"""Organ-query decoder: masked cross-attention to the target, self-attention within each organ's group
[its queries + its visual tokens], FFN; a mask head and a score head after every layer."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .posenc import grid_coords, sine_encoding


def downsample_bilinear(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """`F.interpolate(x, size, mode="bilinear", align_corners=False)` for shrinking (..., H, W) by even
    integer factors, where every output pixel is the mean of the 2 x 2 input pixels around its centre:
    taken by strided slicing, several times faster on the CPU. Other sizes go through `F.interpolate`."""
    (h, w), (oh, ow) = x.shape[-2:], size
    if h % oh or w % ow or (h // oh) % 2 or (w // ow) % 2:
        return F.interpolate(x, size=size, mode="bilinear", align_corners=False)
    sh, sw = h // oh, w // ow
    rows = x[..., sh // 2 - 1::sh, :] + x[..., sh // 2::sh, :]
    return 0.25 * (rows[..., sw // 2 - 1::sw] + rows[..., sw // 2::sw])


class SparseMaskProduct(torch.autograd.Function):
    """Mask logits (B, Q, P) = embeddings (B, Q, D) @ features (B, D, P), with a backward pass that skips the
    queries whose mask gradient is zero. The loss supervises only the matched queries' masks (at most one
    per organ of the O x N queries), so most rows of the gradient are zero and the full backward products
    compute mostly zeros (skipping them: about 3 % off a CPU training step, docs/architecture.md)."""

    @staticmethod
    def forward(ctx, embed: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(embed, features)
        return torch.bmm(embed, features)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        embed, features = ctx.saved_tensors
        grad_embed = torch.zeros_like(embed) if ctx.needs_input_grad[0] else None
        grad_features = torch.empty_like(features) if ctx.needs_input_grad[1] else None
        live = (grad != 0).any(-1)  # (B, Q); NaN counts as live, so it still reaches the weights
        for b in range(grad.shape[0]):
            rows = live[b].nonzero()[:, 0]
            g = grad[b, rows]  # (m, P)
            if grad_embed is not None and len(rows):
                grad_embed[b, rows] = g @ features[b].transpose(0, 1)
            if grad_features is not None:
                torch.mm(embed[b, rows].transpose(0, 1), g, out=grad_features[b])  # zero for m = 0
        return grad_embed, grad_features


def mask_product(embed: torch.Tensor, mask_features: torch.Tensor) -> torch.Tensor:
    """(B, Q, D) embeddings x (B, D, h, w) features -> (B, Q, h, w) mask logits; when gradients flow on the
    CPU (no autocast), through `SparseMaskProduct` (a GPU would wait on its per-sample steps instead)."""
    b, d, h, w = mask_features.shape
    if (torch.is_grad_enabled() and (embed.requires_grad or mask_features.requires_grad)
            and embed.device.type == "cpu" and not torch.is_autocast_enabled("cpu")):
        return SparseMaskProduct.apply(embed, mask_features.reshape(b, d, h * w)).view(b, -1, h, w)
    return torch.einsum("bqd,bdhw->bqhw", embed, mask_features)


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

    @staticmethod
    def _mask_logits(embed: torch.Tensor, mask_features: torch.Tensor, projection: nn.Conv2d | None
                     ) -> torch.Tensor:
        """(B, Q, h, w) mask logits: embeddings (B, Q, D) times features (B, D, h, w); `projection`: a
        1 x 1 convolution still to be applied to the features, folded into the embeddings instead."""
        if projection is None:
            return mask_product(embed, mask_features)
        bias = embed @ projection.bias
        embed = embed @ projection.weight[:, :, 0, 0]
        return mask_product(embed, mask_features) + bias[..., None, None]

    def _blocked(self, small: torch.Tensor) -> torch.Tensor:
        """Attention mask (B * heads, Q, hw) from mask logits at the next level's size."""
        blocked = small.flatten(2) < 0.0  # sigmoid < 0.5
        blocked[blocked.all(-1)] = False  # a query predicting nothing may look everywhere
        return blocked.repeat_interleave(self.heads, dim=0)

    def _heads(self, queries: torch.Tensor, mask_features: torch.Tensor, next_size: tuple[int, int] | None,
               projection: nn.Conv2d | None = None) -> tuple[dict, torch.Tensor | None]:
        b = queries.shape[0]
        x = self.out_norm(queries)
        masks = self._mask_logits(self.mask_embed(x), mask_features, projection)
        scores = self.score(x)[..., 0]
        pred = {"masks": masks.reshape(b, self.num_organs, self.num_queries, *masks.shape[-2:]),
                "scores": scores.reshape(b, self.num_organs, self.num_queries)}
        if next_size is None:
            return pred, None
        return pred, self._blocked(downsample_bilinear(masks.detach(), next_size))

    def _attention_only(self, queries: torch.Tensor, small_features: torch.Tensor,
                        projection: nn.Conv2d | None) -> torch.Tensor:
        """The attention mask of `_heads` from mask features already resized to the next level: bilinear
        resizing and the mask product are both linear, so this is the same mask without the full-size one."""
        return self._blocked(self._mask_logits(self.mask_embed(self.out_norm(queries)), small_features, projection))

    def forward(self, features: list[torch.Tensor], mask_features: torch.Tensor,
                tokens: list[torch.Tensor], projection: nn.Conv2d | None = None,
                final_only: bool = False) -> list[dict]:
        """features: target levels (B, D, h, w), coarse to fine; tokens: per level (B, O, T, D);
        `projection`: a 1 x 1 convolution not yet applied to `mask_features` (see `_mask_logits`).

        Returns one prediction per layer (plus the initial one), each {"masks": (B, O, N, H2, W2),
        "scores": (B, O, N)}; the last is the final output. `final_only`: the final prediction alone.
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
        if final_only:  # the earlier layers' masks only at the sizes their attention masks need
            small = {m[2]: downsample_bilinear(mask_features, m[2]) for m in memories}
            attn_mask = self._attention_only(queries, small[memories[0][2]], projection)
        else:
            pred, attn_mask = self._heads(queries, mask_features, memories[0][2], projection)
            preds = [pred]
        for i, layer in enumerate(self.layers):
            memory, memory_pos, _ = memories[i % self.num_levels]
            queries = layer(queries, query_pos, memory, memory_pos, attn_mask, tokens[i % self.num_levels])
            next_size = None if i == len(self.layers) - 1 else memories[(i + 1) % self.num_levels][2]
            if final_only and next_size is not None:
                attn_mask = self._attention_only(queries, small[next_size], projection)
                continue
            pred, attn_mask = self._heads(queries, mask_features, next_size, projection)
            if final_only:
                return [pred]
            preds.append(pred)
        return preds
