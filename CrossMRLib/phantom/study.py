"""generate_study / write_study: one five-contrast phantom study with exact labels in every series grid."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..series import Series
from . import acquisition as acq
from .anatomy import LABEL_OF_TISSUE, Anatomy, build_anatomy, sample_params
from .shapes import Grid
from .signal import Sequence, anatomy_components, fat_coefficient, fat_water_shift_hz, water_lut
from .tissues import CODE

SERIES_NAMES = ("t1w", "t2w", "dwi", "inphase", "opposed")
ALL_IMAGES = SERIES_NAMES + ("dwi_b0",)
FIELD_STRENGTHS = (1.5, 3.0)
# image -> (geometry group, flow behaviour); images of one group share one acquisition grid
GROUP_OF = {"t1w": ("t1w", "gre3d"), "t2w": ("t2w", "fse"), "dwi_b0": ("dwi", "dwi0"), "dwi": ("dwi", "dwi"),
            "inphase": ("dual", "gre2d"), "opposed": ("dual", "gre2d")}  # first of a group sets noise and gain


@dataclass
class PhantomStudy:
    """Images and labels (keys: SERIES_NAMES + "dwi_b0") and JSON-serialisable parameters."""

    seed: int
    images: dict[str, Series]
    labels: dict[str, Series]
    params: dict = field(default_factory=dict)
    tissues: dict[str, Series] = field(default_factory=dict)  # tissue codes (tissues.py) per series grid


def sequences(rng: np.random.Generator, field_strength: float) -> dict[str, Sequence]:
    """Clinical-like sequence parameters per image (small random protocol differences per study)."""
    high = field_strength > 2.25
    df = fat_water_shift_hz(field_strength)
    te_op, te_ip = 1e3 / (2 * df), 1e3 / df
    dual_tr, dual_flip = rng.uniform(120, 200), rng.uniform(65, 80)
    tr_dwi, te_dwi, sat_dwi = rng.uniform(4000, 6500), rng.uniform(55, 75) - (8 if high else 0), rng.uniform(0.93, 0.98)
    return {
        "t1w": Sequence("gre", rng.uniform(3.5, 5.0), te_ip, rng.uniform(10, 13)),
        "t2w": Sequence("fse", rng.uniform(2200, 4500), rng.uniform(75, 95), 90.0, 0.0, rng.uniform(0.80, 0.92)),
        "dwi_b0": Sequence("dwi", tr_dwi, te_dwi, 90.0, 0.0, sat_dwi),
        "dwi": Sequence("dwi", tr_dwi, te_dwi, 90.0, 800.0, sat_dwi),
        "inphase": Sequence("gre", dual_tr, te_ip * rng.uniform(0.98, 1.02), dual_flip),
        "opposed": Sequence("gre", dual_tr, te_op * rng.uniform(0.98, 1.02), dual_flip),
    }


def plan_acquisition(seed: int, field_strength: float = 1.5, anatomy_params: dict | None = None):
    """(sequences, geometries, rng) of a study, without simulating it (cheap; same as generate_study uses)."""
    if anatomy_params is None:
        anatomy_params = sample_params(np.random.default_rng([int(seed), 3]), None)
    rng = np.random.default_rng([int(seed), 7, int(field_strength * 10)])
    seqs = sequences(rng, field_strength)
    return seqs, acq.plan_geometries(rng, anatomy_params, field_strength), rng


def generate_study(seed: int, field_strength: float = 1.5, fatty_liver: bool | None = None) -> PhantomStudy:
    """Simulate one subject: anatomy from `seed`, then T1w, T2w, DWI b0/b800, in- and opposed-phase series."""
    if not any(abs(field_strength - f) < 1e-6 for f in FIELD_STRENGTHS):
        raise InputError(f"field strength {field_strength} T is not supported; use 1.5 or 3")
    seed = int(seed)
    anatomy = build_anatomy(seed, fatty_liver)
    seqs, geoms, rng = plan_acquisition(seed, field_strength, anatomy.params)
    water, fat = anatomy_components(anatomy.tissue, anatomy.fat_fraction, anatomy.texture, field_strength)
    gas = _gas_map(anatomy)
    images, labels, tissues, series_params = {}, {}, {}, {}
    for group, geom in geoms.items():
        names = [n for n in GROUP_OF if GROUP_OF[n][0] == group]  # reference (b0, in-phase) first
        crop, sub = _crop(anatomy.grid, geom)
        pts0 = acq.sample_points(geom, anatomy.mobility, anatomy.mobility_grid)
        jac = None
        if geom.distortion_mm:
            disp, jac = acq.epi_warp(geom, gas, anatomy.mobility_grid, rng, pts0)
            pts0[1] -= disp
        blur_j = 0.35 if group == "dwi" else 0.0
        index = acq.to_index(pts0, sub)
        del pts0
        fat_pv = acq.sample(acq.partial_volume(fat[crop], sub, geom, blur_j), index)
        tissue_c, water_c = anatomy.tissue[crop], water[crop]
        bias = acq.bias_field(geom, rng, anatomy.params)
        tis = acq.sample(anatomy.tissue[crop], index, order=0).astype(np.uint8)
        lab = series_labels(tis, geom)
        matrix = geom.ijk_to_ras()
        clean = {}
        for name in names:
            seq = seqs[name]
            lut = water_lut(seq, field_strength, GROUP_OF[name][1])
            w_pv = acq.sample(acq.partial_volume(water_c * lut[tissue_c], sub, geom, blur_j), index)
            c = fat_coefficient(seq, field_strength)
            signal = (w_pv + np.float32(c.real) * fat_pv) + 1j * (np.float32(c.imag) * fat_pv)
            if jac is not None:
                signal *= jac
            signal = acq.kspace_effects((signal * bias).astype(np.complex64), geom, np.random.default_rng([seed, 11]))
            clean[name] = np.abs(signal).astype(np.float32)
        reference = clean[names[0]]
        liver = tis == CODE["liver"]  # SNR is defined on liver parenchyma
        liver_mean = float(reference[liver].mean()) if liver.any() else float(np.percentile(reference, 90))
        sigma = liver_mean / geom.snr
        gain = float(rng.uniform(800, 1600)) / float(np.percentile(reference, 99.5))
        for name in names:
            noisy = np.round(acq.rician(clean[name], sigma, rng) * np.float32(gain))  # scanners store integers
            images[name] = Series(noisy.astype(np.float32), matrix, name, name)
            labels[name] = Series(lab.copy(), matrix.copy(), f"{name}_labels", name)
            tissues[name] = Series(tis, matrix.copy(), f"{name}_tissues", name)
            series_params[name] = {"sequence": seqs[name].to_dict(), "geometry": geom.to_dict(),
                                   "noise_sigma": round(sigma * gain, 4), "gain": round(gain, 6)}
    params = {"seed": seed, "field_strength": float(field_strength), "fatty_liver": bool(anatomy.params["fatty_liver"]),
              "liver_fat_fraction": round(float(anatomy.params["liver_ff"]), 4),
              "organ_volumes_ml": organ_volumes(anatomy), "series": series_params}
    return PhantomStudy(seed, images, labels, _jsonable(params), tissues)


def series_labels(tissue: np.ndarray, geom: acq.Geometry) -> np.ndarray:
    """Organ labels from sampled tissue codes; kidneys split by side (RAS x of the voxel)."""
    labels = LABEL_OF_TISSUE[tissue]
    m = geom.ijk_to_ras()
    x = m[0, 0] * np.arange(geom.matrix[0]) + m[0, 3]
    left = np.broadcast_to((x < 0)[None, None, :], labels.shape)
    labels[(labels == 2) & left] = 3
    return labels


def organ_volumes(anatomy: Anatomy) -> dict[str, float]:
    """Label volumes (mL) in the high-resolution anatomy."""
    voxel_ml = float(np.prod(anatomy.grid.spacing)) / 1000.0
    counts = np.bincount(anatomy.labels.ravel(), minlength=5)
    names = {1: "liver", 2: "right kidney", 3: "left kidney", 4: "spleen"}
    return {names[label]: round(float(counts[label]) * voxel_ml, 1) for label in names}


def _crop(grid: Grid, geom: acq.Geometry):
    """Anatomy slab covering the series' z-range (plus breathing and slice-profile margins)."""
    half = geom.slice_spacing * (geom.count - 1) / 2.0 + geom.thickness + abs(geom.resp_shift[1]) + 12.0
    _, _, z = grid.axes()
    k0 = int(np.searchsorted(z, geom.centre[2] - half))
    k1 = int(np.searchsorted(z, geom.centre[2] + half)) + 1
    k0, k1 = max(k0, 0), min(k1, grid.shape[0])
    origin = grid.origin.copy()
    origin[2] = z[k0]
    return (slice(k0, k1), slice(None), slice(None)), Grid(origin, grid.spacing, (k1 - k0, grid.shape[1], grid.shape[2]))


def _gas_map(anatomy: Anatomy) -> np.ndarray:
    """Coarse fraction of gas/lung inside the body (drives EPI off-resonance)."""
    step = int(round(anatomy.mobility_grid.spacing[0] / anatomy.grid.spacing[0]))
    t = anatomy.tissue[::step, ::step, ::step]
    gas = ((t == CODE["gas"]) | (t == CODE["lung"])).astype(np.float32)
    return gas[: anatomy.mobility.shape[0], : anatomy.mobility.shape[1], : anatomy.mobility.shape[2]]


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return float(value)
    if isinstance(value, (np.integer, int)) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def write_study(study: PhantomStudy, out_dir: Path) -> Path:
    """Write `out_dir/study_<seed>/`: `<name>.nii.gz`, `<name>.labels.nii.gz` per image, and `study.json`."""
    from ..io import write_labels_nifti, write_series_nifti

    folder = Path(out_dir) / f"study_{study.seed}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{folder}: cannot create the output folder ({exc.strerror}); choose a writable --out") from exc
    for name, image in study.images.items():
        write_series_nifti(image, folder / f"{name}.nii.gz")
        write_labels_nifti(study.labels[name].array, image, folder / f"{name}.labels.nii.gz")
    (folder / "study.json").write_text(json.dumps(study.params, indent=1, sort_keys=True) + "\n")
    return folder
