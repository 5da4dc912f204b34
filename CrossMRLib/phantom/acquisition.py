"""Per-series acquisition geometry and the imaging chain from high-resolution anatomy to a series grid.

Series differ the way clinical series do: in-plane field of view and spacing, slice thickness (3-8 mm)
and spacing, slice count and z-coverage, storage orientation (RAS / LPS / LAS in-plane, slices head-
to-feet = negative k direction for some), acquisition order, and respiratory state (organs shifted by
a few mm). Imaging chain: slice profile and pixel partial volume (Gaussian PSF of matching variance on
the 1.5 x 1.5 x 2 mm anatomy), respiratory deformation, EPI distortion along the phase-encoding (AP)
axis for DWI, coil bias field, Rician noise.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage

from ..series import make_ijk_to_ras
from .shapes import Grid

ORIENTATIONS = {"RAS": (1.0, 1.0), "LPS": (-1.0, -1.0), "LAS": (-1.0, 1.0)}

# geometry group -> (in-plane matrix range, slice thickness range mm, gap range mm)
PROTOCOLS = {
    "t1w": ((224, 288), (3.0, 5.0), (0.0, 0.0)),
    "t2w": ((256, 320), (5.0, 7.0), (0.5, 1.5)),
    "dwi": ((128, 160), (5.0, 8.0), (0.0, 1.5)),
    "dual": ((224, 256), (5.0, 7.0), (0.5, 1.5)),
}


@dataclass
class Geometry:
    """One acquisition's grid and state (all lengths mm)."""

    group: str
    matrix: tuple[int, int]  # (I, J) voxels in-plane
    pixel: tuple[float, float]  # (di, dj)
    thickness: float
    slice_spacing: float
    count: int
    centre: tuple[float, float, float]
    orientation: str  # in-plane storage: RAS | LPS | LAS
    feet_first: bool  # k increases towards the feet (negative z direction)
    slice_order: str  # acquisition order: ascending | descending | interleaved
    resp_shift: tuple[float, float]  # (AP, SI) displacement of mobile organs
    snr: float
    distortion_mm: float = 0.0  # EPI: peak displacement along the phase-encoding (AP) axis
    kspace_fraction: tuple[float, float] = (1.0, 1.0)  # acquired fraction of k-space along (i, j): ringing, blur
    ghost: float = 0.0  # amplitude of motion (or EPI Nyquist) ghosts along the phase-encoding axis

    def ijk_to_ras(self) -> np.ndarray:
        si, sj = ORIENTATIONS[self.orientation]
        sk = -1.0 if self.feet_first else 1.0
        directions = np.diag([si, sj, sk])
        spacing = np.array([self.pixel[0], self.pixel[1], self.slice_spacing])
        counts = np.array([self.matrix[0], self.matrix[1], self.count], dtype=float)
        origin = np.asarray(self.centre) - directions @ (spacing * (counts - 1) / 2.0)
        return make_ijk_to_ras(tuple(spacing), tuple(origin), directions)

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.count, self.matrix[1], self.matrix[0])

    def to_dict(self) -> dict:
        d = asdict(self)
        return {k: (np.round(v, 3).tolist() if isinstance(v, (tuple, list, float)) else v) for k, v in d.items()}


def plan_geometries(rng: np.random.Generator, p: dict, field_strength: float) -> dict[str, Geometry]:
    """One geometry per acquisition group (t1w, t2w, dwi, dual = in/opposed phase)."""
    top_anat = p["dome_right"] + 10.0
    bottom_anat = min(p["kidney_right"][2] - p["kidney_right_radii"][2], p["kidney_left"][2] - p["kidney_left_radii"][2]) - 15
    width, depth = 2 * p["body_half_width"], p["body_post"] + p["body_ant"]
    out = {}
    for group, (matrix_range, thick_range, gap_range) in PROTOCOLS.items():
        fov_x = max(rng.uniform(350, 420), width * 1.06 + 15)
        fov_y = max(fov_x * rng.uniform(0.72, 0.88), depth * 1.06 + 15)
        ni = int(rng.integers(matrix_range[0] // 16, matrix_range[1] // 16 + 1)) * 16
        nj = int(round(ni * fov_y / fov_x / 2)) * 2
        thickness = float(rng.uniform(*thick_range))
        spacing = thickness + float(rng.uniform(*gap_range))
        top = top_anat + rng.uniform(0, 30)
        bottom = bottom_anat - rng.uniform(0, 40)
        count = int(np.ceil((top - bottom) / spacing)) + 1
        centre_z = 0.5 * (top + bottom)
        centre = (float(rng.uniform(-8, 8)), float((p["body_ant"] - p["body_post"]) / 2 + rng.uniform(-6, 6)), float(centre_z))
        orientation = str(rng.choice(list(ORIENTATIONS)))
        feet_first = bool(rng.random() < 0.35)
        order = str(rng.choice(["ascending", "descending", "interleaved"]))
        resp = (float(rng.uniform(-2, 2)), float(rng.uniform(-6, 6)))
        snr = {"t1w": (20, 40), "t2w": (15, 30), "dwi": (12, 22), "dual": (20, 40)}[group]
        distortion = float(rng.uniform(4, 9) * (1.6 if field_strength > 2.25 else 1.0)) if group == "dwi" else 0.0
        kspace = (float(rng.uniform(0.8, 1.0)), float(rng.uniform(0.85, 1.0) if group == "dwi" else rng.uniform(0.6, 0.85)))
        ghost = float(rng.uniform(*{"t1w": (0.0, 0.03), "t2w": (0.02, 0.06), "dwi": (0.01, 0.03), "dual": (0.0, 0.04)}[group]))
        out[group] = Geometry(group, (ni, nj), (fov_x / ni, fov_y / nj), thickness, spacing, count, centre, orientation,
                              feet_first, order, resp, float(rng.uniform(*snr)), distortion, kspace, ghost)
    return out


def sample_points(geom: Geometry, mobility: np.ndarray, mob_grid: Grid) -> np.ndarray:
    """RAS points (3, K, J, I), float32, in the anatomy that each series voxel sees (breathing applied)."""
    m = geom.ijk_to_ras()
    shape = geom.shape
    k, j, i = (np.arange(n, dtype=np.float32) for n in shape)
    pts = np.empty((3,) + shape, np.float32)
    pts[0] = (m[0, 0] * i + m[0, 3])[None, None, :]
    pts[1] = (m[1, 1] * j + m[1, 3])[None, :, None]
    pts[2] = (m[2, 2] * k + m[2, 3])[:, None, None]
    # breathing weight is smooth: evaluate it every 4th in-plane voxel and repeat
    coarse = pts[:, :, ::4, ::4]
    weight = ndimage.map_coordinates(mobility, to_index(coarse, mob_grid), order=1, mode="nearest")
    weight = np.repeat(np.repeat(weight, 4, axis=1), 4, axis=2)[:, : shape[1], : shape[2]]
    pts[1] -= np.float32(geom.resp_shift[0]) * weight
    pts[2] -= np.float32(geom.resp_shift[1]) * weight
    return pts


def to_index(pts: np.ndarray, grid: Grid) -> np.ndarray:
    """Continuous (k, j, i) indices (float32) of RAS points (3, ...) on `grid`."""
    o, h = grid.origin.astype(np.float32), grid.spacing.astype(np.float32)
    return np.stack([(pts[2] - o[2]) / h[2], (pts[1] - o[1]) / h[1], (pts[0] - o[0]) / h[0]])


def epi_warp(geom: Geometry, gas: np.ndarray, mob_grid: Grid, rng: np.random.Generator, pts: np.ndarray):
    """AP displacement (mm) and intensity Jacobian of EPI distortion at the series voxels.

    Off-resonance near gas (bowel, lung bases) plus a smooth shim residual, scaled to `distortion_mm`.
    """
    field = ndimage.gaussian_filter(gas, 3.0)
    field = field / (field.max() + 1e-6)
    z = np.arange(gas.shape[0])[:, None, None] / gas.shape[0]
    y = np.arange(gas.shape[1])[None, :, None] / gas.shape[1]
    x = np.arange(gas.shape[2])[None, None, :] / gas.shape[2]
    c = rng.uniform(-1, 1, 4)
    field = field + 0.3 * (c[0] * (x - 0.5) + c[1] * (y - 0.5) + c[2] * (z - 0.5) + c[3] * (x - 0.5) ** 2)
    disp = (geom.distortion_mm * field).astype(np.float32)
    jac = 1.0 - np.gradient(disp, mob_grid.spacing[1], axis=1)
    idx = to_index(pts, mob_grid)
    d = ndimage.map_coordinates(disp, idx, order=1, mode="nearest")
    j = ndimage.map_coordinates(np.clip(jac, 0.4, 2.0).astype(np.float32), idx, order=1, mode="nearest")
    return d, j


def partial_volume(volume: np.ndarray, grid: Grid, geom: Geometry, extra_blur_j: float = 0.0) -> np.ndarray:
    """Blur the anatomy-resolution signal with the series' pixel and slice profile (Gaussian, same variance)."""
    widths = (geom.pixel[0], geom.pixel[1], geom.thickness)
    sigmas = []
    for axis_mm, width, h in zip((0, 1, 2), widths, grid.spacing):
        var = max(width ** 2 - h ** 2, 0.0) / 12.0
        if axis_mm == 1:
            var += (extra_blur_j * width) ** 2
        sigmas.append(np.sqrt(var) / h)
    sig_kji = (sigmas[2], sigmas[1], sigmas[0])
    return ndimage.gaussian_filter(volume, sig_kji, truncate=2.5, mode="nearest")


def bias_field(geom: Geometry, rng: np.random.Generator, p: dict) -> np.ndarray:
    """Phased-array receive profile (anterior + posterior elements, sum of squares) x slow z drift."""
    m = geom.ijk_to_ras()
    i, j = np.arange(geom.matrix[0]), np.arange(geom.matrix[1])
    x = (m[0, 0] * i + m[0, 3])[None, :]
    y = (m[1, 1] * j + m[1, 3])[:, None]
    total = np.zeros((geom.matrix[1], geom.matrix[0]))
    for yc in (p["body_ant"] + 25, -p["body_post"] - 25):
        for xc in np.linspace(-0.6, 0.6, 3) * p["body_half_width"]:
            d2 = (x - xc - rng.uniform(-15, 15)) ** 2 + (y - yc) ** 2
            total += rng.uniform(0.7, 1.3) * (1.0 / (1.0 + d2 / rng.uniform(110, 170) ** 2)) ** 2
    prof = np.sqrt(total)
    inside = (np.abs(x) < p["body_half_width"] * 0.8) & (np.abs(y) < p["body_post"] * 0.8)
    prof /= prof[inside].mean()
    k = np.arange(geom.count)
    zpos = m[2, 2] * k + m[2, 3]
    zf = 1.0 + rng.uniform(-0.15, 0.1) * ((zpos - geom.centre[2]) / 150.0) ** 2
    return (zf[:, None, None] * prof[None]).astype(np.float32)


def kspace_effects(signal: np.ndarray, geom: Geometry, rng: np.random.Generator) -> np.ndarray:
    """Motion / Nyquist ghosts along j and k-space truncation (Gibbs ringing) of a complex (K, J, I) image."""
    from scipy import fft

    nj = signal.shape[1]
    if geom.ghost > 0:
        shift = nj // 2 if geom.group == "dwi" else int(nj / rng.uniform(3.0, 6.0))
        signal = signal + np.complex64(geom.ghost * 0.5) * (np.roll(signal, shift, axis=1) + np.roll(signal, -shift, axis=1))
    fi, fj = geom.kspace_fraction
    if fi >= 0.999 and fj >= 0.999:
        return signal
    k = fft.fft2(signal, axes=(1, 2), workers=2)
    # acquired central part of k-space with the scanner's Fermi apodisation (mild ringing, some blur)
    wi = 1.0 / (1.0 + np.exp((np.abs(fft.fftfreq(signal.shape[2])) - 0.5 * fi) / 0.02))
    wj = 1.0 / (1.0 + np.exp((np.abs(fft.fftfreq(nj)) - 0.5 * fj) / 0.02))
    k *= (wj[:, None] * wi[None, :]).astype(np.float32)[None]
    return fft.ifft2(k, axes=(1, 2), workers=2)


def rician(clean: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Magnitude of the signal plus complex Gaussian noise (Rician statistics, Rayleigh background)."""
    s = np.float32(sigma)
    real = clean + s * rng.standard_normal(clean.shape, dtype=np.float32)
    imag = s * rng.standard_normal(clean.shape, dtype=np.float32)
    return np.sqrt(real * real + imag * imag)


def sample(volume: np.ndarray, index: np.ndarray, order: int = 1) -> np.ndarray:
    """Values of an anatomy-grid volume at continuous indices (3, K, J, I) from `to_index`."""
    return ndimage.map_coordinates(volume, index, order=order, mode="constant", cval=0, prefilter=False)
