"""Vessels of the phantom: aorta and branches, IVC, portal system, renal vessels, hepatic vessel trees."""

from __future__ import annotations

import numpy as np

from .shapes import Grid, paint_tube, smooth_curve
from .tissues import CODE

_SOFT = {CODE["visceral fat"], CODE["muscle"], CODE["lung"], CODE["pancreas"], CODE["bowel wall"]}


def paint_great_vessels(tissue: np.ndarray, grid: Grid, p: dict, hila: dict) -> None:
    """Aorta (with celiac, SMA, renal arteries), IVC (intrahepatic up to the atrium), portal/splenic/renal veins."""
    yb, top, bottom = p["spine_y"], p["dome_right"] + 80, grid.origin[2] - 10
    ax, ay, ar = p["aorta_x"], yb + 29.0, p["aorta_r"]
    aorta = [(ax - 6, yb + 8, top), (ax - 3, ay - 6, p["dome_left"] - 30), (ax, ay, 0.0), (ax + 2, ay + 3, bottom)]
    paint_tube(tissue, grid, smooth_curve(aorta, 6.0), ar, CODE["aorta"], where=_SOFT | {CODE["myocardium"], CODE["liver"]})
    ix, iy = p["ivc_x"], yb + 30.0
    ivc = [(ix, iy, bottom), (ix + 2, iy + 3, 0.0), (ix, iy + 12, p["z_liver"]), (ix - 8, iy + 22, p["dome_right"] - 5),
           (ix - 15, iy + 40, top)]
    ivc_pts = smooth_curve(ivc, 5.0)
    paint_tube(tissue, grid, ivc_pts, p["ivc_r"], CODE["vein"], where=_SOFT | {CODE["liver"], CODE["myocardium"]})
    p["ivc_top"] = ivc_pts[np.argmin(np.abs(ivc_pts[:, 2] - (p["dome_right"] - 25)))].tolist()
    neck = np.array(p["pancreas_path"][1])
    confluence = neck + np.array([2.0, -14.0, 0.0])
    porta = np.array(p["porta"])
    portal = smooth_curve([confluence, (confluence + porta) / 2 + np.array([0, -5.0, 0]), porta], 4.0)
    paint_tube(tissue, grid, portal, p["portal_r"], CODE["vein"], where=_SOFT | {CODE["liver"]})
    smv = [confluence, confluence + np.array([3.0, 4.0, -40.0]), confluence + np.array([5.0, 6.0, -110.0])]
    paint_tube(tissue, grid, smooth_curve(smv, 5.0), 5.0, CODE["vein"], where=_SOFT)
    tail = np.array(p["pancreas_path"][-1])
    splenic = [confluence, np.array(p["pancreas_path"][2]) + np.array([0, -11.0, 0]), tail + np.array([0, -9.0, 0]),
               np.array(p["spleen_centre"]) + np.array([22.0, 18.0, 0.0])]
    paint_tube(tissue, grid, smooth_curve(splenic, 4.0), 4.5, CODE["vein"], where=_SOFT)
    sma_z = neck[2] + 8
    sma = [(ax, ay + ar - 2, sma_z + 10), (ax + 6, ay + ar + 14, sma_z - 5), (ax + 10, ay + ar + 22, sma_z - 50),
           (ax + 12, ay + ar + 30, sma_z - 120)]
    paint_tube(tissue, grid, smooth_curve(sma, 4.0), 3.5, CODE["aorta"], where=_SOFT)
    celiac = [(ax, ay + ar - 2, sma_z + 25), (ax + 4, ay + ar + 12, sma_z + 28)]
    paint_tube(tissue, grid, smooth_curve(celiac, 3.0), 3.5, CODE["aorta"], where=_SOFT)
    for side, key in ((1, "right"), (-1, "left")):
        h = np.asarray(hila[key])
        if side < 0:  # left renal vein runs between aorta and SMA into the IVC
            vein = [h, (ax, ay + ar + 8, h[2] - 4), (ix, iy + 3, h[2] - 6)]
        else:
            vein = [h, (ix + 8, iy, h[2] - 2), (ix, iy, h[2] - 4)]
        paint_tube(tissue, grid, smooth_curve(vein, 4.0), 5.0, CODE["vein"], where=_SOFT)
        artery = [(ax, ay - 3, h[2] + 8), ((ax + h[0]) / 2, yb + 15, h[2] + 4), h + np.array([0, -6.0, 2.0])]
        paint_tube(tissue, grid, smooth_curve(artery, 4.0), 2.8, CODE["aorta"], where=_SOFT)


def paint_hepatic_trees(tissue: np.ndarray, grid: Grid, p: dict, rng: np.random.Generator) -> None:
    """Three hepatic veins draining into the IVC and the portal tree from the porta hepatis (inside the liver)."""
    liver_only = {CODE["liver"]}
    top = np.asarray(p["ivc_top"])
    for direction in ((1.0, -0.3, -0.35), (0.5, 0.8, -0.5), (-0.8, 0.7, -0.2)):
        _tree(tissue, grid, rng, top, np.asarray(direction), 5.0, liver_only, first=45.0)
    porta = np.asarray(p["porta"])
    for direction, r in (((1.0, -0.3, 0.3), 6.0), ((-0.9, 0.6, 0.35), 5.0)):
        _tree(tissue, grid, rng, porta, np.asarray(direction), r, liver_only, first=30.0)


def paint_mesenteric_vessels(tissue: np.ndarray, grid: Grid, p: dict, rng: np.random.Generator) -> None:
    """Jejunal/ileal branches of the SMA/SMV fanning through the mesenteric fat towards the bowel loops."""
    root = np.array([p["aorta_x"] + 10, p["spine_y"] + 60.0, -30.0])
    for _ in range(int(rng.integers(5, 9))):
        direction = np.array([rng.uniform(-1, 1), rng.uniform(0.2, 0.9), rng.uniform(-0.9, -0.1)])
        _tree(tissue, grid, rng, root, direction, 2.6, {CODE["visceral fat"]}, first=35.0, min_radius=1.0,
              code=CODE["vein"])


def _tree(tissue, grid, rng, start, direction, radius, where, first: float, min_radius: float = 1.3,
          code: int = CODE["hepatic vessel"]) -> None:
    """Randomly branching vessel tree (bifurcations, Murray-like radius decrease, gentle curvature)."""
    stack = [(np.asarray(start, float), direction / np.linalg.norm(direction), radius, first)]
    while stack:
        p0, d, r, length = stack.pop()
        bend = rng.normal(0, 0.25, 3)
        mid = p0 + d * length * 0.5 + bend * length * 0.25
        d_end = d + bend * 0.5
        d_end /= np.linalg.norm(d_end)
        end = mid + d_end * length * 0.5
        curve = smooth_curve([p0, mid, end], 3.0)
        paint_tube(tissue, grid, curve, np.linspace(r, 0.85 * r, len(curve)), code, where=where)
        if 0.72 * r < min_radius:
            continue
        axis = np.cross(d_end, rng.normal(size=3))
        axis /= np.linalg.norm(axis)
        for share, sign in ((0.80, 1), (0.65, -1)):
            angle = np.radians(rng.uniform(20, 45)) * sign
            child = d_end * np.cos(angle) + np.cross(axis, d_end) * np.sin(angle)
            stack.append((end, child, r * share, max(12.0, length * rng.uniform(0.6, 0.9))))
