"""Solid organs of the phantom: liver, spleen, kidneys, gallbladder and pancreas (see anatomy.py).

Each organ is a template (union/difference of superellipsoids in an organ frame) deformed by a smooth
random field and clipped to the abdominal cavity, so organs follow the body wall and each other.
"""

from __future__ import annotations

import numpy as np

from .shapes import Grid, Wobble, blob, paint, paint_tube, rotation, smooth_curve
from .tissues import CODE

SOFT = np.array([CODE["visceral fat"]], np.uint8)


def _allowed(*names: str) -> np.ndarray:
    return np.array([CODE[n] for n in names], np.uint8)


def _polar(grid: Grid, box, p: dict):
    """(z, y, x, phi): phi = polar angle in degrees around the abdominal centre (0 right, 90 anterior)."""
    z, y, x = grid.coords(box)
    phi = np.degrees(np.arctan2(y - np.float32(p["spine_y"] + 45.0), x))
    return z, y, x, phi


def paint_liver(tissue: np.ndarray, grid: Grid, p: dict, rng: np.random.Generator, depth: np.ndarray) -> None:
    """Liver as a band hugging the right and anterior inner wall under the diaphragm.

    Its thickness from the wall depends on the polar angle (thick right lobe, tapering left lobe whose
    tip reaches `left_lobe_tip` degrees, posterior edge retreating above the kidney) and on height
    (full under the dome, only the lateral tip of the right lobe at the bottom), times a smooth random
    deformation: the diaphragmatic surface follows the wall, the visceral surface is smooth and concave.
    """
    top, height = p["dome_right"] + 5.0, p["liver_height"]
    bottom = top - height
    box = grid.box((-1e4, -1e4, bottom), (1e4, 1e4, top + 10))
    if box is None:
        return
    z, y, x, phi = _polar(grid, box, p)
    s = np.clip((z - bottom) / height, 0, 1)
    phi_u = np.where(phi < -135, phi + 360, phi)
    # angular window opens upwards from the right anterolateral tip of the right lobe
    grow = s ** 0.5
    tip = 20.0 + (p["left_lobe_tip"] - 20.0) * grow
    post = 20.0 - 130.0 * grow
    g_ant = np.clip((tip - phi_u) / np.maximum(tip - 15.0, 10.0), 0, 1) ** 1.4
    g_post = np.clip((phi_u - post) / 25.0, 0, 1)
    thick = p["liver_thickness"] * (0.45 + 0.55 * np.sqrt(s)) * np.clip(s / 0.04, 0, 1)
    wob = Wobble(rng, (60.0, 150.0), 6)
    thick = thick * np.minimum(g_ant, g_post) * (1.0 + 0.12 * wob(x, y, z))
    d = depth[box]
    paint(tissue, box, (d > 0) & (d < thick), CODE["liver"], _allowed("visceral fat"))


def paint_spleen(tissue: np.ndarray, grid: Grid, p: dict, rng: np.random.Generator, depth: np.ndarray) -> None:
    """Spleen as a lens against the left posterolateral wall: convex outside, concave hilum inside."""
    zc, half_h = p["spleen_z"], p["spleen_half_height"]
    box = grid.box((-1e4, -1e4, zc - half_h - 5), (0, 1e4, zc + half_h + 5))
    if box is None:
        return
    z, y, x, phi = _polar(grid, box, p)
    dphi = (phi - p["spleen_phi"] + 180.0) % 360.0 - 180.0
    wob = Wobble(rng, (40.0, 100.0), 5)
    prof = 1.0 - (dphi / p["spleen_half_angle"]) ** 2 - ((z - zc) / half_h) ** 2 + 0.12 * wob(x, y, z)
    thick = p["spleen_thickness"] * np.sqrt(np.clip(prof, 0, 1))
    d = depth[box]
    paint(tissue, box, (d > 0) & (d < thick), CODE["spleen"], _allowed("visceral fat"))


def _frame(grid: Grid, box, centre, rot):
    from .shapes import local_coords

    return local_coords(grid, box, centre, rot)


def paint_kidney(tissue: np.ndarray, grid: Grid, p: dict, side: int, rng: np.random.Generator) -> np.ndarray:
    """Bean-shaped kidney: cortex, medullary pyramids, sinus fat, pelvis + ureter; returns hilum point."""
    key = "right" if side > 0 else "left"
    c = np.array(p[f"kidney_{key}"])
    rw, rt, rl = p[f"kidney_{key}_radii"]
    rot = kidney_frame(side, p[f"kidney_{key}_tilt"])
    wob = Wobble(rng, (35.0, 90.0), 5)
    box, f = blob(grid, c, (rw, rt, rl), rot, wob, 0.10)
    if box is None:
        return c
    u_m, v, w = _frame(grid, box, c, rot)  # u_m: towards the hilum (medial + anterior)
    u = u_m
    inner = (u_m / (rw - 7.5)) ** 2 + (v / (rt - 7.0)) ** 2 + (w / (rl - 8.0)) ** 2 + 0.10 * wob(u, v, w) < 1.0
    sinus = ((u_m - 0.35 * rw) / (0.55 * rw)) ** 2 + (v / (0.5 * rt)) ** 2 + (w / (0.55 * rl)) ** 2 < 1.0
    pelvis = ((u_m - 0.55 * rw) / (0.38 * rw)) ** 2 + (v / (0.3 * rt)) ** 2 + ((w + 0.05 * rl) / (0.28 * rl)) ** 2 < 1.0
    notch = (u_m > 0.62 * rw) & (np.abs(v) < 0.55 * rt) & (np.abs(w) < 0.35 * rl)
    angle = np.arctan2(w, u_m - 0.35 * rw)
    pyramid = np.cos(p["pyramids"] * angle + p["pyramid_phase"]) > -0.25
    outer = (f < 1.0) & ~notch
    allowed = _allowed("visceral fat", "muscle", "liver", "spleen")
    # perirenal fat (inside Gerota's fascia) keeps liver and spleen a few mm off the kidney
    capsule = (u / (rw + 6.0)) ** 2 + (v / (rt + 6.0)) ** 2 + (w / (rl + 7.0)) ** 2 + 0.10 * wob(u, v, w) < 1.0
    paint(tissue, box, capsule, CODE["visceral fat"], _allowed("liver", "spleen"))
    paint(tissue, box, outer, CODE["kidney cortex"], allowed)
    cortex = np.array([CODE["kidney cortex"]], np.uint8)
    paint(tissue, box, outer & inner & pyramid, CODE["kidney medulla"], cortex)
    paint(tissue, box, outer & sinus, CODE["renal sinus fat"], _allowed("kidney cortex", "kidney medulla"))
    paint(tissue, box, outer & pelvis, CODE["urine"], _allowed("renal sinus fat", "kidney medulla", "kidney cortex"))
    hilum = c + rot @ np.array([rw, 0.0, -0.05 * rl])
    ureter = [hilum, hilum + np.array([-side * 8.0, 5.0, -40.0]), hilum + np.array([-side * 12.0, 8.0, -120.0])]
    paint_tube(tissue, grid, smooth_curve(ureter, 6.0), 2.5, CODE["ureter"], where=SOFT)
    return hilum


def kidney_frame(side: int, tilt_deg: float) -> np.ndarray:
    """Columns u (to the hilum: medial + anterior), v (thickness), w (long axis, upper pole medial/posterior)."""
    t = np.radians(tilt_deg)
    w = np.array([-side * np.sin(t), -np.sin(t) * 0.8, 1.0])
    w /= np.linalg.norm(w)
    u = np.array([-side * np.cos(np.radians(30)), np.sin(np.radians(30)), 0.0])
    u -= (u @ w) * w
    u /= np.linalg.norm(u)
    return np.stack([u, np.cross(w, u), w], axis=1)


def paint_gallbladder(tissue: np.ndarray, grid: Grid, p: dict, rng: np.random.Generator) -> None:
    """Pear-shaped bile-filled sac in the gallbladder fossa, fundus pointing anterior-inferior."""
    wob = Wobble(rng, (30.0, 70.0), 4)
    rot = rotation(20.0, -50.0, 0.0)  # long axis tilted anteriorly and inferiorly
    r = p["gallbladder_radii"]
    box, f = blob(grid, p["gallbladder_centre"], r, rot, wob, 0.08)
    if box is None:
        return
    u, v, w = _frame(grid, box, p["gallbladder_centre"], rot)
    taper = 1.0 + 0.35 * np.clip(w / r[2], -1, 1)  # wider fundus (w > 0), narrow neck
    f2 = (u / (r[0] * taper)) ** 2 + (v / (r[1] * taper)) ** 2 + (w / r[2]) ** 2 + 0.08 * wob(u, v, w)
    allowed = _allowed("liver", "visceral fat")
    paint(tissue, box, f2 < 1.0, CODE["bowel wall"], allowed)
    paint(tissue, box, (u / (r[0] * taper - 2.0)) ** 2 + (v / (r[1] * taper - 2.0)) ** 2 + (w / (r[2] - 2.0)) ** 2
          + 0.08 * wob(u, v, w) < 1.0, CODE["bile"], _allowed("bowel wall"))


def paint_pancreas(tissue: np.ndarray, grid: Grid, p: dict, rng: np.random.Generator) -> list[np.ndarray]:
    """Head in the duodenal sweep, neck over the portal confluence, body over the aorta, tail to the hilum."""
    pts = np.array(p["pancreas_path"])
    curve = smooth_curve(pts, 3.0)
    t = np.linspace(0, 1, len(curve))
    radius = np.interp(t, [0, 0.2, 0.45, 1.0], p["pancreas_radii"])
    radius = radius * (1.0 + 0.15 * np.sin(2 * np.pi * t * rng.uniform(5, 9) + rng.uniform(0, 6)))
    paint_tube(tissue, grid, curve, radius, CODE["pancreas"], where=_allowed("visceral fat"))
    return [curve, radius]
