"""Slice stacks in radiological display orientation, whatever the series' storage orientation.

A 2D network that sees no scribbles tells the right kidney from the left one, and the spleen from the
liver, only by where they lie in the image. Series store their voxels in any in-plane orientation (the
generated studies use RAS, LPS or LAS at random, CHAOS is LAS), so the U-Net's slices are put in one
orientation first: anterior up, the patient's right on the image's left (`CrossMRLib.display.radiological`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Reorientation:
    """How a (K, J, I) stack was turned into display orientation: optional in-plane transpose, then flips."""

    transpose: bool
    flip_rows: bool
    flip_columns: bool

    def apply(self, stack: np.ndarray) -> np.ndarray:
        """(K, J, I) storage order -> (K, rows, columns) display order."""
        out = np.asarray(stack)
        if self.transpose:
            out = out.swapaxes(-1, -2)
        if self.flip_columns:
            out = out[..., ::-1]
        if self.flip_rows:
            out = out[..., ::-1, :]
        return np.ascontiguousarray(out)

    def undo(self, stack: np.ndarray) -> np.ndarray:
        """Display order -> the series' (K, J, I) storage order."""
        out = np.asarray(stack)
        if self.flip_rows:
            out = out[..., ::-1, :]
        if self.flip_columns:
            out = out[..., ::-1]
        if self.transpose:
            out = out.swapaxes(-1, -2)
        return np.ascontiguousarray(out)

    def spacing(self, row_col_mm: tuple[float, float]) -> tuple[float, float]:
        """(row, column) mm of a pixel after reorientation."""
        return (row_col_mm[1], row_col_mm[0]) if self.transpose else tuple(row_col_mm)


def display_orientation(ijk_to_ras: np.ndarray) -> Reorientation:
    """The reorientation that `CrossMRLib.display.radiological` applies to slices of this geometry."""
    matrix = np.asarray(ijk_to_ras, dtype=float)[:3, :2]  # RAS directions of i (column) and j (row)
    transpose = bool(abs(matrix[0, 0]) < abs(matrix[0, 1]))
    if transpose:
        matrix = matrix[:, ::-1]
    return Reorientation(transpose, flip_rows=bool(matrix[1, 1] > 0), flip_columns=bool(matrix[0, 0] > 0))
