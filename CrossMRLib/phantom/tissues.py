"""Tissue classes of the phantom and their MR properties at 1.5 T and 3 T.

Each class has proton density PD (relative to water), water-component T1/T2/T2* (ms), ADC
(1e-3 mm^2/s, b = 0..800 s/mm^2) and fat fraction FF (proton-density fat fraction). Fat-containing
classes mix a water component (values below) with the fat component `FAT` (6-peak spectrum).

| class            | PD   | T1 1.5T/3T | T2 1.5T/3T | T2* 1.5T/3T | ADC | FF   | source |
|------------------|------|------------|------------|-------------|-----|------|--------|
| liver            | 0.70 | 586 / 809  | 46 / 34    | 28 / 18     | 1.10| 0.02 | [1] [4] [6] |
| spleen           | 0.80 | 1057 / 1328| 79 / 61    | 60 / 40     | 0.85| 0.00 | [1] [6] |
| kidney cortex    | 0.85 | 966 / 1142 | 87 / 76    | 60 / 40     | 1.90| 0.00 | [1] [6] |
| kidney medulla   | 0.90 | 1412 / 1545| 85 / 81    | 50 / 35     | 1.75| 0.00 | [1] [6] |
| pancreas         | 0.75 | 584 / 725  | 46 / 43    | 30 / 20     | 1.40| 0.03 | [1] [6] |
| skeletal muscle  | 0.75 | 856 / 898  | 27 / 29    | 30 / 20     | 1.45| 0.02 | [1] [2] |
| vertebral marrow | 0.85 | 800 / 900  | 50 / 49    | 20 / 12     | 0.50| 0.40 | [1] [5] |
| adipose (fat)    | 0.95 | 1000 / 1100| 40 / 40    | 30 / 20     | 0.05| 0.90 | [1] [3] |
| blood            | 0.85 | 1441 / 1932| 290 / 275  | 150 / 80    | 3.00| 0.00 | [2] |
| CSF, GI fluid    | 1.00 | 4000 / 4300| 2000 / 1500| 1000 / 600  | 3.00| 0.00 | [2] |
| bile             | 0.95 | 2500 / 2800| 700 / 600  | 400 / 300   | 2.90| 0.00 | [3] |
| intervert. disc  | 0.85 | 1100 / 1200| 110 / 90   | 60 / 40     | 1.70| 0.00 | [2] |
| cortical bone    | 0.05 | 250 / 300  | 1 / 1      | 0.5 / 0.4   | 0.10| 0.00 | [2] |
| fat component    |  -   | 343 / 382  | 58 / 68    | 35 / 25     | 0.02|  -   | [1] [3] |

Blood signal is further scaled per series for flow (flow voids in spin echo, IVIM loss in DWI).
Fatty liver: FF 0.08-0.30 (mild to moderate steatosis) [4]. Marrow water T1 is chosen so that the
water/fat composite matches the composite T1 of [1] (549 / 586 ms).

[1] de Bazelaire CMJ et al. MR imaging relaxation times of abdominal and pelvic tissues measured in
    vivo at 3.0 T: preliminary results. Radiology 2004;230:652-659 (1.5 T and 3 T columns).
[2] Stanisz GJ et al. T1, T2 relaxation and magnetization transfer in tissue at 3T. Magn Reson Med
    2005;54:507-512.
[3] Hamilton G et al. In vivo characterization of the liver fat 1H MR spectrum. NMR Biomed
    2011;24:784-790 (fat T1/T2, spectrum); Yu H et al. Magn Reson Med 2008;60:1122-1134 (6 peaks).
[4] Reeder SB et al. Proton density fat-fraction: a standardized MR-based biomarker of tissue fat
    concentration. J Magn Reson Imaging 2012;36:1011-1014; Chandarana H et al. Radiology 2011;258:
    767-775 (liver T2* 1.5 T / 3 T).
[5] Karampinos DC et al. Quantitative MRI and spectroscopy of bone marrow. J Magn Reson Imaging
    2018;47:332-353 (lumbar marrow FF 0.3-0.5 in adults).
[6] Taouli B, Koh DM. Diffusion-weighted MR imaging of the liver. Radiology 2010;254:47-66;
    Thoeny HC et al. Radiology 2005;235:911-917 (renal ADC); Rosenkrantz AB et al. (spleen ADC).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# fat spectrum: ppm relative to water and relative amplitudes (Yu 2008 / Hamilton 2011)
FAT_PPM = np.array([-3.80, -3.40, -2.60, -1.94, -0.39, 0.60])
FAT_AMPLITUDES = np.array([0.087, 0.693, 0.128, 0.004, 0.039, 0.048])
GAMMA_MHZ_PER_T = 42.577


@dataclass(frozen=True)
class Tissue:
    code: int
    name: str
    pd: float
    t1: tuple[float, float]  # ms at (1.5 T, 3 T)
    t2: tuple[float, float]
    t2s: tuple[float, float]
    adc: float  # 1e-3 mm^2/s
    ff: float = 0.0
    flow: str = ""  # "", "artery", "vein": flow behaviour of blood
    texture: float = 0.04  # relative within-organ signal variation (smooth random field)


_T = Tissue
TISSUES: tuple[Tissue, ...] = (
    _T(0, "air", 0.0, (1000, 1000), (1, 1), (1, 1), 0.0, texture=0.0),
    _T(1, "subcutaneous fat", 0.95, (1000, 1100), (40, 40), (30, 20), 0.05, 0.90, texture=0.03),
    _T(2, "muscle", 0.75, (856, 898), (27, 29), (30, 20), 1.45, 0.02, texture=0.05),
    _T(3, "visceral fat", 0.95, (1000, 1100), (40, 40), (30, 20), 0.05, 0.85, texture=0.04),
    _T(4, "liver", 0.70, (586, 809), (46, 34), (28, 18), 1.10, 0.02, texture=0.05),
    _T(5, "spleen", 0.80, (1057, 1328), (79, 61), (60, 40), 0.85, 0.0, texture=0.05),
    _T(6, "kidney cortex", 0.85, (966, 1142), (87, 76), (60, 40), 1.90, 0.0, texture=0.04),
    _T(7, "kidney medulla", 0.90, (1412, 1545), (85, 81), (50, 35), 1.75, 0.0, texture=0.04),
    _T(8, "renal sinus fat", 0.95, (1000, 1100), (40, 40), (30, 20), 0.05, 0.80, texture=0.05),
    _T(9, "urine", 1.0, (3000, 3300), (1000, 900), (600, 400), 2.9, 0.0, texture=0.01),
    _T(10, "vertebral marrow", 0.85, (800, 900), (50, 49), (20, 12), 0.50, 0.40, texture=0.10),
    _T(11, "cortical bone", 0.05, (250, 300), (1, 1), (0.5, 0.4), 0.10, 0.0, texture=0.0),
    _T(12, "CSF", 1.0, (4000, 4300), (2000, 1500), (1000, 600), 3.0, 0.0, texture=0.01),
    _T(13, "aorta", 0.85, (1441, 1932), (290, 275), (150, 80), 3.0, 0.0, flow="artery", texture=0.02),
    _T(14, "vein", 0.85, (1441, 1932), (250, 200), (100, 60), 3.0, 0.0, flow="vein", texture=0.02),
    _T(15, "hepatic vessel", 0.85, (1441, 1932), (250, 200), (100, 60), 3.0, 0.0, flow="vein", texture=0.02),
    _T(16, "bile", 0.95, (2500, 2800), (700, 600), (400, 300), 2.9, 0.0, texture=0.01),
    _T(17, "GI fluid", 1.0, (3000, 3300), (1200, 1000), (500, 300), 2.8, 0.0, texture=0.03),
    _T(18, "gas", 0.0, (1000, 1000), (1, 1), (1, 1), 0.0, texture=0.0),
    _T(19, "bowel wall", 0.80, (950, 1100), (55, 50), (35, 25), 1.30, 0.02, texture=0.06),
    _T(20, "pancreas", 0.75, (584, 725), (46, 43), (30, 20), 1.40, 0.03, texture=0.08),
    _T(21, "lung", 0.15, (1200, 1300), (40, 35), (2.0, 1.0), 1.5, 0.0, texture=0.1),
    _T(22, "intervertebral disc", 0.85, (1100, 1200), (110, 90), (60, 40), 1.70, 0.0, texture=0.05),
    _T(23, "stool", 0.80, (900, 1000), (90, 80), (20, 12), 1.0, 0.10, texture=0.25),
    _T(24, "spinal cord", 0.80, (750, 850), (75, 70), (50, 35), 1.0, 0.0, texture=0.02),
    _T(25, "myocardium", 0.80, (1030, 1470), (40, 45), (30, 20), 1.5, 0.0, texture=0.03),
    _T(26, "ureter", 1.0, (3000, 3300), (1000, 900), (600, 400), 2.9, 0.0, texture=0.01),
    _T(27, "fibrous septum", 0.6, (1000, 1100), (40, 40), (25, 15), 1.2, 0.3, texture=0.0),
)
FAT = _T(255, "fat component", 1.0, (343, 382), (58, 68), (35, 25), 0.02)
BY_NAME: dict[str, Tissue] = {t.name: t for t in TISSUES}
CODE: dict[str, int] = {t.name: t.code for t in TISSUES}
NUM_TISSUES = len(TISSUES)

# organ label (CrossMR labelmap value) of each tissue class; kidneys are split by side later
LIVER_TISSUES = (CODE["liver"], CODE["hepatic vessel"])
KIDNEY_TISSUES = (CODE["kidney cortex"], CODE["kidney medulla"], CODE["renal sinus fat"], CODE["urine"])
SPLEEN_TISSUES = (CODE["spleen"],)


def field_index(field_strength: float) -> int:
    """Column of the (1.5 T, 3 T) property tuples."""
    return 0 if field_strength < 2.25 else 1


def table(field_strength: float) -> dict[str, np.ndarray]:
    """Property arrays indexed by tissue code: pd, t1, t2, t2s, adc, ff."""
    col = field_index(field_strength)
    return {
        "pd": np.array([t.pd for t in TISSUES]),
        "t1": np.array([t.t1[col] for t in TISSUES], dtype=float),
        "t2": np.array([t.t2[col] for t in TISSUES], dtype=float),
        "t2s": np.array([t.t2s[col] for t in TISSUES], dtype=float),
        "adc": np.array([t.adc for t in TISSUES]),
        "ff": np.array([t.ff for t in TISSUES]),
        "texture": np.array([t.texture for t in TISSUES]),
    }


def fat_phasor(te_ms: float, field_strength: float) -> complex:
    """Complex fat signal relative to water at echo time `te_ms` (6-peak spectrum, no decay)."""
    freqs_hz = FAT_PPM * GAMMA_MHZ_PER_T * field_strength  # ppm * MHz = Hz
    return complex(np.sum(FAT_AMPLITUDES * np.exp(2j * np.pi * freqs_hz * te_ms * 1e-3)))
