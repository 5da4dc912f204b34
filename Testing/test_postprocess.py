"""Keeping the predicted pieces that belong to the scribbles, not merely the largest one."""

import numpy as np

from CrossMRLib.postprocess import keep_components_near_seeds, keep_strokes


def two_pieces():
    labels = np.zeros((20, 40, 40), np.uint8)
    labels[2:8, 5:12, 5:12] = 2  # the real kidney, small
    labels[12:19, 20:35, 20:35] = 2  # a bigger look-alike on slices without the kidney
    return labels


def test_the_piece_holding_the_seeds_is_kept_even_when_smaller():
    labels = two_pieces()
    seeds = np.zeros_like(labels)
    seeds[4, 8, 8] = 2
    out = keep_components_near_seeds(labels, seeds, (5.0, 1.0, 1.0))
    assert (out[2:8, 5:12, 5:12] == 2).all() and not out[12:].any()


def test_pieces_near_shifted_seeds_are_kept_and_the_nearest_one_when_none_is_near():
    labels = two_pieces()
    seeds = np.zeros_like(labels)
    seeds[4, 8, 17] = 2  # 6 mm right of the small piece (a breathing shift)
    out = keep_components_near_seeds(labels, seeds, (5.0, 1.0, 1.0))
    assert out[4, 8, 8] == 2 and not out[12:].any()
    far = np.zeros_like(labels)
    far[0, 39, 0] = 2  # nowhere near either piece: the nearest piece stays
    out = keep_components_near_seeds(labels, far, (5.0, 1.0, 1.0))
    assert out[4, 8, 8] == 2 and not out[12:].any()


def test_without_seeds_the_largest_piece_stays_and_other_organs_are_untouched():
    labels = two_pieces()
    labels[0, 0:3, 0:3] = 1
    out = keep_components_near_seeds(labels, np.zeros_like(labels), (5.0, 1.0, 1.0))
    assert out[15, 25, 25] == 2 and out[4, 8, 8] == 0 and (out[0, 0:3, 0:3] == 1).all()


def test_strokes_override_the_prediction_and_leave_the_rest_alone():
    labels = two_pieces()
    strokes = np.zeros_like(labels)
    strokes[3, 6, 5:12] = 1  # liver painted across the predicted kidney
    strokes[15, 2, 2:6] = 4  # spleen where nothing was predicted
    out = keep_strokes(labels, strokes)
    assert (out[3, 6, 5:12] == 1).all() and (out[15, 2, 2:6] == 4).all()
    untouched = strokes == 0
    assert np.array_equal(out[untouched], labels[untouched]) and (labels[3, 6, 5:12] == 2).all()
