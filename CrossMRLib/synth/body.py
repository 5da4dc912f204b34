"""A synthetic body around real organ label maps: CHAOS organ masks -> a full tissue map.

Only the organ masks are used (no image voxel): the organs keep their real shapes and get inner structure
(hepatic vessels; renal cortex, medulla, sinus fat and pelvis), and everything else is made up around them:
body outline with subcutaneous fat and muscle wall, spine with canal and paraspinal muscles, aorta and
inferior vena cava, perirenal fat, bowel loops of varied content in the free abdominal space, lung bases
above the liver. Orientation (left/right, anterior/posterior, superior) is read off the organs themselves
(liver anterior-superior of the kidneys, right kidney on the liver's side), so any axis order works.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..phantom.tissues import CODE
from .contrast import smooth_noise

LIVER, RIGHT_KIDNEY, LEFT_KIDNEY, SPLEEN = 1, 2, 3, 4


@dataclass(frozen=True)
class Frame:
    """In-plane directions (unit vectors in (row, column) pixels) and the superior slice direction."""

    right: np.ndarray  # towards the patient's right
    anterior: np.ndarray
    superior: int  # +1: higher slice index is superior, -1: lower


def _centroid(mask: np.ndarray) -> np.ndarray:
    return np.array([c.mean() for c in np.nonzero(mask)], dtype=float)


def organ_frame(labels: np.ndarray) -> Frame:
    """Directions from the organs: right = left kidney -> right kidney, anterior = kidneys -> liver
    (made orthogonal to right), superior = kidneys -> liver along the slices."""
    liver, rk, lk = (_centroid(labels == o) for o in (LIVER, RIGHT_KIDNEY, LEFT_KIDNEY))
    right = (rk - lk)[1:]
    right /= np.linalg.norm(right)
    kidneys = 0.5 * (rk + lk)
    ant = (liver - kidneys)[1:]
    ant -= ant.dot(right) * right
    if np.linalg.norm(ant) < 1e-3:
        ant = np.array([-right[1], right[0]])
    ant /= np.linalg.norm(ant)
    return Frame(right, ant, 1 if liver[0] >= kidneys[0] else -1)


def _disc(coords: np.ndarray, centre: np.ndarray, radius_px: float) -> np.ndarray:
    return ((coords - centre[:, None, None]) ** 2).sum(0) <= radius_px ** 2


def _kidney_structure(tissue: np.ndarray, kidney: np.ndarray, hilum_dir: np.ndarray, mm: float,
                      rng: np.random.Generator, coords: np.ndarray) -> None:
    """Cortex rim, medullary pyramids, sinus fat and pelvis (urine) inside one kidney slice mask."""
    if not kidney.any():
        return
    depth = ndimage.distance_transform_edt(kidney) * mm
    tissue[kidney] = CODE["kidney cortex"]
    inner = kidney & (depth > rng.uniform(3.0, 6.0))
    if not inner.any():
        return
    centre = _centroid(kidney)
    toward_hilum = np.tensordot(hilum_dir, coords - centre[:, None, None], axes=1)
    sinus = inner & (toward_hilum > rng.uniform(-0.1, 0.3) * depth.max() / mm)
    tissue[inner] = CODE["kidney medulla"]
    tissue[sinus] = CODE["renal sinus fat"]
    pelvis = sinus & (depth > np.percentile(depth[sinus], rng.uniform(40, 80))) if sinus.any() else sinus
    if rng.random() < 0.7:
        tissue[pelvis] = CODE["urine"]


class BodyBuilder:
    """Builds one synthetic body around a (K, H, W) organ label volume; deterministic in `rng`'s state."""

    def __init__(self, labels: np.ndarray, spacing: tuple[float, float], slice_mm: float,
                 rng: np.random.Generator) -> None:
        self.labels, self.rng, self.slice_mm = labels, rng, slice_mm
        self.mm = float(np.mean(spacing))  # in-plane pixel size
        self.frame = organ_frame(labels)
        shape = labels.shape[1:]
        self.coords = np.indices(shape).astype(np.float32)
        organs = labels > 0
        rows, cols = np.nonzero(organs.any(0))
        u = rng.uniform
        self.centre = np.array([rows.mean(), cols.mean()]) - self.frame.anterior * u(-5, 15) / self.mm
        box = np.array([rows.max() - rows.min(), cols.max() - cols.min()]) / 2.0
        half_lr = float(np.abs(self.frame.right).dot(box)) + u(10, 35) / self.mm
        half_ap = float(np.abs(self.frame.anterior).dot(box)) + u(10, 40) / self.mm
        self.half, self.power = (half_lr, half_ap), u(2.0, 2.6)
        self.fat_mm, self.muscle_mm = u(6, 30), u(7, 13)
        kid = (labels == RIGHT_KIDNEY) | (labels == LEFT_KIDNEY)
        kc = _centroid(kid)
        self.spine = kc[1:] - self.frame.anterior * u(0, 12) / self.mm
        self.spine += self.frame.right * float(self.frame.right.dot(self.centre - self.spine)) * u(0.5, 1.0)
        self.vertebra_mm = u(14, 21)
        self.aorta_mm, self.ivc_mm = u(8, 12.5), u(8, 13)
        self.perirenal_mm = u(3, 14)
        self.z_kidney, self.z_liver_top = kc[0], self._liver_top()
        self.disc_phase, self.disc_period = u(0, 35), u(28, 38)

    def _liver_top(self) -> float:
        slices = np.flatnonzero((self.labels == LIVER).reshape(len(self.labels), -1).any(1))
        return float(slices.max() if self.frame.superior > 0 else slices.min())

    def _height_mm(self, k: int, z: float) -> float:
        """Signed distance in mm of slice k from slice position z, positive superior."""
        return (k - z) * self.frame.superior * self.slice_mm

    def _cavity(self, organs: np.ndarray, scale: float, spine: np.ndarray) -> np.ndarray:
        rel = self.coords - self.centre[:, None, None]
        x = np.tensordot(self.frame.right, rel, axes=1) / (self.half[0] * scale)
        y = np.tensordot(self.frame.anterior, rel, axes=1) / (self.half[1] * scale)
        cavity = np.abs(x) ** self.power + np.abs(y) ** self.power <= 1.0
        cavity |= ndimage.binary_dilation(organs, iterations=max(1, int(round(4 / self.mm))))
        return ndimage.binary_fill_holes(cavity | spine)

    def build_slice(self, k: int, loops: np.ndarray, vessels: np.ndarray) -> np.ndarray:
        """Tissue codes of slice k (H, W) uint8: organs from the labels, the rest synthetic."""
        rng, mm, fr = self.rng, self.mm, self.frame
        lab = self.labels[k]
        organs = lab > 0
        tissue = np.zeros(lab.shape, np.uint8)
        back = self.spine - fr.anterior * (self.vertebra_mm + 8) / mm
        paraspinal = (_disc(self.coords, back + fr.right * 22 / mm, 20 / mm)
                      | _disc(self.coords, back - fr.right * 22 / mm, 20 / mm))
        body = _disc(self.coords, self.spine, self.vertebra_mm / mm)
        cavity = self._cavity(organs, 1.0 + 0.04 * np.sin(k / 5.0 + self.disc_phase), paraspinal | body)
        outside = ndimage.distance_transform_edt(~cavity) * mm
        fat_depth = self.fat_mm * (1.0 + 0.3 * smooth_noise(rng, lab.shape, lab.shape[0] / 3.0))
        tissue[(outside > 0) & (outside <= self.muscle_mm)] = CODE["muscle"]
        tissue[(outside > self.muscle_mm) & (outside <= self.muscle_mm + fat_depth)] = CODE["subcutaneous fat"]
        tissue[cavity] = CODE["visceral fat"]
        free = cavity & ~organs
        tissue[free & loops[0]] = CODE["bowel wall"]
        for code, content in zip(("GI fluid", "gas", "stool", "bowel wall"), loops[1:]):
            tissue[free & content] = CODE[code]
        # spine, canal and back muscles; disc or vertebral body by height
        tissue[paraspinal & ~organs] = CODE["muscle"]
        tissue[body & ~organs] = CODE["cortical bone"]
        height = self._height_mm(k, self.z_kidney) + self.disc_phase
        inner = "intervertebral disc" if (height % self.disc_period) < 7 else "vertebral marrow"
        tissue[_disc(self.coords, self.spine, (self.vertebra_mm - 2) / mm) & ~organs] = CODE[inner]
        canal_c = self.spine - fr.anterior * (self.vertebra_mm + 7) / mm
        tissue[_disc(self.coords, canal_c, 9 / mm) & ~organs] = CODE["cortical bone"]
        tissue[_disc(self.coords, canal_c, 6 / mm) & ~organs] = CODE["CSF"]
        tissue[_disc(self.coords, canal_c, 3.5 / mm) & ~organs] = CODE["spinal cord"]
        front = self.spine + fr.anterior * (self.vertebra_mm + 2) / mm
        aorta_c = front + fr.anterior * self.aorta_mm / mm - fr.right * 12 / mm
        ivc_c = front + fr.anterior * (self.ivc_mm + 4) / mm + fr.right * 24 / mm
        tissue[_disc(self.coords, aorta_c, self.aorta_mm / mm) & ~organs] = CODE["aorta"]
        tissue[_disc(self.coords, ivc_c, self.ivc_mm / mm) & ~organs] = CODE["vein"]
        # perirenal fat, then the organs with their inner structure
        kidneys = (lab == RIGHT_KIDNEY) | (lab == LEFT_KIDNEY)
        if kidneys.any():
            around = ndimage.distance_transform_edt(~kidneys) * mm <= self.perirenal_mm
            tissue[around & ~organs & (tissue != CODE["cortical bone"])] = CODE["visceral fat"]
        tissue[lab == LIVER] = CODE["liver"]
        tissue[(lab == LIVER) & vessels] = CODE["hepatic vessel"]
        tissue[lab == SPLEEN] = CODE["spleen"]
        for side, sign in ((RIGHT_KIDNEY, -1.0), (LEFT_KIDNEY, 1.0)):
            _kidney_structure(tissue, lab == side, sign * fr.right, mm, rng, self.coords)
        # lung bases: the free space above the liver's top and behind it near the dome
        above_top = self._height_mm(k, self.z_liver_top)
        if above_top > -rng.uniform(15, 45):
            posterior = np.tensordot(fr.anterior, self.coords - self.spine[:, None, None], axes=1) < (
                (above_top + 60) / mm)
            lung = cavity & ~organs & posterior & ~np.isin(tissue, [CODE[n] for n in (
                "cortical bone", "vertebral marrow", "intervertebral disc", "CSF", "spinal cord", "aorta", "vein")])
            tissue[lung] = CODE["lung"]
        return tissue

    def loops(self) -> np.ndarray:
        """(5, K, H, W) bool: bowel wall and the content classes of 3D bowel loops (a thresholded smooth field)."""
        rng, (K, H, W) = self.rng, self.labels.shape
        scale = rng.uniform(9, 16) / self.mm  # loop radius in pixels
        coarse = (max(2, int(K * self.slice_mm / (scale * self.mm)) + 2), int(H / scale) + 2, int(W / scale) + 2)
        field = ndimage.zoom(rng.normal(size=coarse).astype(np.float32),
                             [(K + 2) / coarse[0], (H + 2) / coarse[1], (W + 2) / coarse[2]], order=3)[1:K + 1, 1:H + 1, 1:W + 1]
        field = np.pad(field, [(0, K - field.shape[0]), (0, H - field.shape[1]), (0, W - field.shape[2])], mode="edge")
        blobs = field > rng.uniform(0.2, 0.9) * field.std()
        parts, count = ndimage.label(blobs)
        content = rng.choice(4, size=count + 1, p=[0.45, 0.2, 0.2, 0.15])
        wall = blobs & ~ndimage.binary_erosion(blobs, structure=np.ones((1, 3, 3), bool),
                                               iterations=int(rng.integers(1, 3)))
        out = np.zeros((5, K, H, W), bool)
        out[0] = wall
        for c in range(4):
            out[1 + c] = blobs & ~wall & (content[parts] == c)
        return out

    def vessels(self) -> np.ndarray:
        """(K, H, W) bool: branching vessel-like sheets (zero crossings of a smooth field) for the liver."""
        K, H, W = self.labels.shape
        width = self.rng.uniform(0.04, 0.1)
        scale = self.rng.uniform(10, 20) / self.mm
        return np.stack([np.abs(smooth_noise(self.rng, (H, W), scale)) < width for _ in range(K)])


def body_tissues(labels: np.ndarray, spacing: tuple[float, float], slice_mm: float, seed: int) -> np.ndarray:
    """Synthetic tissue codes (K, H, W) uint8 around organ labels (1 liver, 2/3 right/left kidney, 4 spleen)
    of pixel size `spacing` (mm) and slice distance `slice_mm`; the organ labels of the result equal `labels`."""
    builder = BodyBuilder(np.asarray(labels, np.uint8), spacing, slice_mm, np.random.default_rng(seed))
    loops, vessels = builder.loops(), builder.vessels()
    return np.stack([builder.build_slice(k, loops[:, k], vessels[k]) for k in range(len(labels))])
