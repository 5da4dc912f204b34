"""Radiological display of axial slices (demo and phantom contact sheets)."""

import numpy as np

from CrossMRLib.display import radiological
from synthetic import grid


def test_radiological_display_puts_anterior_up_and_patient_right_on_the_left():
    image = np.zeros((4, 6))  # (J, I)
    image[0, 0] = 1.0  # voxel i=0, j=0
    ras = grid((1, 4, 6), spacing=(1, 1, 1), origin=(0, 0, 0))  # i -> +x (right), j -> +y (anterior)
    shown = radiological(image, ras)
    assert shown[-1, -1] == 1.0  # voxel (0, 0) is the left-posterior corner: bottom right on screen
    lps = ras.copy()
    lps[:2, :3] *= -1  # i -> left, j -> posterior (DICOM storage)
    assert radiological(image, lps)[0, 0] == 1.0  # the right-anterior corner is shown top left
    swapped = ras.copy()
    swapped[:3, :2] = ras[:3, [1, 0]]  # columns run anteriorly, rows run right
    assert radiological(image, swapped).shape == (6, 4)
