"""Fixtures shared by several test files."""

import pytest


@pytest.fixture(scope="session")
def study():
    """The generated sample study (seed 3) as the Slicer module loads it, subsampled in-plane for speed."""
    from slicer_scene import SUBSAMPLE
    from CrossMRSegmentLib.sample import generateSampleStudy

    return generateSampleStudy(3, SUBSAMPLE)


@pytest.fixture(scope="session")
def dicom_study(study, tmp_path_factory):
    """The sample study written as a DICOM export (nested folders, localiser, Dixon echoes in one folder,
    DWI b0 + b800 in one series, an ADC series) + scribbles on T1w (series 3): (folder, scribbles, truth)."""
    import numpy as np
    from scipy import ndimage

    from CrossMRLib.dicom.sample import subsampled, write_sample_study
    from CrossMRLib.io import write_labels_nifti
    from CrossMRLib.phantom.study import PhantomStudy
    from slicer_scene import SUBSAMPLE

    images = dict(study.images, dwi_b0=subsampled(study.images["dwi_b0"], SUBSAMPLE))  # the rest is subsampled
    folder = tmp_path_factory.mktemp("dicom") / "study"
    write_sample_study(PhantomStudy(study.seed, images, study.labels, study.params), folder)
    truth = study.labels["t1w"]
    scribbles = np.zeros(truth.shape, np.uint8)
    for label in range(1, 5):
        scribbles[ndimage.binary_erosion(truth.array == label, iterations=2)] = label
    write_labels_nifti(scribbles, truth, folder.parent / "t1w_scribbles.nii.gz")
    return folder, folder.parent / "t1w_scribbles.nii.gz", study.labels
