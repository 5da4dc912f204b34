"""Geometry helpers for the phantom: the high-resolution grid, deformed implicit shapes and tubes.

All positions are RAS millimetres (+x patient right, +y anterior, +z superior). Shapes are painted
into a (K, J, I) = (z, y, x) uint8 tissue map, only inside each shape's bounding box, so that a study
of ~7 M voxels builds in about a second.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Grid:
    """Axis-aligned high-resolution grid: voxel (k, j, i) centre = origin + (i*dx, j*dy, k*dz)."""

    origin: np.ndarray  # RAS of voxel (0, 0, 0), (x, y, z)
    spacing: np.ndarray  # (dx, dy, dz) mm
    shape: tuple[int, int, int]  # (K, J, I)

    @classmethod
    def covering(cls, lo: tuple[float, float, float], hi: tuple[float, float, float],
                 spacing: tuple[float, float, float]) -> "Grid":
        lo_a, hi_a, sp = (np.asarray(v, dtype=np.float64) for v in (lo, hi, spacing))
        counts = np.ceil((hi_a - lo_a) / sp).astype(int) + 1
        return cls(lo_a, sp, (int(counts[2]), int(counts[1]), int(counts[0])))

    def axes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """1D coordinate arrays x (I), y (J), z (K) in mm."""
        k, j, i = self.shape
        return (self.origin[0] + self.spacing[0] * np.arange(i), self.origin[1] + self.spacing[1] * np.arange(j),
                self.origin[2] + self.spacing[2] * np.arange(k))

    def box(self, lo, hi) -> tuple[slice, slice, slice] | None:
        """Index slices (k, j, i) of the voxels inside the RAS box [lo, hi]; None when empty."""
        lo_i = np.floor((np.asarray(lo) - self.origin) / self.spacing).astype(int)
        hi_i = np.ceil((np.asarray(hi) - self.origin) / self.spacing).astype(int) + 1
        dims = (self.shape[2], self.shape[1], self.shape[0])
        lo_i = np.maximum(lo_i, 0)
        hi_i = np.minimum(hi_i, dims)
        if np.any(hi_i <= lo_i):
            return None
        return (slice(lo_i[2], hi_i[2]), slice(lo_i[1], hi_i[1]), slice(lo_i[0], hi_i[0]))

    def coords(self, box: tuple[slice, slice, slice]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Broadcastable (z, y, x) open grids of RAS coordinates for a box, float32."""
        x, y, z = self.axes()
        return (z[box[0]].astype(np.float32)[:, None, None], y[box[1]].astype(np.float32)[None, :, None],
                x[box[2]].astype(np.float32)[None, None, :])


def rotation(yaw: float = 0.0, pitch: float = 0.0, roll: float = 0.0) -> np.ndarray:
    """Rotation matrix (degrees) about z (yaw), then x (pitch), then y (roll); columns = local axes."""
    a, b, c = np.radians([yaw, pitch, roll])
    rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    ry = np.array([[np.cos(c), 0, np.sin(c)], [0, 1, 0], [-np.sin(c), 0, np.cos(c)]])
    return rz @ rx @ ry


class Wobble:
    """A smooth random scalar field (sum of random plane waves), used to deform shapes and make texture."""

    def __init__(self, rng: np.random.Generator, wavelengths=(35.0, 110.0), modes: int = 6) -> None:
        directions = rng.normal(size=(modes, 3))
        directions /= np.linalg.norm(directions, axis=1, keepdims=True)
        lengths = rng.uniform(*wavelengths, size=modes)
        self.k = (2 * np.pi / lengths)[:, None] * directions
        self.phase = rng.uniform(0, 2 * np.pi, size=modes)
        self.amp = rng.uniform(0.5, 1.0, size=modes)
        self.amp /= np.sqrt(np.sum(self.amp ** 2) / 2.0)  # unit standard deviation

    def __call__(self, u, v, w) -> np.ndarray:
        out = 0.0
        for (kx, ky, kz), ph, a in zip(self.k, self.phase, self.amp):
            out = out + np.float32(a) * np.cos(np.float32(kx) * u + np.float32(ky) * v + np.float32(kz) * w + np.float32(ph))
        return out


def local_coords(grid: Grid, box, centre, rot: np.ndarray):
    """Local (u, v, w) coordinates of the box voxels in the frame (centre, rot columns)."""
    z, y, x = grid.coords(box)
    dx, dy, dz = x - np.float32(centre[0]), y - np.float32(centre[1]), z - np.float32(centre[2])
    r = rot.astype(np.float32)
    u = dx * r[0, 0] + dy * r[1, 0] + dz * r[2, 0]
    v = dx * r[0, 1] + dy * r[1, 1] + dz * r[2, 1]
    w = dx * r[0, 2] + dy * r[1, 2] + dz * r[2, 2]
    return u, v, w


def ellipsoid_box(centre, radii, rot: np.ndarray, margin: float = 1.3):
    """RAS bounding box of a rotated ellipsoid, enlarged by `margin` for deformations."""
    extent = np.abs(rot) @ (np.asarray(radii, dtype=np.float64) * margin)
    return np.asarray(centre) - extent, np.asarray(centre) + extent


def blob(grid: Grid, centre, radii, rot: np.ndarray, wobble: Wobble | None = None, amount: float = 0.0,
         power: float = 2.0):
    """A deformed superellipsoid: returns (box, field) with field < 1 inside.

    field = sum |u_n / r_n|^power, plus `amount` * wobble(u, v, w): a smooth random deformation of the
    template surface (a few percent to ~25 % of the radius).
    """
    lo, hi = ellipsoid_box(centre, radii, rot, 1.0 + amount + 0.1)
    box = grid.box(lo, hi)
    if box is None:
        return None, None
    u, v, w = local_coords(grid, box, centre, rot)
    ra, rb, rc = (np.float32(r) for r in radii)
    if power == 2.0:
        field = (u / ra) ** 2 + (v / rb) ** 2 + (w / rc) ** 2
    else:
        p = np.float32(power)
        field = np.abs(u / ra) ** p + np.abs(v / rb) ** p + np.abs(w / rc) ** p
    if wobble is not None and amount:
        field = field + np.float32(amount) * wobble(u, v, w)
    return box, field


def smooth_curve(points, step: float = 4.0) -> np.ndarray:
    """Catmull-Rom curve through control points, resampled roughly every `step` mm."""
    pts = np.asarray(points, dtype=np.float64)
    padded = np.vstack([2 * pts[0] - pts[1], pts, 2 * pts[-1] - pts[-2]])
    out = [pts[0]]
    for n in range(1, len(padded) - 2):
        p0, p1, p2, p3 = padded[n - 1], padded[n], padded[n + 1], padded[n + 2]
        count = max(2, int(np.ceil(np.linalg.norm(p2 - p1) / step)))
        t = np.linspace(0, 1, count + 1)[1:, None]
        out.extend(0.5 * ((2 * p1) + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t ** 2
                          + (-p0 + 3 * p1 - 3 * p2 + p3) * t ** 3))
    return np.asarray(out)


def paint_tube(tissue: np.ndarray, grid: Grid, points, radii, code: int, where=None) -> None:
    """Paint a tube (capsules along a polyline, radius interpolated per point) with `code`.

    `where`: optional collection of tissue codes that may be overwritten (e.g. only liver, for
    intrahepatic vessels).
    """
    pts = np.asarray(points, dtype=np.float64)
    rad = np.broadcast_to(np.asarray(radii, dtype=np.float64), (len(pts),))
    allowed = None if where is None else allowed_lut(where)
    for a, b, ra, rb in zip(pts[:-1], pts[1:], rad[:-1], rad[1:]):
        reach = max(ra, rb) + 1.0
        box = grid.box(np.minimum(a, b) - reach, np.maximum(a, b) + reach)
        if box is None:
            continue
        z, y, x = grid.coords(box)
        ab = b - a
        length2 = float(ab @ ab) or 1e-9
        t = ((x - np.float32(a[0])) * np.float32(ab[0]) + (y - np.float32(a[1])) * np.float32(ab[1])
             + (z - np.float32(a[2])) * np.float32(ab[2])) / np.float32(length2)
        t = np.clip(t, 0, 1)
        dx = x - np.float32(a[0]) - t * np.float32(ab[0])
        dy = y - np.float32(a[1]) - t * np.float32(ab[1])
        dz = z - np.float32(a[2]) - t * np.float32(ab[2])
        radius = np.float32(ra) + t * np.float32(rb - ra)
        mask = dx * dx + dy * dy + dz * dz <= radius * radius
        paint(tissue, box, mask, code, allowed)


def allowed_lut(codes) -> np.ndarray:
    """Boolean lookup table (256) of tissue codes that may be overwritten."""
    lut = np.zeros(256, bool)
    lut[np.asarray(list(codes), dtype=np.int64)] = True
    return lut


def paint(tissue: np.ndarray, box, mask: np.ndarray, code: int, allowed: np.ndarray | None = None) -> None:
    """tissue[box][mask] = code, restricted to voxels whose current code is in `allowed` (codes or a LUT)."""
    view = tissue[box]
    mask = np.broadcast_to(mask, view.shape)
    if allowed is not None:
        lut = allowed if (allowed.dtype == bool and allowed.size == 256) else allowed_lut(allowed)
        mask = mask & lut[view]
    view[mask] = code
