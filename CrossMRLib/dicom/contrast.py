"""Guess a DICOM series' contrast (T1w, T2w, DWI, in-phase, opposed-phase, other) and spot localisers."""

from __future__ import annotations

import re

from .scan import DicomSeries

FAT_WATER_PPM = 3.4  # fat-water chemical shift
GAMMA_MHZ_PER_T = 42.577

_LOCALISER = re.compile(r"loc(aliz|alis)?er|\bloc\b|scout|survey|tri[-_ ]?pilot|3[-_ ]?plane|\bpilot\b", re.IGNORECASE)
_DERIVED = re.compile(r"\badc\b|_adc|adc_|\bmap\b|\bmip\b|\bmpr\b|subtract|\bsub\b|\bff\b|fat[-_ ]?fraction|"
                      r"\bfat\b[-_ ]?only|\bwater\b[-_ ]?only|_fat$|_w$|_f$|colou?r", re.IGNORECASE)
_RULES = (  # first match wins, on the series description
    ("DWI", re.compile(r"dwi|diff|ep2d[-_]?d|trace|(^|[^a-z])b[-_ =]?\d{2,4}", re.IGNORECASE)),
    ("opposed-phase", re.compile(r"opp|out[-_ ]?of[-_ ]?phase|\bop\b|_op$|\boop\b", re.IGNORECASE)),
    ("in-phase", re.compile(r"in[-_ ]?phase|\bip\b|_in$|_ip$", re.IGNORECASE)),
    ("T2w", re.compile(r"t2|haste|ssfse|ss[-_]?fse|spair|spir|trufi|fiesta|mrcp", re.IGNORECASE)),
    ("T1w", re.compile(r"t1|vibe|lava|thrive|flash|spgr|fl3d|mprage|starvibe", re.IGNORECASE)),
)


def guess_contrast(series: DicomSeries) -> str:
    """The contrast a series most likely has, from its description, b-values, TE and TR."""
    if any(b > 50 for b in series.bvalues):
        return "DWI"
    for contrast, pattern in _RULES:
        if pattern.search(series.description):
            return contrast
    te, tr = series.echo_time, series.repetition_time
    if te is None or tr is None:
        return "other"
    if tr < 800 and te < 15:
        return _dixon_echo(te, series.field_strength) if tr >= 50 else "T1w"
    if tr > 1500 and te > 60:
        return "T2w"
    return "other"


def _dixon_echo(te_ms: float, field_t: float | None) -> str:
    """A 2D gradient echo: in- or opposed-phase from TE at the field strength (T1w when neither fits)."""
    if field_t is None or field_t <= 0:
        return "T1w"
    cycles = te_ms * 1e-3 * FAT_WATER_PPM * GAMMA_MHZ_PER_T * field_t  # fat-water phase cycles at TE
    if abs(cycles - round(cycles)) < 0.15 and round(cycles) >= 1:
        return "in-phase"
    if abs(cycles - round(cycles - 0.5) - 0.5) < 0.15:
        return "opposed-phase"
    return "T1w"


def left_out_reason(series: DicomSeries) -> str | None:
    """Why a series should not be segmented by `--targets all` (None when it should)."""
    if "LOCALIZER" in series.image_type or _LOCALISER.search(series.description) or series.orientations > 1:
        return "localiser"
    if series.slices < 4:
        return f"{series.slices} slice(s)"
    derived = bool(series.image_type) and series.image_type[0] == "DERIVED" and guess_contrast(series) != "DWI"
    if derived or "ADC" in series.image_type or _DERIVED.search(series.description):  # DWI trace images are DERIVED too
        return "derived image"
    if series.modality not in ("MR", ""):
        return f"modality {series.modality}"
    return None
