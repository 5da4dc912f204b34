"""Shapes and masking of every CrossMR network block, organ-specific matching, and the loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from torch import nn

from CrossMRLib.model.activations import LayoutGELU
from CrossMRLib.model.config import ModelConfig
from CrossMRLib.model.decoder import DecoderLayer, downsample_bilinear, mask_product
from CrossMRLib.model.losses import crossmr_loss
from CrossMRLib.model.matching import match_batch, match_sample, organ_cost_matrix
from CrossMRLib.model.network import CrossMRNet, probabilities_to_labels, select_outputs
from CrossMRLib.model.sampler import choose_points

SMALL = ModelConfig(input_size=64, embed_dim=16, depths=(1, 1, 1, 1), hidden_dim=32, num_queries=3, num_points=4)


@pytest.fixture(scope="module")
def net() -> CrossMRNet:
    torch.manual_seed(0)
    return CrossMRNet(SMALL).eval()


def _scribbles(b: int = 2) -> torch.Tensor:
    s = torch.zeros(b, 4, 64, 64, dtype=torch.bool)
    s[:, 0, 20:24, 10:30] = True
    s[0, 2, 40:44, 45:50] = True
    return s


def test_encoder_and_fpn_shapes(net):
    stages = net.encoder(torch.rand(2, 1, 64, 64))
    assert [tuple(t.shape[-2:]) for t in stages] == [(16, 16), (8, 8), (4, 4), (2, 2)]
    feats = net.encode(torch.rand(2, 1, 64, 64))
    assert [tuple(f.shape) for f in feats.levels] == [(2, 32, 2, 2), (2, 32, 4, 4), (2, 32, 8, 8)]
    assert tuple(feats.mask.shape) == (2, 32, 32, 32)  # stride-2 mask features
    assert net.encode(torch.rand(2, 1, 64, 64), mask_rows=None).mask is None  # reference slices need none
    part = net.encode(torch.rand(3, 1, 64, 64), mask_rows=slice(1, 3))
    assert tuple(part.mask.shape) == (2, 32, 32, 32) and tuple(part.levels[0].shape) == (3, 32, 2, 2)


def test_reference_slices_get_the_decoder_levels_of_target_slices(net):
    """Reference slices skip the mask-only stride-4 level: their token levels are those a target gets."""
    images = torch.rand(3, 1, 64, 64)
    with torch.no_grad():
        reference, target = net.encode(images, mask_rows=None), net.encode(images)
    assert all(torch.equal(r, t) for r, t in zip(reference.levels, target.levels))


def test_inference_decoding_gives_the_final_layer_of_full_decoding(net):
    """`encode(project_mask=False)` + `decode(final_only=True)` (what inference runs) folds the mask
    features' last convolution into the mask embeddings and skips the earlier layers' full-size masks:
    the same final masks and scores."""
    with torch.no_grad():
        tokens, _ = net.tokens(net.encode(torch.rand(2, 1, 64, 64), mask_rows=None), _scribbles())
        target = torch.rand(2, 1, 64, 64)
        full = net.decode(net.encode(target), tokens)
        fast = net.decode(net.encode(target, project_mask=False), tokens, final_only=True)
    assert len(full) == 1 + len(net.decoder.layers) and len(fast) == 1
    assert torch.allclose(fast[0]["masks"], full[-1]["masks"], atol=1e-4)
    assert torch.allclose(fast[0]["scores"], full[-1]["scores"], atol=1e-5)
    assert not torch.allclose(fast[0]["masks"], full[-2]["masks"], atol=1e-4)  # not just any layer


def test_training_forward_folds_the_mask_projection_with_the_same_masks_and_gradients(net):
    """Training decodes with the mask features' last 1 x 1 convolution folded into the embeddings: every
    layer's masks are those of the unfolded path, and the convolution's weights still get gradients."""
    torch.manual_seed(2)
    reference, target = torch.rand(2, 1, 64, 64), torch.rand(2, 1, 64, 64)
    preds, _ = net(reference, _scribbles(), target, torch.Generator().manual_seed(0))
    feats = net.encode(torch.cat([reference, target]), mask_rows=slice(2, 4))
    tokens, _ = net.tokens(net.encode(reference, mask_rows=None), _scribbles(), torch.Generator().manual_seed(0))
    plain = net.decode(type(feats)([f[2:] for f in feats.levels], feats.mask), tokens)
    assert len(preds) == len(plain)
    for folded, unfolded in zip(preds, plain):
        assert torch.allclose(folded["masks"], unfolded["masks"], atol=1e-4)
    net.zero_grad()
    preds[-1]["masks"].square().mean().backward()
    assert net.fpn.mask_projection.weight.grad.abs().sum() > 0
    net.zero_grad()


def test_layout_gelu_matches_gelu_for_channels_last_inputs_and_replaces_every_gelu(net):
    """The encoder's activations are channels-last while their gradients arrive NCHW: `LayoutGELU` gives
    GELU's values and derivative there (and everywhere else), and the network holds no plain GELU."""
    torch.manual_seed(3)
    x = torch.randn(2, 8, 5, 6).to(memory_format=torch.channels_last)
    upstream = torch.randn(2, 8, 5, 6)  # NCHW-contiguous
    def value_and_grad(fn: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
        leaf = x.detach().clone().requires_grad_(True)
        out = fn(leaf)
        out.backward(upstream)
        return out.detach(), leaf.grad

    (plain_out, plain_grad), (out, grad) = value_and_grad(nn.GELU()), value_and_grad(LayoutGELU())
    assert torch.equal(out, plain_out)
    assert torch.allclose(grad, plain_grad, atol=1e-6)
    gelus = [m for m in net.modules() if isinstance(m, nn.GELU)]
    assert gelus and all(isinstance(m, LayoutGELU) for m in gelus)


def test_mask_product_gradients_match_the_plain_product_when_few_queries_are_supervised():
    torch.manual_seed(1)
    embed = torch.randn(3, 10, 8, requires_grad=True)
    features = torch.randn(3, 8, 5, 6, requires_grad=True)
    weights = [torch.zeros(3, 10, 5, 6), torch.randn(3, 10, 5, 6)]  # a few matched queries; every query
    weights[0][0, 2] = torch.randn(5, 6)
    weights[0][2, 7] = torch.randn(5, 6)
    for weight in weights:
        grads = []
        for product in (mask_product, lambda e, f: torch.einsum("bqd,bdhw->bqhw", e, f)):
            embed.grad = features.grad = None
            (product(embed, features) * weight).sum().backward()
            grads.append((embed.grad.clone(), features.grad.clone()))
        assert torch.allclose(grads[0][0], grads[1][0], atol=1e-5)
        assert torch.allclose(grads[0][1], grads[1][1], atol=1e-5)
    with torch.no_grad():
        assert torch.allclose(mask_product(embed, features), torch.einsum("bqd,bdhw->bqhw", embed, features))


def test_strided_downsampling_matches_bilinear_interpolation():
    x = torch.rand(2, 3, 32, 48)
    for size in [(16, 24), (8, 6), (2, 3), (4, 8)]:
        want = torch.nn.functional.interpolate(x, size=size, mode="bilinear", align_corners=False)
        assert torch.allclose(downsample_bilinear(x, size), want, atol=1e-6), size
    odd = torch.nn.functional.interpolate(x, size=(32, 16), mode="bilinear", align_corners=False)  # factor 3
    assert torch.equal(downsample_bilinear(x, (32, 16)), odd)


def test_sampler_points_lie_on_scribbles_and_flag_missing_organs():
    s = _scribbles()
    coords, valid = choose_points(s, 6, torch.Generator().manual_seed(1))
    assert valid.tolist() == [[True, False, True, False], [True, False, False, False]]
    cols = (coords[..., 0] * 64 - 0.5).round().long()
    rows = (coords[..., 1] * 64 - 0.5).round().long()
    for b, o in [(0, 0), (0, 2), (1, 0)]:
        assert s[b, o, rows[b, o], cols[b, o]].all()
    again, _ = choose_points(s, 6)  # no generator: deterministic
    assert torch.equal(again, choose_points(s, 6)[0])


def test_tokens_shape_and_position_encoding_separates_sides(net):
    feats = net.encode(torch.zeros(1, 1, 64, 64))  # identical features everywhere
    left = torch.zeros(1, 4, 64, 64, dtype=torch.bool)
    left[0, 1, 30:34, 8:14] = True
    right = left.flip(-1)
    tl, valid = net.tokens(feats, left)
    tr, _ = net.tokens(feats, right)
    assert [tuple(t.shape) for t in tl] == [(1, 4, 5, 32)] * 3
    assert valid[0].tolist() == [False, True, False, False]
    assert not torch.allclose(tl[0][0, 1], tr[0][0, 1], atol=1e-3)


def test_cross_attention_mask_blocks_masked_memory():
    torch.manual_seed(0)
    layer = DecoderLayer(16, 2).eval()
    q, qpos = torch.randn(1, 4, 16), torch.randn(1, 4, 16)
    mem, mpos = torch.randn(1, 10, 16), torch.randn(1, 10, 16)
    tokens = torch.randn(1, 2, 3, 16)
    blocked = torch.zeros(1, 4, 10, dtype=torch.bool)
    blocked[0, :2, 5:] = True  # organ 0's two queries may only look at memory 0..4
    blocked = blocked.repeat_interleave(2, 0)
    out = layer(q, qpos, mem, mpos, blocked, tokens)
    changed = mem.clone()
    changed[0, 5:] += 5.0
    out2 = layer(q, qpos, changed, mpos, blocked, tokens)
    assert torch.allclose(out[0, :2], out2[0, :2], atol=1e-5)  # masked queries unaffected
    assert not torch.allclose(out[0, 2], out2[0, 2], atol=1e-3)  # unmasked queries see the change


def test_organ_groups_are_independent(net):
    """Changing one organ's scribbles never changes another organ's predictions."""
    ref, tgt = torch.rand(1, 1, 64, 64), torch.rand(1, 1, 64, 64)
    s = _scribbles(1)
    other = s.clone()
    other[0, 2] = False
    other[0, 2, 10:14, 10:14] = True
    with torch.no_grad():
        a, _ = net(ref, s, tgt)
        b, _ = net(ref, other, tgt)
    for pa, pb in zip(a[1:], b[1:]):  # a[0] comes before any layer has seen tokens
        assert torch.allclose(pa["masks"][:, 0], pb["masks"][:, 0], atol=1e-5)
        assert not torch.allclose(pa["masks"][:, 2], pb["masks"][:, 2], atol=1e-4)


def test_network_outputs_and_selection(net):
    with torch.no_grad():
        preds, valid = net(torch.rand(2, 1, 64, 64), _scribbles(), torch.rand(2, 1, 64, 64))
    assert len(preds) == 4  # initial prediction + 3 decoder layers (deep supervision)
    assert tuple(preds[-1]["masks"].shape) == (2, 4, 3, 32, 32)
    assert tuple(preds[-1]["scores"].shape) == (2, 4, 3)
    probs = select_outputs(preds[-1], valid, (50, 70))
    assert tuple(probs.shape) == (2, 4, 50, 70)
    assert probs[~valid].abs().sum() == 0  # organs without scribbles are never predicted
    labels = probabilities_to_labels(probs)
    assert labels.dtype == torch.uint8 and not (labels[1] == 3).any()


def test_matching_never_assigns_across_organs():
    rng = torch.Generator().manual_seed(0)
    for trial in range(20):
        masks = torch.randn(4, 3, 8, 8, generator=rng)
        targets = (torch.rand(4, 8, 8, generator=rng) > 0.5).float()
        organs = sorted(np.random.default_rng(trial).choice(4, size=int(1 + trial % 4), replace=False).tolist())
        # make another organ's query the best fit for this organ's mask: it still must not be chosen
        masks[(organs[0] + 1) % 4, 0] = (targets[organs[0]] * 40 - 20)
        scores = torch.randn(4, 3, generator=rng) * 5
        scores[(organs[0] + 1) % 4] = 20.0  # another organ's queries claim everything: still not matched
        pairs = match_sample(masks, targets, organs, scores if trial % 2 else None)
        assert sorted(o for o, _ in pairs) == organs
        assert all(0 <= q < 3 for _, q in pairs)
    cost = organ_cost_matrix(np.random.default_rng(0).random((2, 3)), [0, 1])  # 2 organs x 3 queries
    assert np.isinf(cost[:3, 1]).all() and np.isinf(cost[3:, 0]).all() and np.isfinite(cost[:3, 0]).all()


def test_batch_matching_picks_each_organs_cheapest_own_query():
    """The whole-batch matching (one host copy per layer) equals matching every sample on its own with the
    pairwise 2 BCE + 2 Dice - 2 sigmoid(score) cost: with one mask per organ, each present organ gets the
    cheapest of its own queries."""
    rng = torch.Generator().manual_seed(1)
    masks = torch.randn(6, 4, 5, 8, 8, generator=rng) * 3
    targets = (torch.rand(6, 4, 8, 8, generator=rng) > 0.6).float()
    present = torch.rand(6, 4, generator=rng) > 0.3
    scores = torch.randn(6, 4, 5, generator=rng)
    expected = []
    for b in range(6):
        for organ in present[b].nonzero().flatten().tolist():
            logits, truth = masks[b, organ].flatten(1), targets[b, organ].flatten()
            bce = torch.nn.functional.binary_cross_entropy_with_logits(
                logits, truth.expand_as(logits), reduction="none").mean(1)
            probs = logits.sigmoid()
            dice = 1 - (2 * probs @ truth + 1) / (probs.sum(1) + truth.sum() + 1)
            expected.append((b, organ, int((2 * bce + 2 * dice - 2 * scores[b, organ].sigmoid()).argmin())))
    assert sorted(match_batch(masks, targets, present, scores)) == sorted(expected)
    assert match_batch(masks, targets, torch.zeros(6, 4, dtype=torch.bool), scores) == []


def test_loss_trains_absent_organs_to_score_low(net):
    with torch.no_grad():
        preds, valid = net(torch.rand(1, 1, 64, 64), _scribbles(1), torch.rand(1, 1, 64, 64))
    targets = torch.zeros(1, 4, 64, 64)
    targets[0, 0, 10:40, 10:40] = 1.0  # liver present, left kidney (scribbled) absent from the target
    loss, parts = crossmr_loss(preds, valid, targets)
    assert torch.isfinite(loss) and set(parts) == {"bce", "dice", "score", "presence"}
    # push every score of organ 2 (absent) up: the score loss must grow
    high = [{"masks": p["masks"], "scores": p["scores"].clone()} for p in preds]
    for p in high:
        p["scores"][0, 2] = 8.0
    worse = crossmr_loss(high, valid, targets)[1]
    assert worse["score"] > parts["score"] and worse["presence"] > parts["presence"]


def test_mask_loss_reaches_only_the_matched_query_of_each_present_organ():
    """Sample 0: liver and left kidney present; sample 1: liver only. Query 1 of each organ fits its mask."""
    targets = torch.zeros(2, 4, 8, 8)
    targets[:, 0, :4] = 1.0
    targets[0, 2, 5:, 5:] = 1.0
    masks = torch.full((2, 4, 3, 8, 8), -20.0)
    masks[:, :, 1] = targets * 40 - 20
    masks.requires_grad_(True)
    scores = torch.zeros(2, 4, 3)
    scores[:, :, 1] = 5.0
    valid = torch.ones(2, 4, dtype=torch.bool)
    loss, parts = crossmr_loss([{"masks": masks, "scores": scores}], valid, targets)
    assert parts["bce"] < 1e-3 and parts["dice"] < 0.05  # the fitting queries were the ones scored
    loss.backward()
    touched = masks.grad.flatten(3).abs().sum(-1) > 0
    expected = torch.zeros(2, 4, 3, dtype=torch.bool)
    expected[0, 0, 1] = expected[0, 2, 1] = expected[1, 0, 1] = True
    assert torch.equal(touched, expected)
