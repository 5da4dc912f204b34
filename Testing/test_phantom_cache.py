"""Generated training studies are cached on disk: a reload gives the same volume, and writes are atomic."""

import numpy as np

from CrossMRLib.model.data import phantom_volume


def test_cached_phantom_reloads_identically_and_leaves_no_partial_file(tmp_path):
    made = phantom_volume(1001, 64, tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["phantom_1001_64.npz"]  # renamed into place, nothing partial
    again = phantom_volume(1001, 64, tmp_path)
    assert sorted(again.images) == sorted(made.images)
    for contrast in made.images:
        np.testing.assert_array_equal(again.images[contrast], made.images[contrast])
        np.testing.assert_array_equal(again.labels[contrast], made.labels[contrast])
    assert again.spacing == made.spacing
