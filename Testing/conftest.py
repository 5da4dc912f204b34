"""Fixtures shared by several test files."""

import pytest


@pytest.fixture(scope="session")
def study():
    """The generated sample study (seed 3) as the Slicer module loads it, subsampled in-plane for speed."""
    from slicer_scene import SUBSAMPLE
    from CrossMRSegmentLib.sample import generateSampleStudy

    return generateSampleStudy(3, SUBSAMPLE)
