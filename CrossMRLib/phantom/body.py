"""Body wall, spine, back and psoas muscles, lung bases and heart of the phantom (see anatomy.py)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .shapes import Grid, blob, paint, rotation
from .tissues import CODE


def _harmonics(theta: np.ndarray, coeffs) -> np.ndarray:
    """Smooth periodic function of the polar angle: sum a_n cos(n theta + phase_n)."""
    out = np.zeros_like(theta)
    for n, (a, ph) in enumerate(coeffs, start=2):
        out += a * np.cos(n * theta + ph)
    return out


def body_template(grid: Grid, p: dict) -> tuple[np.ndarray, np.ndarray]:
    """2D (J, I) cross-section and cavity depth (mm from the inner wall, 0 outside the cavity).

    Flat back (patient supine), rounder belly, uneven subcutaneous fat with fibrous septa, rectus
    sheath, three lateral oblique layers separated by thin fat planes, erector spinae masses.
    """
    x, y, _ = grid.axes()
    xx, yy = np.meshgrid(x, y)
    theta = np.arctan2(yy, xx)
    power = np.where(yy >= 0, p["body_power"], p["body_power"] + 1.2)
    half_y = np.where(yy >= 0, p["body_ant"], p["body_post"])
    r = ((np.abs(xx) / p["body_half_width"]) ** power + (np.abs(yy) / half_y) ** power) ** (1 / power)
    body = r <= 1.0 + _harmonics(theta, p["outline_harmonics"])
    depth = ndimage.distance_transform_edt(body, sampling=grid.spacing[1::-1])
    fat_t = p["subcut_fat"] * (1.0 + _harmonics(theta, p["fat_harmonics"])) * np.where(yy > 0, 1.0, 0.7)
    fat_t = np.maximum(fat_t, 4.0)
    out = np.where(body, CODE["subcutaneous fat"], CODE["air"]).astype(np.uint8)
    wall = body & (depth > fat_t)
    out[wall] = CODE["muscle"]
    wall_t = p["wall_muscle"] * np.where(np.abs(xx) < 80, 0.9, 1.0)
    # three oblique layers laterally: thin fat planes between them
    layer = (depth - fat_t) / wall_t
    planes = wall & (np.abs(xx) > 75) & (yy > -0.3 * p["body_post"]) & ((np.abs(layer - 0.35) < 0.06) | (np.abs(layer - 0.68) < 0.06))
    out[planes] = CODE["visceral fat"]
    linea = wall & (yy > 0) & (np.abs(xx) < 3.0)
    out[linea] = CODE["subcutaneous fat"]
    cavity = body & (depth > fat_t + wall_t)
    out[cavity] = CODE["visceral fat"]
    # erector spinae / multifidus: rounded masses either side of the spinous process, under the fat
    yb = p["spine_y"]
    for side in (-1, 1):
        e = (np.abs((xx - side * 34) / 30.0) ** 2.4 + np.abs((yy - (yb - 56)) / 30.0) ** 2.4) <= 1.0
        out[e & body & (depth > fat_t)] = CODE["muscle"]
        cavity &= ~e
    cavity_depth = ndimage.distance_transform_edt(cavity, sampling=grid.spacing[1::-1]).astype(np.float32)
    return out, cavity_depth


def paint_body(tissue: np.ndarray, grid: Grid, p: dict) -> np.ndarray:
    """Fill the body outline (size varying smoothly along z); returns the 3D cavity depth map (mm)."""
    template, cavity_depth = body_template(grid, p)
    depth = np.zeros(tissue.shape, np.float32)
    x, y, z = grid.axes()
    for k, zk in enumerate(z):
        s = 1.0 + p["body_taper"] * np.tanh((zk - p["z_liver"]) / 120.0)
        ii = np.clip(np.round((x / s - grid.origin[0]) / grid.spacing[0]).astype(int), 0, grid.shape[2] - 1)
        jj = np.clip(np.round((y / s - grid.origin[1]) / grid.spacing[1]).astype(int), 0, grid.shape[1] - 1)
        tissue[k] = template[jj[:, None], ii[None, :]]
        depth[k] = cavity_depth[jj[:, None], ii[None, :]] * s
    return depth


def paint_lungs_heart(tissue: np.ndarray, grid: Grid, p: dict) -> None:
    """Lung bases above two diaphragm domes (right higher) and the heart above the left dome."""
    box = grid.box((-p["body_half_width"], -p["body_post"], p["dome_right"] - 110), (p["body_half_width"], p["body_ant"], 1e4))
    if box is None:
        return
    z, y, x = grid.coords(box)
    w = p["body_half_width"]
    right = p["dome_right"] - 75.0 * (((x - 0.45 * w) / (0.75 * w)) ** 2 + ((y + 5) / 110.0) ** 2)
    left = p["dome_left"] - 75.0 * (((x + 0.45 * w) / (0.75 * w)) ** 2 + ((y + 5) / 110.0) ** 2)
    dome = np.maximum(right, left)
    lung = z > dome
    paint(tissue, box, lung, CODE["lung"], np.array([CODE["visceral fat"]], np.uint8))
    heart_c = (-0.15 * w, 0.25 * p["body_ant"], p["dome_left"] + 35)
    hbox, field = blob(grid, heart_c, (70, 55, 55), rotation(30))
    if hbox is not None:
        allowed = np.array([CODE["lung"], CODE["visceral fat"]], np.uint8)
        paint(tissue, hbox, field < 1.0, CODE["myocardium"], allowed)
        paint(tissue, hbox, field < 0.55, CODE["vein"], np.array([CODE["myocardium"]], np.uint8))


def paint_spine(tissue: np.ndarray, grid: Grid, p: dict) -> None:
    """Vertebrae (cortex + marrow) with discs, posterior arch, spinal canal (CSF, cord), psoas and QL."""
    x, y, z = grid.axes()
    yb = p["spine_y"]
    box = grid.box((-90, yb - 75, -1e4), (90, yb + 40, 1e4))
    zz, yy, xx = grid.coords(box)
    view = tissue[box]
    # vertebral level: body height ~28 mm, disc ~9 mm
    phase = np.mod(zz - p["disc_phase"], 37.0)
    is_disc = phase < 9.0
    # vertebral body: kidney-shaped (concave posterior border), 48 x 34 mm
    body = ((xx / 24.0) ** 2 + ((yy - yb) / 17.0) ** 2 <= 1.0) & ~((xx / 9.0) ** 2 + ((yy - yb + 21) / 8.0) ** 2 <= 1.0)
    canal = ((xx / 10.5) ** 2 + ((yy - (yb - 27)) / 8.5) ** 2) <= 1.0
    ring = (((xx / 17.0) ** 2 + ((yy - (yb - 28)) / 15.5) ** 2) <= 1.0) & ~canal
    spinous = (np.abs(xx) < 4.5 - 0.02 * (yb - 40 - yy)) & (yy < yb - 38) & (yy > yb - 70) & (phase > 6) & (phase < 32)
    transverse = (np.abs(xx) < 46 - 0.15 * np.abs(yy - (yb - 20))) & (np.abs(yy - (yb - 20)) < 5.5) & (phase > 13) & (phase < 29)
    posterior = (ring | spinous | transverse) & ~canal
    shape = view.shape
    bone = np.broadcast_to(body & ~is_disc, shape) | np.broadcast_to(posterior, shape)
    # marrow inside, cortical rim (~1.5-3 mm) where the bone meets soft tissue
    rim = bone & ~ndimage.binary_erosion(bone, np.ones((1, 3, 3), bool))
    view[bone] = CODE["vertebral marrow"]
    view[rim] = CODE["cortical bone"]
    view[np.broadcast_to(body & is_disc, shape)] = CODE["intervertebral disc"]
    view[np.broadcast_to(canal, shape)] = CODE["CSF"]
    cord = (((xx / 4.5) ** 2 + ((yy - (yb - 27)) / 4.0) ** 2) <= 1.0) & (zz > p["conus_z"])
    view[np.broadcast_to(cord, shape)] = CODE["spinal cord"]
    # psoas grows caudally from the upper lumbar spine; quadratus lumborum lateral to it
    grow = np.clip((p["psoas_top"] - zz) / 130.0, 0, 1)
    rad = 6.0 + 20.0 * grow
    for side in (-1, 1):
        cx = side * (26.0 + 0.9 * rad)
        psoas = (((xx - cx) / rad) ** 2 + ((yy - (yb + 2)) / (0.85 * rad)) ** 2 <= 1.0) & (zz < p["psoas_top"])
        ql = (((xx - side * 62) / 20.0) ** 2 + ((yy - (yb - 30)) / 11.0) ** 2 <= 1.0) & (zz < p["psoas_top"] + 20)
        m = np.broadcast_to(psoas | ql, shape) & (view == CODE["visceral fat"])
        view[m] = CODE["muscle"]


def paint_ribs(tissue: np.ndarray, grid: Grid, p: dict) -> None:
    """Oblique rib cross-sections (cortex + marrow) in the upper abdominal wall."""
    box = grid.box((-1e4, -1e4, p["z_liver"] - 40), (1e4, 1e4, 1e4))
    if box is None:
        return
    z, y, x = grid.coords(box)
    view = tissue[box]
    wall = view == CODE["muscle"]
    if not wall.any():
        return
    angle = np.arctan2(x, -y)  # 0 posterior midline, +-pi anterior
    # ribs slope down anteriorly; spacing ~ 30 mm along z
    zr = z + 22.0 * np.abs(angle) - p["rib_phase"]
    band = np.abs(np.mod(zr, 30.0) - 15.0) < 4.5
    lateral = (np.abs(angle) > 0.5) & (np.abs(angle) < 2.3)
    ribs = wall & band & lateral
    view[ribs] = CODE["cortical bone"]
    core = wall & (np.abs(np.mod(zr, 30.0) - 15.0) < 2.5) & lateral
    view[core] = CODE["vertebral marrow"]
