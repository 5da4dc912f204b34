"""Show axial slices the way radiologists read them: anterior up, patient's right on the viewer's left."""

from __future__ import annotations

import numpy as np


def radiological(slice_ji: np.ndarray, ijk_to_ras: np.ndarray) -> np.ndarray:
    """Reorient one (J, I) axial slice of a series with this IJK-to-RAS matrix for display."""
    matrix = np.asarray(ijk_to_ras, dtype=float)[:3, :2]  # RAS directions of i (column) and j (row)
    image = np.asarray(slice_ji)
    if abs(matrix[0, 0]) < abs(matrix[0, 1]):  # rows run left-right: swap so columns do
        image, matrix = image.T, matrix[:, ::-1]
    if matrix[0, 0] > 0:  # columns run towards the patient's right: put the right on the left
        image = image[:, ::-1]
    if matrix[1, 1] > 0:  # rows run anteriorly: put anterior on top
        image = image[::-1, :]
    return image
