"""Signal equations of the five phantom series (per tissue, water and fat components separately).

Every voxel's signal is  W * w_lut[tissue] + F * c_fat  where W = PD (1 - FF) (1 + texture) and
F = PD FF (1 + texture) are anatomy maps and w_lut / c_fat come from the sequence:

- T1w 3D spoiled gradient echo (VIBE/LAVA-like):  S = PD sin(a)(1 - E1)/(1 - cos(a) E1) exp(-TE/T2*),
  E1 = exp(-TR/T1); fat adds with its 6-peak phasor at TE (in-phase TE chosen).
- T2w fast spin echo, fat-suppressed (SPIR/SPAIR):  S = PD (1 - exp(-TR/T1)) exp(-TE_eff/T2); the fat
  term is scaled by (1 - fat-suppression efficiency); flowing blood gives flow voids.
- DWI spin-echo EPI:  S_b = PD (1 - exp(-TR/T1)) exp(-TE/T2) exp(-b ADC), b = 0 and 800 s/mm^2,
  fat-suppressed; blood loses signal (flow, IVIM).
- In/opposed phase 2D dual-echo spoiled GRE: as T1w with TE = 1/(2 df) and 1/df (df = fat-water shift,
  217 Hz at 1.5 T), water and fat added as complex numbers, so voxels holding both (fatty liver,
  marrow, and partial-volume voxels at every organ/fat boundary) lose signal: the India-ink artefact
  emerges from the partial-volume averaging done before the magnitude is taken (acquisition.py).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .tissues import FAT, GAMMA_MHZ_PER_T, NUM_TISSUES, TISSUES, fat_phasor, field_index


@dataclass(frozen=True)
class Sequence:
    """Sequence parameters of one image (times in ms, flip in degrees, b in s/mm^2)."""

    kind: str  # "gre" | "fse" | "dwi"
    tr: float
    te: float
    flip: float = 90.0
    b: float = 0.0
    fat_sat: float = 0.0  # fat-suppression efficiency 0..1

    def to_dict(self) -> dict:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in asdict(self).items()}


# blood signal multipliers: (artery, vein) per sequence kind (flow voids, inflow, IVIM loss)
FLOW = {"gre3d": (0.9, 1.0), "gre2d": (1.5, 1.25), "fse": (0.3, 0.8), "dwi0": (0.15, 0.4), "dwi": (0.05, 0.1)}


def fat_water_shift_hz(field_strength: float) -> float:
    """Main fat peak (-3.4 ppm) offset from water, in Hz."""
    return 3.4 * GAMMA_MHZ_PER_T * field_strength


def _relax(seq: Sequence, t1, t2, t2s):
    t1, t2, t2s = (np.asarray(v, dtype=np.float64) for v in (t1, t2, t2s))
    if seq.kind == "gre":
        a = np.radians(seq.flip)
        e1 = np.exp(-seq.tr / t1)
        return np.sin(a) * (1 - e1) / (1 - np.cos(a) * e1) * np.exp(-seq.te / t2s)
    return (1 - np.exp(-seq.tr / t1)) * np.exp(-seq.te / t2)


def water_lut(seq: Sequence, field_strength: float, flow: str) -> np.ndarray:
    """Per-tissue water-component weighting (length 256, indexed by tissue code)."""
    col = field_index(field_strength)
    lut = np.zeros(256, np.float32)
    artery, vein = FLOW[flow]
    for t in TISSUES:
        value = float(_relax(seq, t.t1[col], t.t2[col], t.t2s[col]))
        if seq.kind == "dwi":
            value *= np.exp(-seq.b * t.adc * 1e-3)
        if t.flow == "artery":
            value *= artery
        elif t.flow == "vein":
            value *= vein
        lut[t.code] = value
    return lut


def fat_coefficient(seq: Sequence, field_strength: float) -> complex:
    """Complex signal of pure fat (PD 1) for the sequence: relaxation x spectrum phasor x (1 - fat sat)."""
    col = field_index(field_strength)
    value = float(_relax(seq, FAT.t1[col], FAT.t2[col], FAT.t2s[col]))
    if seq.kind == "dwi":
        value *= np.exp(-seq.b * FAT.adc * 1e-3)
    phasor = fat_phasor(seq.te, field_strength) if seq.kind == "gre" else 1.0
    return complex(value * phasor * (1.0 - seq.fat_sat))


def anatomy_components(tissue: np.ndarray, fat_fraction: np.ndarray, texture: np.ndarray, field_strength: float):
    """(W, F): water and fat proton-density maps with within-organ texture (float32)."""
    from .tissues import table

    props = table(field_strength)
    pd = np.zeros(256, np.float32)
    pd[:NUM_TISSUES] = props["pd"]
    amp = np.zeros(256, np.float32)
    amp[:NUM_TISSUES] = props["texture"]
    mod = pd[tissue] * (1.0 + amp[tissue] * texture)
    np.maximum(mod, 0, out=mod)
    fat = mod * fat_fraction
    return mod - fat, fat
