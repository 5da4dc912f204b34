"""The four organs CrossMR segments: label values, names, colours and terminology.

One table shared by the engine, the `.seg.nrrd` writer and the Slicer logic, so that every output
names, colours and codes an organ the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Organ:
    """One target organ."""

    label: int  # value in CrossMR labelmaps (0 = background)
    name: str  # segment name written to outputs
    color: tuple[int, int, int]  # Slicer's standard colour (DICOM master list), 0..255
    snomed_code: str  # SNOMED CT code of the structure
    snomed_meaning: str
    modifier_code: str = ""  # SNOMED laterality modifier ("" = none)
    modifier_meaning: str = ""

    @property
    def color_float(self) -> tuple[float, float, float]:
        """Colour as 0..1 floats (what Slicer segments store)."""
        return tuple(c / 255.0 for c in self.color)  # type: ignore[return-value]

    def terminology_entry(self) -> str:
        """Slicer terminology tag value (`TerminologyEntry`) for this organ."""
        modifier = f"SCT^{self.modifier_code}^{self.modifier_meaning}" if self.modifier_code else "^^"
        return (
            "Segmentation category and type - 3D Slicer General Anatomy list"
            "~SCT^123037004^Anatomical Structure"
            f"~SCT^{self.snomed_code}^{self.snomed_meaning}"
            f"~{modifier}"
            "~Anatomic codes - DICOM master list~^^~^^"
        )


ORGANS: tuple[Organ, ...] = (
    Organ(1, "liver", (221, 130, 101), "10200004", "Liver"),
    Organ(2, "right kidney", (185, 102, 83), "64033007", "Kidney", "24028007", "Right"),
    Organ(3, "left kidney", (185, 102, 83), "64033007", "Kidney", "7771000", "Left"),
    Organ(4, "spleen", (157, 108, 162), "78961009", "Spleen"),
)
ORGAN_BY_LABEL: dict[int, Organ] = {o.label: o for o in ORGANS}
MAX_LABEL = max(ORGAN_BY_LABEL)

_RIGHT = {"right", "r", "rt", "dx", "dexter", "dextra"}
_LEFT = {"left", "l", "lt", "sin", "sinister", "sinistra"}


def organ_from_name(name: str) -> Organ | None:
    """Match a segment name to an organ, ignoring case, order and punctuation.

    "Liver", "right kidney", "Kidney_R", "R kidney", "kidney (left)", "lt kidney" and "Spleen" all
    match; anything ambiguous ("kidney" alone, "kidneys") or unknown returns None.
    """
    words = [w for w in re.split(r"[^a-z]+", name.lower()) if w]
    if not words:
        return None
    joined = "".join(words)
    if words == ["liver"] or joined in {"liver", "hepar"}:
        return ORGAN_BY_LABEL[1]
    if words == ["spleen"] or joined in {"spleen", "lien"}:
        return ORGAN_BY_LABEL[4]
    kidney_words = {"kidney", "ren", "renal"}
    if len(words) == 2 and kidney_words & set(words):
        other = [w for w in words if w not in kidney_words]
        if len(other) == 1 and other[0] in _RIGHT:
            return ORGAN_BY_LABEL[2]
        if len(other) == 1 and other[0] in _LEFT:
            return ORGAN_BY_LABEL[3]
    for compact, label in (("rkidney", 2), ("kidneyr", 2), ("lkidney", 3), ("kidneyl", 3)):
        if joined == compact:
            return ORGAN_BY_LABEL[label]
    return None


def organ_from_terminology(entry: str) -> Organ | None:
    """Match a Slicer `TerminologyEntry` tag value (or any text holding SNOMED codes) to an organ."""
    codes = set(re.findall(r"\^(\d+)\^", entry or ""))
    if "10200004" in codes:
        return ORGAN_BY_LABEL[1]
    if "78961009" in codes:
        return ORGAN_BY_LABEL[4]
    if "64033007" in codes:
        if "24028007" in codes:
            return ORGAN_BY_LABEL[2]
        if "7771000" in codes:
            return ORGAN_BY_LABEL[3]
    return None
