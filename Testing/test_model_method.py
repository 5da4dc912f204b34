"""The model method's plumbing: per-organ nearest scribbled slice, token cache, cancel, errors, determinism."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from CrossMRLib.errors import Cancelled, InputError
from CrossMRLib.methods.crossmr_model import CrossMRModelMethod, default_weights
from CrossMRLib.model.config import ModelConfig
from CrossMRLib.model.inference import nearest_scribbled, prepare_scribbles, scribbled_presence
from CrossMRLib.model.network import CrossMRNet
from CrossMRLib.model.weights import save_weights
from CrossMRLib.pairing import identity_pairing, pair_slices
from CrossMRLib.series import Series, make_ijk_to_ras
from synthetic import noise_series

TINY = ModelConfig(input_size=64, embed_dim=16, depths=(1, 1, 1, 1), hidden_dim=32, num_queries=3, num_points=4)


@pytest.fixture(scope="module")
def method(tmp_path_factory) -> CrossMRModelMethod:
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("w") / "tiny.pt"
    save_weights(CrossMRNet(TINY), path)
    return CrossMRModelMethod(weights=path, threads=1)


def _series(name: str, shape, spacing, seed: int) -> Series:
    return noise_series(name, seed, shape, spacing)


def _scribbles(shape) -> np.ndarray:
    s = np.zeros(shape, np.uint8)
    s[2, 10:14, 10:30] = 1
    s[4, 25:28, 30:36] = 3
    return s


def test_nearest_scribbled_slice_per_organ():
    has = np.zeros((6, 4), bool)
    has[1, 0] = has[4, 0] = has[3, 2] = True
    out = nearest_scribbled(np.array([0, 2, 3, 5]), has)
    assert out[:, 0].tolist() == [1, 1, 4, 4]
    assert out[:, 2].tolist() == [3, 3, 3, 3]
    assert (out[:, [1, 3]] == -1).all()


def test_scribbled_presence_holds_within_half_a_slice_and_never_under_the_fallback():
    has = np.zeros((5, 4), bool)
    has[2, 1] = has[3, 0] = True
    out = scribbled_presence(has, np.array([2, 2, 3, 3]), np.array([0.0, 3.1, 2.9, np.nan]), 3.0)
    assert out.tolist() == [[False, True, False, False], [False, False, False, False],
                            [True, False, False, False], [False, False, False, False]]


def test_an_organ_scribbled_on_a_targets_position_is_present_whatever_its_score(tmp_path):
    """The user drew the organ there: a low presence score must not drop it from that slice."""
    torch.manual_seed(0)
    path = tmp_path / "strict.pt"
    save_weights(CrossMRNet(TINY), path, {"presence_thresholds": [0.999] * 4})
    strict = CrossMRModelMethod(weights=path, threads=1)
    ref = _series("ref", (6, 40, 48), (4.0, 4.0, 6.0), 0)
    scr = _scribbles(ref.shape)
    moved = Series(_series("t", ref.shape, (4.0, 4.0, 6.0), 1).array,
                   make_ijk_to_ras((4.0, 4.0, 6.0), (0, 0, 4.0)), "moved")  # slice k lies 2 mm from reference k + 1
    for target, liver_slice, kidney_slice in ((ref, 2, 4), (moved, 1, 3)):
        pairing = identity_pairing(ref) if target is ref else pair_slices(ref, target)
        presence = torch.cat([q for _, _, _, q in strict.slice_outputs(ref, scr, target, pairing)])
        assert presence[liver_slice, 0] == 1.0 and presence[kidney_slice, 2] == 1.0
        others = [k for k in range(6) if k != liver_slice]
        assert (presence[others, 0] < 1.0).all() and (presence[:, [1, 3]] == 0).all()


def test_the_users_strokes_are_labelled_as_drawn_on_the_reference_series(method):
    ref = _series("ref", (6, 40, 48), (4.0, 4.0, 6.0), 0)
    scr = _scribbles(ref.shape)
    scr[2, 20, 10:30] = 3  # a stroke the network could never guess
    out = method.segment_target(ref, scr, ref, identity_pairing(ref))
    assert np.array_equal(out[scr > 0], scr[scr > 0])


def test_thin_scribbles_survive_downsampling():
    s = np.zeros((1, 256, 256), np.uint8)
    s[0, 100, 40:200] = 2  # a one-pixel-thin stroke
    masks = prepare_scribbles(s, 4, 128)
    assert masks.shape == (1, 4, 128, 128) and masks[0, 1].sum() >= 70 and not masks[0, [0, 2, 3]].any()


def _reference_target_scribbles() -> tuple[Series, Series, np.ndarray]:
    ref = _series("ref", (6, 40, 48), (4.0, 4.0, 6.0), 0)
    return ref, _series("tgt", (5, 30, 36), (5.0, 5.0, 7.0), 1), _scribbles(ref.shape)


def _count_encodes(method: CrossMRModelMethod, monkeypatch) -> list[int]:
    """The batch size of every encoder call from now on (the test's patch of the method's network)."""
    calls: list[int] = []
    encode = method.model.encode
    monkeypatch.setattr(method.model, "encode", lambda x, **kw: calls.append(len(x)) or encode(x, **kw))
    return calls


def test_segment_target_shapes_organs_cache_and_determinism(method, monkeypatch):
    ref, tgt, scr = _reference_target_scribbles()
    calls = _count_encodes(method, monkeypatch)
    out = method.segment_target(ref, scr, tgt, pair_slices(ref, tgt))
    first = sum(calls)
    again = method.segment_target(ref, scr, tgt, pair_slices(ref, tgt))
    ref_out = method.segment_target(ref, scr, ref, identity_pairing(ref))
    assert out.dtype == np.uint8 and out.shape == tgt.shape and ref_out.shape == ref.shape
    assert set(np.unique(out)) <= {0, 1, 3} and set(np.unique(ref_out)) <= {0, 1, 3}
    assert np.array_equal(out, again)  # same input -> same output
    assert first == 2 + tgt.num_slices  # the two scribbled reference slices, then the targets once each
    assert sum(calls) == first + tgt.num_slices + ref.num_slices  # reference slices not encoded again


def test_the_reference_segmenting_itself_encodes_each_slice_once_with_the_same_tokens(method, monkeypatch):
    ref, tgt, scr = _reference_target_scribbles()
    calls = _count_encodes(method, monkeypatch)
    method._cache = None
    ref_out = method.segment_target(ref, scr, ref, identity_pairing(ref))  # reference first, as a study runs
    from_targets = dict(method._cache.tokens)
    tgt_out = method.segment_target(ref, scr, tgt, pair_slices(ref, tgt))
    assert calls == [ref.num_slices, tgt.num_slices]  # the scribbled slices' tokens came from the first batch
    method._cache = None  # tokens encoded the reference way (target first), then the reference
    fresh_tgt = method.segment_target(ref, scr, tgt, pair_slices(ref, tgt))
    fresh_ref = method.segment_target(ref, scr, ref, identity_pairing(ref))
    assert sorted(from_targets) == sorted(method._cache.tokens) == [2, 4]
    for k, (levels, valid) in method._cache.tokens.items():
        assert torch.equal(valid, from_targets[k][1])
        for a, b in zip(levels, from_targets[k][0]):
            assert torch.allclose(a, b, atol=1e-5)
    assert np.array_equal(ref_out, fresh_ref) and np.array_equal(tgt_out, fresh_tgt)


def test_cancel_and_input_errors(method, tmp_path, monkeypatch):
    ref = _series("ref", (6, 40, 48), (4.0, 4.0, 6.0), 0)
    with pytest.raises(Cancelled):
        method.segment_target(ref, _scribbles(ref.shape), ref, identity_pairing(ref), cancel=lambda: True)
    with pytest.raises(InputError, match="scribbles shape"):
        method.segment_target(ref, np.zeros((2, 3, 4), np.uint8), ref, identity_pairing(ref))
    monkeypatch.setenv("CROSSMR_WEIGHTS", str(tmp_path / "elsewhere.pt"))
    assert default_weights() == tmp_path / "elsewhere.pt"
    with pytest.raises(InputError, match="not found"):
        CrossMRModelMethod()


def test_target_is_brought_into_the_reference_frame():
    """Series with other flips / field of view / pixel size are aligned by position before pairing slices."""
    from CrossMRLib.model.geometry import frame_theta, resample

    ref = _series("ref", (4, 40, 48), (4.0, 4.0, 6.0), 0)
    same = _series("same", (4, 40, 48), (4.0, 4.0, 6.0), 1)
    pairing = pair_slices(ref, same)
    assert CrossMRModelMethod._frames(ref, same, pairing.reference_index) == (None, None)
    flipped_ijk = ref.ijk_to_ras.copy()
    flipped_ijk[:3, 0] *= -1  # i runs the other way ...
    flipped_ijk[:3, 3] = ref.ijk_to_ras[:3, 3] + ref.ijk_to_ras[:3, 0] * 47  # ... over the same field of view
    flipped = Series(ref.array[:, :, ::-1].copy(), flipped_ijk, "flipped")
    to_ref, to_tgt = CrossMRModelMethod._frames(ref, flipped, pair_slices(ref, flipped).reference_index)
    assert np.allclose(to_ref[0], [[-1, 0, 0], [0, 1, 0]]) and np.allclose(to_tgt[2], [[-1, 0, 0], [0, 1, 0]])
    image = torch.from_numpy(flipped.array[1:2, None].astype(np.float32))
    back = resample(image, to_ref[1:2], (40, 48), "nearest")[0, 0].numpy()
    assert np.allclose(back, ref.array[1])
    # a coarser target covering the same field of view maps the reference frame onto itself
    coarse = Series(ref.array[:, ::2, ::2], ref.ijk_to_ras @ np.diag([2.0, 2.0, 1.0, 1.0]), "coarse")
    theta = frame_theta(ref.ijk_to_ras, (40, 48), 0, coarse.ijk_to_ras, (20, 24))
    # (pixel centres of the coarse grid sit half a fine pixel off the fine grid's)
    assert np.allclose(theta, [[1, 0, 1 / 48], [0, 1, 1 / 40]])
