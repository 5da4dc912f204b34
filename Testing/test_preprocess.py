"""Preprocessing as in the paper: percentile clip to [0, 1], resize to model size and back."""

import numpy as np

from CrossMRLib.preprocess import MODEL_SIZE, normalize_intensity, resize_slices, restore_slices


def test_intensities_are_clipped_at_the_percentiles_and_rescaled_to_unit_range():
    rng = np.random.default_rng(0)
    volume = rng.normal(500, 100, (4, 50, 50)).astype(np.float32)
    volume[0, 0, 0] = 1e6  # one hot pixel must not squash the contrast
    out = normalize_intensity(volume)
    assert out.dtype == np.float32 and out.min() == 0.0 and out.max() == 1.0
    low, high = np.percentile(volume, [0.5, 99.5])
    inside = (volume > low) & (volume < high)
    np.testing.assert_allclose(out[inside], (volume[inside] - low) / (high - low), atol=1e-5)
    assert (out == 1.0).mean() < 0.01


def test_constant_image_gives_zeros_not_nan():
    assert not np.isnan(normalize_intensity(np.full((2, 8, 8), 7.0))).any()


def test_masks_survive_the_round_trip_through_model_size():
    mask = np.zeros((3, 171, 130), np.uint8)
    mask[:, 40:120, 30:90] = 2
    small = resize_slices(mask, mode="nearest")
    assert small.shape == (3, *MODEL_SIZE) and small.dtype == np.uint8
    assert set(np.unique(small)) == {0, 2}
    back = restore_slices(small, (171, 130), mode="nearest")
    assert back.shape == mask.shape
    assert (back != mask).mean() < 0.01


def test_image_resize_keeps_the_intensity_range():
    image = np.random.default_rng(1).random((2, 300, 280)).astype(np.float32)
    out = resize_slices(image)
    assert out.shape == (2, 256, 256) and 0.0 <= out.min() and out.max() <= 1.0 + 1e-5
