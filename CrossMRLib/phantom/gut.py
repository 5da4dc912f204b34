"""Hollow viscera of the phantom: stomach and duodenum, colon, small-bowel loops (wall, fluid, gas, stool)."""

from __future__ import annotations

import numpy as np

from .shapes import Grid, paint_tube, smooth_curve
from .tissues import CODE

_FAT = {CODE["visceral fat"]}


def _lumen(tissue, grid, curve, radius, wall: float, content: int, where=_FAT) -> None:
    paint_tube(tissue, grid, curve, radius, CODE["bowel wall"], where=where)
    paint_tube(tissue, grid, curve, np.maximum(radius - wall, 0.5), content, where={CODE["bowel wall"]})


def _gas_cap(tissue, grid, curve, radius, fill: np.ndarray, content: int) -> None:
    """Gas in the non-dependent (anterior, +y) part of the lumen where `fill` (0..1 per point) > 0."""
    shift = np.zeros_like(curve)
    shift[:, 1] = radius * (1.0 - 0.6 * fill)
    r = radius * 0.95 * fill
    keep = r > 1.0
    if keep.sum() >= 2:
        paint_tube(tissue, grid, (curve + shift)[keep], r[keep], CODE["gas"], where={content})


def paint_stomach_duodenum(tissue: np.ndarray, grid: Grid, p: dict, rng: np.random.Generator) -> None:
    pts = np.asarray(p["stomach_path"])
    curve = smooth_curve(pts, 3.0)
    t = np.linspace(0, 1, len(curve))
    radius = np.interp(t, np.linspace(0, 1, len(p["stomach_radii"])), p["stomach_radii"])
    _lumen(tissue, grid, curve, radius, 4.0, CODE["GI fluid"], where=_FAT | {CODE["lung"]})
    gas = np.clip(np.interp(t, [0, 0.3, 0.6, 1], [p["stomach_gas"], p["stomach_gas"] * 0.6, 0.1, 0.0]), 0, 1)
    _gas_cap(tissue, grid, curve, radius - 4.0, gas, CODE["GI fluid"])
    duo = smooth_curve(np.asarray(p["duodenum_path"]), 3.0)
    _lumen(tissue, grid, duo, p["duodenum_r"], 2.5, CODE["GI fluid"])


def paint_colon(tissue: np.ndarray, grid: Grid, p: dict, rng: np.random.Generator) -> None:
    """Ascending, transverse and descending colon with haustra, stool and gas pockets."""
    curve = smooth_curve(np.asarray(p["colon_path"]), 3.0)
    steps = np.r_[0, np.cumsum(np.linalg.norm(np.diff(curve, axis=0), axis=1))]
    radius = p["colon_r"] * (1.0 + 0.12 * np.cos(2 * np.pi * steps / rng.uniform(22, 32)))
    radius *= 1.0 + 0.15 * np.sin(2 * np.pi * steps / 180.0 + rng.uniform(0, 6))
    _lumen(tissue, grid, curve, radius, 2.5, CODE["stool"])
    gas = np.clip(np.sin(2 * np.pi * steps / rng.uniform(90, 160) + rng.uniform(0, 6)) * 0.9 + p["colon_gas"] - 0.3, 0, 0.9)
    _gas_cap(tissue, grid, curve, radius - 2.5, gas, CODE["stool"])


def paint_small_bowel(tissue: np.ndarray, grid: Grid, p: dict, rng: np.random.Generator) -> None:
    """Loops of small bowel filling the lower abdomen (fluid-filled or collapsed, some gas)."""
    lo, hi = np.asarray(p["bowel_box_lo"]), np.asarray(p["bowel_box_hi"])
    lo, hi = np.minimum(lo, hi), np.maximum(lo, hi)  # a small patient can make the box collapse on one axis
    for _ in range(p["bowel_loops"]):
        start = rng.uniform(lo, hi)
        pts = [start]
        for _ in range(rng.integers(5, 9)):
            step = rng.normal(0, 1, 3) * np.array([35.0, 18.0, 30.0])
            pts.append(np.clip(pts[-1] + step, lo, hi))
        curve = smooth_curve(pts, 3.0)
        r = rng.uniform(8.0, 13.0)
        filled = rng.random() < p["bowel_fluid_prob"]
        if filled:
            _lumen(tissue, grid, curve, r, 2.0, CODE["GI fluid"])
            if rng.random() < 0.3:
                _gas_cap(tissue, grid, curve, r - 2.0, np.full(len(curve), rng.uniform(0.2, 0.6)), CODE["GI fluid"])
        else:  # collapsed loop: thick wall with a thin central lumen
            paint_tube(tissue, grid, curve, r * 0.7, CODE["bowel wall"], where=_FAT)
            paint_tube(tissue, grid, curve, 2.0, CODE["GI fluid"], where={CODE["bowel wall"]})
