"""The CrossMR network: shared encoder + FPN, visual sampler on the reference, organ decoder on the target."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .activations import use_layout_gelu
from .config import ModelConfig
from .decoder import OrganDecoder
from .encoder import Encoder
from .fpn import FPN
from .sampler import VisualSampler, choose_points


@dataclass
class Features:
    """Encoded slice(s): decoder levels (strides 32, 16, 8) and stride-2 mask features."""

    levels: list[torch.Tensor]
    mask: torch.Tensor | None  # None for reference slices (only targets need mask features)
    mask_projected: bool = True  # False: the FPN's last mask convolution is left to the decoder


class CrossMRNet(nn.Module):
    """Reference slice + organ scribbles + target slice -> per-organ query masks and scores."""

    def __init__(self, config: ModelConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or ModelConfig()
        self.encoder = Encoder(config.embed_dim, config.depths)
        self.fpn = FPN(self.encoder.channels, config.hidden_dim)
        self.sampler = VisualSampler(config.hidden_dim, 3)
        self.decoder = OrganDecoder(config.hidden_dim, config.num_heads, config.num_queries, config.num_organs,
                                    3, config.decoder_rounds)
        use_layout_gelu(self)

    def encode(self, images: torch.Tensor, mask_rows: slice | None = slice(None), project_mask: bool = True
               ) -> Features:
        """(B, 1, S, S) images in [0, 1] -> features (shared by reference and target); mask features
        only for the rows `mask_rows` (None: reference slices, which need none). `project_mask=False`
        (inference) leaves the mask features' last, linear convolution to `decode`, which folds it into
        the mask embeddings: the same masks for less work."""
        levels, mask = self.fpn(images, self.encoder(images), mask_rows, project_mask)
        return Features(levels, mask, project_mask)

    def tokens(self, reference: Features, scribbles: torch.Tensor,
               generator: torch.Generator | None = None) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Visual tokens per level (B, O, P + 1, D) and `valid` (B, O) from (B, O, S, S) bool scribbles."""
        coords, valid = choose_points(scribbles, self.config.num_points, generator)
        return self.sampler(reference.levels, scribbles, coords), valid

    def decode(self, target: Features, tokens: list[torch.Tensor], final_only: bool = False) -> list[dict]:
        """Decoder predictions for every layer (last = final); `final_only` (inference): the final one
        alone, the earlier layers' masks computed only at the size their attention masks need."""
        projection = None if target.mask_projected else self.fpn.mask_projection
        return self.decoder(target.levels, target.mask, tokens, projection, final_only)

    def forward(self, reference: torch.Tensor, scribbles: torch.Tensor, target: torch.Tensor,
                generator: torch.Generator | None = None) -> tuple[list[dict], torch.Tensor]:
        """Encode both images in one batch, sample tokens from the reference, decode on the target."""
        b = reference.shape[0]
        feats = self.encode(torch.cat([reference, target], dim=0), mask_rows=slice(b, 2 * b), project_mask=False)
        ref = Features([f[:b] for f in feats.levels], None)
        tgt = Features([f[b:] for f in feats.levels], feats.mask, mask_projected=False)
        tokens, valid = self.tokens(ref, scribbles, generator)
        return self.decode(tgt, tokens), valid


def best_query_logits(pred: dict) -> torch.Tensor:
    """(B, O, h, w) mask logits of the best-scoring query per organ."""
    masks, scores = pred["masks"], pred["scores"]
    best = scores.argmax(-1)  # (B, O)
    return torch.gather(masks, 2, best[..., None, None, None].expand(-1, -1, 1, *masks.shape[-2:]))[:, :, 0]


def select_outputs(pred: dict, valid: torch.Tensor, out_size: tuple[int, int],
                   score_threshold: float = 0.5) -> torch.Tensor:
    """Final per-organ probabilities (B, O, H, W): the best-scoring query per organ, zero where the
    organ has no scribble or its best score is below `score_threshold` (organ absent)."""
    chosen = best_query_logits(pred)
    probs = torch.sigmoid(nn.functional.interpolate(chosen, size=out_size, mode="bilinear", align_corners=False))
    present = (torch.sigmoid(pred["scores"].max(-1).values) >= score_threshold) & valid
    return probs * present[..., None, None]


def probabilities_to_labels(probs: torch.Tensor) -> torch.Tensor:
    """(B, O, H, W) organ probabilities -> (B, H, W) uint8 labels (1..O, 0 where none exceeds 0.5)."""
    best = probs.max(1)
    labels = best.indices.to(torch.uint8) + 1
    labels[best.values < 0.5] = 0
    return labels
