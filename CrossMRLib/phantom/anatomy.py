"""Per-seed 3D anatomy of the phantom: a high-resolution tissue map, organ labels, texture and fat maps.

Coordinates are RAS mm (+x = patient's right, +y = anterior, +z = superior), origin at the body's
centre in the plane of the right kidney's centre. The sign was settled on CHAOS T2-SPIR
(../shared/data/chaos_t2spir, 15 subjects): with each file's own affine, the liver and label 2 (right
kidney) have larger RAS x than label 3 (left kidney) and the spleen.

Sanity reference measured on CHAOS (median [min..max] over 15 subjects, centroid offsets in mm, RAS):
- volumes: liver 1579 mL [1013..3432], right kidney 184 [117..292], left kidney 184 [123..293],
  spleen 253 [131..742];
- liver - right kidney: x +1 [-24..18], y +37 [15..79], z +78 [47..111];
- spleen - left kidney: x -27 [-54..-14], y -6 [-22..38], z +63 [22..97];
- left kidney - right kidney: x -131 [-169..-105], y -5 [-31..12], z +5 [-21..43];
- extents: liver 196 x 174 x 169 mm, kidney 72 x 62 x 108 mm, spleen 96 x 101 x 108 mm (x, y, z);
- body at the right-kidney level: 270..>320 mm wide, 185..278 mm deep.
The sampled parameters below reproduce these ranges; no CHAOS voxel is used by the generator.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from . import body, gut, vessels, viscera
from .shapes import Grid, Wobble
from .tissues import CODE, KIDNEY_TISSUES, LIVER_TISSUES, SPLEEN_TISSUES, NUM_TISSUES, table

HIGH_RES_MM = (1.5, 1.5, 2.0)


@dataclass
class Anatomy:
    grid: Grid
    tissue: np.ndarray  # (K, J, I) uint8 tissue codes
    labels: np.ndarray  # (K, J, I) uint8 organ labels 0..4
    texture: np.ndarray  # (K, J, I) float32, smooth random field, unit std
    fat_fraction: np.ndarray  # (K, J, I) float32
    mobility: np.ndarray  # coarse (K, J, I) float32, 0 (fixed) .. 1 (moves fully with breathing)
    mobility_grid: Grid
    params: dict = field(default_factory=dict)


def sample_params(rng: np.random.Generator, fatty_liver: bool | None) -> dict:
    """Body habitus, organ sizes and positions for one subject."""
    u = rng.uniform
    p: dict = {}
    p["body_half_width"] = u(140, 180)
    p["body_post"], p["body_ant"] = u(90, 118), u(95, 135)
    p["body_power"], p["body_taper"] = u(2.0, 2.5), u(-0.06, 0.02)
    p["outline_harmonics"] = [(u(0, 0.025), u(0, 6.3)) for _ in range(4)]
    p["fat_harmonics"] = [(u(0, 0.3), u(0, 6.3)) for _ in range(4)]
    p["subcut_fat"], p["wall_muscle"] = u(8, 32), u(9, 13)
    p["spine_y"] = -p["body_post"] + 0.75 * p["subcut_fat"] + u(68, 78)
    cav = p["body_half_width"] - 1.25 * p["subcut_fat"] - p["wall_muscle"]
    p["cavity_half_width"] = cav
    yb = p["spine_y"]
    p["disc_phase"], p["rib_phase"], p["conus_z"] = u(0, 37), u(0, 30), u(-20, 40)
    kx = 52 + 0.12 * (cav - 110)
    p["kidney_right"] = [kx + u(-5, 8), yb + u(-2, 12), 0.0]
    p["kidney_left"] = [-(kx + u(-5, 8)), yb + u(-2, 12), u(5, 28)]
    for key in ("right", "left"):
        p[f"kidney_{key}_radii"] = [u(28, 33), u(22, 27), u(50, 62)]
        p[f"kidney_{key}_tilt"] = u(8, 20)
    p["pyramids"], p["pyramid_phase"] = int(rng.integers(6, 9)), u(0, 6.3)
    p["psoas_top"] = p["kidney_left"][2] + u(20, 50)
    rk, lk = np.array(p["kidney_right"]), np.array(p["kidney_left"])
    p["dome_right"] = u(130, 165)
    p["dome_left"] = p["dome_right"] - u(10, 25)
    p["liver_height"], p["liver_thickness"], p["left_lobe_tip"] = u(150, 195), u(100, 135), u(135, 175)
    p["liver_centre"] = [0.45 * cav, yb + 60.0, p["dome_right"] - 0.45 * p["liver_height"]]
    p["z_liver"] = p["liver_centre"][2]
    p["fatty_liver"] = bool(rng.random() < 0.3) if fatty_liver is None else bool(fatty_liver)
    p["liver_ff"] = u(0.10, 0.30) if p["fatty_liver"] else u(0.01, 0.04)
    p["spleen_z"], p["spleen_half_height"] = lk[2] + u(40, 75), u(45, 62)
    p["spleen_phi"], p["spleen_half_angle"], p["spleen_thickness"] = u(-160, -130), u(30, 45), u(28, 45)
    p["spleen_centre"] = [-0.8 * cav, yb + 20.0, p["spleen_z"]]
    p["gallbladder_radii"] = [u(12, 18), u(12, 17), u(30, 42)]
    ant = p["body_ant"] - p["subcut_fat"] - p["wall_muscle"]
    liver_bottom = p["dome_right"] - p["liver_height"]
    p["gallbladder_centre"] = [u(25, 50), ant - u(35, 55), max(liver_bottom + u(35, 60), 20.0)]
    p["porta"] = [u(30, 45), yb + u(55, 70), rk[2] + u(35, 55)]
    bz = 0.5 * (rk[2] + lk[2])
    p["pancreas_path"] = [[u(25, 40), yb + u(45, 55), bz - u(5, 20)], [u(0, 10), yb + u(62, 72), bz + u(0, 8)],
                          [-u(30, 45), yb + u(55, 65), bz + u(10, 22)],
                          [p["spleen_centre"][0] + u(25, 40), p["spleen_centre"][1] + u(25, 35), lk[2] + u(30, 45)]]
    p["pancreas_radii"] = [u(13, 17), u(7, 10), u(9, 12), u(7, 10)]
    p["aorta_x"], p["aorta_r"] = -u(10, 18), u(9, 12.5)
    p["ivc_x"], p["ivc_r"] = u(18, 26), u(9, 12)
    p["portal_r"] = u(5.5, 7.5)
    dl, fill = p["dome_left"], u(0.6, 1.0)
    p["stomach_path"] = [[-0.45 * cav, yb + 40, dl - 30], [-0.55 * cav, yb + 75, dl - 70], [-0.3 * cav, yb + 95, bz + 35],
                         [-5, yb + 100, bz + 25], [15, yb + 85, bz + 25]]
    p["stomach_radii"] = [f * fill for f in (38, 33, 24, 17, 9)]
    p["stomach_gas"] = u(0.0, 0.8)
    p["duodenum_path"] = [[15, yb + 85, bz + 25], [40, yb + 72, bz + 25], [55, yb + 52, bz], [50, yb + 45, bz - 35],
                          [10, yb + 46, bz - 50], [-25, yb + 50, bz - 40], [-35, yb + 55, bz - 15]]
    p["duodenum_r"] = u(9, 12)
    p["colon_path"] = [[cav - 30, yb + 40, -150], [cav - 30, yb + 45, -40], [cav - 42, yb + 70, 15], [40, ant - 38, -5],
                       [-40, ant - 38, 0], [-(cav - 35), yb + 60, lk[2] + 30], [-(cav - 28), yb + 30, -40],
                       [-(cav - 28), yb + 30, -150]]
    p["colon_r"], p["colon_gas"] = u(16, 22), u(0.0, 0.8)
    p["bowel_box_lo"] = [-(cav - 55), yb + 40, -150]
    p["bowel_box_hi"] = [cav - 55, ant - 20, -25]
    p["bowel_loops"], p["bowel_fluid_prob"] = int(rng.integers(16, 24)), u(0.3, 0.8)
    return p


def grid_for(p: dict) -> Grid:
    w = p["body_half_width"] * 1.08 + 6
    return Grid.covering((-w, -p["body_post"] * 1.08 - 6, -160.0), (w, p["body_ant"] * 1.08 + 6, p["dome_right"] + 70), HIGH_RES_MM)


def build_anatomy(seed: int, fatty_liver: bool | None = None) -> Anatomy:
    """The whole-abdomen tissue map for one subject (deterministic in `seed`)."""
    rng = np.random.default_rng([seed, 3])
    p = sample_params(rng, fatty_liver)
    grid = grid_for(p)
    tissue = np.zeros(grid.shape, np.uint8)
    depth = body.paint_body(tissue, grid, p)
    body.paint_spine(tissue, grid, p)
    body.paint_ribs(tissue, grid, p)
    body.paint_lungs_heart(tissue, grid, p)
    voxel_ml = float(np.prod(grid.spacing)) / 1000.0
    _paint_sized(lambda r: viscera.paint_liver(tissue, grid, p, r, depth), tissue, "liver", (1300, 2700), voxel_ml,
                 rng, p, {"liver_thickness": 0.4, "liver_height": 0.7, "left_lobe_tip": 0.3})
    _paint_sized(lambda r: viscera.paint_spleen(tissue, grid, p, r, depth), tissue, "spleen", (170, 600), voxel_ml,
                 rng, p, {"spleen_thickness": 0.5, "spleen_half_height": 0.3})
    del depth
    hila = {"right": viscera.paint_kidney(tissue, grid, p, 1, rng), "left": viscera.paint_kidney(tissue, grid, p, -1, rng)}
    viscera.paint_gallbladder(tissue, grid, p, rng)
    gut.paint_stomach_duodenum(tissue, grid, p, rng)
    viscera.paint_pancreas(tissue, grid, p, rng)
    vessels.paint_great_vessels(tissue, grid, p, hila)
    vessels.paint_hepatic_trees(tissue, grid, p, rng)
    gut.paint_colon(tissue, grid, p, rng)
    gut.paint_small_bowel(tissue, grid, p, rng)
    vessels.paint_mesenteric_vessels(tissue, grid, p, rng)
    labels = organ_labels(tissue, grid)
    texture = smooth_field(rng, grid.shape, 2)
    paint_septa(tissue, grid, rng)
    fat = fat_fraction_map(tissue, texture, p, rng)
    mob, mob_grid = mobility_map(tissue, grid, p)
    return Anatomy(grid, tissue, labels, texture, fat, mob, mob_grid, p)


def _paint_sized(paint_fn, tissue: np.ndarray, name: str, limits: tuple[float, float], voxel_ml: float,
                 rng: np.random.Generator, p: dict, exponents: dict[str, float]) -> None:
    """Paint an organ; if its volume leaves the adult range, rescale its size parameters and repaint."""
    seed = int(rng.integers(2 ** 31))
    code = CODE[name]
    for _ in range(4):
        paint_fn(np.random.default_rng(seed))
        volume = float(np.count_nonzero(tissue == code)) * voxel_ml
        if limits[0] <= volume <= limits[1]:
            return
        target = float(np.clip(volume, *limits)) * (1.08 if volume < limits[0] else 0.92)
        tissue[tissue == code] = CODE["visceral fat"]
        for key, exponent in exponents.items():
            p[key] *= (target / max(volume, 1.0)) ** exponent
    paint_fn(np.random.default_rng(seed))


def _label_lut() -> np.ndarray:
    lut = np.zeros(256, np.uint8)
    lut[list(LIVER_TISSUES)] = 1
    lut[list(KIDNEY_TISSUES)] = 2
    lut[list(SPLEEN_TISSUES)] = 4
    return lut


LABEL_OF_TISSUE = _label_lut()


def organ_labels(tissue: np.ndarray, grid: Grid) -> np.ndarray:
    """CrossMR labels from tissue codes: 1 liver (+ intrahepatic vessels), 2/3 right/left kidney, 4 spleen."""
    labels = LABEL_OF_TISSUE[tissue]
    x, _, _ = grid.axes()
    kid = labels == 2
    kid[:, :, x >= 0] = False
    labels[kid] = 3
    return labels


def paint_septa(tissue: np.ndarray, grid: Grid, rng: np.random.Generator) -> None:
    """Thin fibrous septa in the subcutaneous fat: zero-level sheets of a smooth random field."""
    fat = tissue == CODE["subcutaneous fat"]
    k, j, i = np.nonzero(fat)
    x, y, z = grid.axes()
    wob = Wobble(rng, (25.0, 60.0), 5)
    value = wob(x[i].astype(np.float32), y[j].astype(np.float32), z[k].astype(np.float32))
    sheet = np.abs(value) < 0.045
    tissue[k[sheet], j[sheet], i[sheet]] = CODE["fibrous septum"]


def smooth_field(rng: np.random.Generator, shape, factor: int) -> np.ndarray:
    """Unit-variance smooth random field: fine (~5 mm) + coarse (~25 mm) correlated noise, upsampled."""
    coarse_shape = tuple(int(np.ceil(n / factor)) + 1 for n in shape)
    fine = ndimage.gaussian_filter(rng.normal(size=coarse_shape).astype(np.float32), 1.0)
    broad = ndimage.gaussian_filter(rng.normal(size=coarse_shape).astype(np.float32), 5.0)
    field = fine / (fine.std() + 1e-6) + 0.7 * broad / (broad.std() + 1e-6)
    field /= field.std() + 1e-6
    up = ndimage.zoom(field, factor, order=1)
    return np.ascontiguousarray(up[: shape[0], : shape[1], : shape[2]], dtype=np.float32)


def fat_fraction_map(tissue: np.ndarray, texture: np.ndarray, p: dict, rng: np.random.Generator) -> np.ndarray:
    """Proton-density fat fraction per voxel; the liver gets its own (possibly steatotic) heterogeneous value."""
    ff = table(1.5)["ff"].astype(np.float32)
    lut = np.zeros(256, np.float32)
    lut[:NUM_TISSUES] = ff
    lut[CODE["liver"]] = p["liver_ff"]
    out = lut[tissue]
    liver = tissue == CODE["liver"]
    scale = 0.35 if p["fatty_liver"] else 0.2
    out[liver] *= np.clip(1.0 + scale * texture[liver], 0.3, 1.7)
    return out


def mobility_map(tissue: np.ndarray, grid: Grid, p: dict, step: int = 4) -> tuple[np.ndarray, Grid]:
    """How much each region follows respiration (coarse grid, smooth): viscera 1, kidneys 0.6, wall/spine 0."""
    lut = np.zeros(256, np.float32)
    for name in ("liver", "spleen", "hepatic vessel", "bile", "GI fluid", "gas", "bowel wall", "pancreas", "stool", "lung", "vein"):
        lut[CODE[name]] = 1.0
    lut[CODE["visceral fat"]] = 0.7
    for code in KIDNEY_TISSUES:
        lut[code] = 0.6
    coarse = lut[tissue[::step, ::step, ::step]]
    coarse = ndimage.gaussian_filter(coarse, 1.2)
    z = grid.origin[2] + grid.spacing[2] * step * np.arange(coarse.shape[0])
    coarse *= np.clip(0.55 + (z - 0.0) / 250.0, 0.35, 1.0)[:, None, None].astype(np.float32)
    g = Grid(grid.origin.copy(), grid.spacing * step, coarse.shape)
    return coarse.astype(np.float32), g
