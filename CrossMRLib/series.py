"""The `Series` type: one 3D MRI series = voxels + where they are in patient space (RAS, mm)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np


@dataclass
class Series:
    """One 3D series.

    `array` is indexed (K, J, I) = (slice, row, column), as `slicer.util.arrayFromVolume` gives it;
    `ijk_to_ras` maps homogeneous (i, j, k, 1) voxel indices to RAS millimetres, as Slicer's
    `GetIJKToRASMatrix` does. `modality` is an optional tag such as "t1w", "t2w", "dwi".
    """

    array: np.ndarray
    ijk_to_ras: np.ndarray
    name: str
    modality: str | None = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.ijk_to_ras = np.asarray(self.ijk_to_ras, dtype=np.float64)
        if self.array.ndim != 3:
            raise ValueError(f"Series '{self.name}' must be 3D (K, J, I), got shape {self.array.shape}")
        if self.ijk_to_ras.shape != (4, 4):
            raise ValueError(f"Series '{self.name}' needs a 4x4 IJK-to-RAS matrix")

    @property
    def shape(self) -> tuple[int, int, int]:
        """(K, J, I) voxel counts."""
        return tuple(int(n) for n in self.array.shape)  # type: ignore[return-value]

    @property
    def num_slices(self) -> int:
        return int(self.array.shape[0])

    @property
    def spacing(self) -> np.ndarray:
        """Voxel size (i, j, k) in mm."""
        return spacing_of(self.ijk_to_ras)

    @property
    def slice_normal(self) -> np.ndarray:
        """Unit vector (RAS) of increasing slice index k."""
        return slice_normal_of(self.ijk_to_ras)

    def slice_centres(self) -> np.ndarray:
        """RAS position (mm) of the centre of every slice, shape (K, 3)."""
        return slice_centres_of(self.ijk_to_ras, self.shape)

    def with_array(self, array: np.ndarray, name: str | None = None) -> "Series":
        """A series on the same grid holding other voxels (e.g. a labelmap)."""
        return Series(array, self.ijk_to_ras.copy(), name or self.name, self.modality, dict(self.meta))


def spacing_of(ijk_to_ras: np.ndarray) -> np.ndarray:
    """Column norms of the 3x3 part: voxel size along i, j, k in mm."""
    return np.linalg.norm(np.asarray(ijk_to_ras, dtype=np.float64)[:3, :3], axis=0)


def slice_normal_of(ijk_to_ras: np.ndarray) -> np.ndarray:
    """Unit RAS direction of increasing k."""
    col = np.asarray(ijk_to_ras, dtype=np.float64)[:3, 2]
    return col / np.linalg.norm(col)


def slice_centres_of(ijk_to_ras: np.ndarray, shape_kji: tuple[int, int, int]) -> np.ndarray:
    """RAS centre of each slice for a grid of shape (K, J, I)."""
    k_count, j_count, i_count = shape_kji
    ijk = np.zeros((k_count, 4))
    ijk[:, 0] = (i_count - 1) / 2.0
    ijk[:, 1] = (j_count - 1) / 2.0
    ijk[:, 2] = np.arange(k_count)
    ijk[:, 3] = 1.0
    return (np.asarray(ijk_to_ras, dtype=np.float64) @ ijk.T).T[:, :3]


def make_ijk_to_ras(spacing: tuple[float, float, float], origin: tuple[float, float, float],
                    directions: np.ndarray | None = None) -> np.ndarray:
    """Build an IJK-to-RAS matrix from spacing (i, j, k), origin (RAS) and unit direction columns."""
    directions = np.eye(3) if directions is None else np.asarray(directions, dtype=np.float64)
    matrix = np.eye(4)
    matrix[:3, :3] = directions * np.asarray(spacing, dtype=np.float64)[None, :]
    matrix[:3, 3] = origin
    return matrix


def same_grid(a: Series, b: Series, tol_mm: float = 1e-3) -> bool:
    """True when both series share voxel counts and geometry (within `tol_mm`)."""
    if a.shape != b.shape:
        return False
    corners = np.array([[0, 0, 0, 1], [a.shape[2] - 1, a.shape[1] - 1, a.shape[0] - 1, 1]], dtype=float).T
    return bool(np.abs(a.ijk_to_ras @ corners - b.ijk_to_ras @ corners).max() <= tol_mm)


def same_grid_groups(series: Sequence[Series]) -> list[list[int]]:
    """Indices of `series` grouped by shared grid (`same_grid`), each group and the groups in input order."""
    groups: list[list[int]] = []
    for index, one in enumerate(series):
        for group in groups:
            if same_grid(series[group[0]], one):
                group.append(index)
                break
        else:
            groups.append([index])
    return groups
