"""The benchmark's interactive baselines (Slicer's Grow from seeds, marker watershed) and the U-Net's shape contract."""

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from CrossMRLib.errors import InputError  # noqa: E402
from CrossMRLib.metrics import dice  # noqa: E402
from CrossMRLib.pairing import pair_slices  # noqa: E402
from CrossMRLib.pipeline import segment_study  # noqa: E402
from CrossMRLib.scribbles.synth import synthesize_background_scribbles, synthesize_scribbles  # noqa: E402
from synthetic import make_series  # noqa: E402
from train.baselines.growcut import GrowCutReferenceMethod, GrowCutTargetMethod, grow_from_seeds  # noqa: E402
from train.baselines.seeds import BACKGROUND_SEED, seed_box  # noqa: E402
from train.baselines.watershed import WatershedMethod, watershed_from_markers  # noqa: E402

pytest.importorskip("slicer")


@pytest.fixture(scope="module")
def study():
    """T1w-like reference with scribbles + background strokes, and a T2w-like target on another grid."""
    ref, ref_labels = make_series("t1w")
    target, target_labels = make_series("t2w", shape_kji=(16, 48, 56), spacing=(6.0, 6.0, 7.0),
                                        origin=(-150.0, -150.0, -55.0), contrast={1: 0.3, 4: 0.9}, seed=1)
    spacing = (ref.spacing[1], ref.spacing[0])
    rng = np.random.default_rng(0)
    scribbles = synthesize_scribbles(ref_labels.array, "dense", rng, spacing=spacing)
    background = synthesize_background_scribbles(ref_labels.array, rng, scribbles=scribbles, spacing=spacing)
    return ref, ref_labels.array, target, target_labels.array, scribbles, background


def organ_dice(pred, truth):
    return [dice(pred == organ, truth == organ) for organ in range(1, 5)]


@pytest.mark.parametrize("method", [GrowCutReferenceMethod, GrowCutTargetMethod, WatershedMethod])
def test_baselines_segment_clear_blobs_on_reference_and_target(study, method):
    ref, ref_labels, target, target_labels, scribbles, background = study
    result = segment_study(ref, scribbles, [target], method=method(background))
    assert result.labels["t1w"].shape == ref.shape and result.labels["t2w"].shape == target.shape
    assert min(organ_dice(result.labels["t1w"], ref_labels)) > 0.8
    assert min(organ_dice(result.labels["t2w"], target_labels)) > 0.8


def test_grow_from_seeds_without_background_seeds_fills_the_extent_with_organs(study):
    """What makes background strokes necessary: with organ seeds only, every voxel of the extent is an organ."""
    ref, ref_labels, _, _, scribbles, _ = study
    grown = grow_from_seeds(ref.array, scribbles, ref.spacing)
    box = seed_box(scribbles)
    assert (grown[box] > 0).all()
    assert dice(grown > 0, ref_labels > 0) < 0.8


def test_seed_box_follows_slicers_extent_rule():
    seeds = np.zeros((40, 100, 100), np.uint8)
    seeds[10, 20, 30] = 1
    seeds[20, 70, 80] = BACKGROUND_SEED
    box = seed_box(seeds)
    # margin = max(3, 0.2 * extent) per axis: k 10..20 -> 3; j 20..70 -> 10; i 30..80 -> 10
    assert box == (slice(7, 24), slice(10, 81), slice(20, 91))
    assert seed_box(np.zeros((4, 4, 4), np.uint8)) is None


def test_voxels_outside_the_extent_stay_background():
    image = np.random.default_rng(0).normal(size=(10, 60, 60)).astype(np.float32)
    seeds = np.zeros(image.shape, np.uint8)
    seeds[5, 28:32, 28:32] = 1
    seeds[5, 20, 20] = BACKGROUND_SEED
    for segment in (grow_from_seeds, watershed_from_markers):
        labels = segment(image, seeds)
        outside = np.ones(image.shape, bool)
        outside[seed_box(seeds)] = False
        assert labels[outside].max() == 0
        assert set(np.unique(labels)) <= {0, 1}  # background seed label never comes out


def test_single_slice_series_is_padded_not_rejected():
    image = np.zeros((1, 40, 40), np.float32)
    image[0, 10:30, 10:30] = 100.0
    seeds = np.zeros(image.shape, np.uint8)
    seeds[0, 18:22, 18:22] = 2
    seeds[0, 2:4, 2:38] = BACKGROUND_SEED
    for segment in (grow_from_seeds, watershed_from_markers):
        labels = segment(image, seeds, (1.0, 1.0, 5.0))
        truth = np.zeros(image.shape, bool)
        truth[0, 10:30, 10:30] = True
        assert dice(labels == 2, truth) > 0.8


def test_reference_growcut_is_carried_by_position_not_index(study):
    """(a) computes once on the reference; a target slab covering only part of it gets the matching slices."""
    ref, ref_labels, _, _, scribbles, background = study
    part = ref.with_array(ref.array[8:14], name="part")
    part.ijk_to_ras[:3, 3] = ref.ijk_to_ras[:3, :3] @ np.array([0.0, 0.0, 8.0]) + ref.ijk_to_ras[:3, 3]
    method = GrowCutReferenceMethod(background)
    on_ref = method.segment_target(ref, scribbles, ref, pair_slices(ref, ref))
    on_part = method.segment_target(ref, scribbles, part, pair_slices(ref, part))
    np.testing.assert_array_equal(on_part, on_ref[8:14])


def test_background_on_another_grid_is_a_clear_error(study):
    ref, _, target, _, scribbles, _ = study
    for method in (GrowCutReferenceMethod, GrowCutTargetMethod, WatershedMethod):
        with pytest.raises(InputError, match="background strokes"):
            method(np.zeros((2, 2, 2), bool)).segment_target(ref, scribbles, target, pair_slices(ref, target))


def test_unet_follows_nnunet_2d_topology_and_returns_target_grid_labels(tmp_path, study):
    import torch

    from train.baselines.unet import UNetConfig, UNetMethod, build_unet, save_unet, topology

    assert topology(256) == [1, 2, 2, 2, 2, 2, 2]  # 7 stages, 4 x 4 bottleneck
    assert topology(64) == [1, 2, 2, 2, 2]
    config = UNetConfig(scribble_channels=True, patch=32, base_filters=4, max_filters=8)
    model = build_unet(config)
    model.train()
    out = model(torch.zeros(2, 5, 32, 32))
    assert out.shape[:3] == (2, 3, 5) and out.shape[-2:] == (32, 32)  # main + deep-supervision heads
    save_unet(model, config, tmp_path / "unet.pt", {"steps": 0})
    ref, _, target, _, scribbles, _ = study
    labels = UNetMethod(tmp_path / "unet.pt").segment_target(ref, scribbles, target, pair_slices(ref, target))
    assert labels.shape == target.shape and labels.dtype == np.uint8 and labels.max() <= 4
