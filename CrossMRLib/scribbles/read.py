"""Read the user's scribbles into a labelmap on the reference grid (1 liver, 2 right kidney, 3 left kidney, 4 spleen)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..grids import describe_grid_mismatch, embed_in_grid
from ..io.readers import read_series
from ..io.segnrrd import read_seg_nrrd
from ..organs import MAX_LABEL, ORGAN_BY_LABEL, ORGANS, organ_from_name, organ_from_terminology
from ..series import Series

log = logging.getLogger("crossmr")


def read_scribbles(path: str | Path, reference: Series) -> np.ndarray:
    """Read a scribble labelmap or a Slicer `.seg.nrrd` and return uint8 (K, J, I) in the reference grid."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such scribble file; give the labelmap or .seg.nrrd you painted on the reference")
    if path.name.lower().endswith(".seg.nrrd") or _has_segment_header(path):
        return _read_segmentation(path, reference)
    labels = read_series(path)
    values = np.unique(labels.array)
    if not np.all(np.equal(np.mod(values, 1), 0)) or values.min() < 0 or values.max() > MAX_LABEL:
        bad = [v for v in values if v < 0 or v > MAX_LABEL or v % 1][:5]
        raise InputError(
            f"{path}: scribble values must be 0..{MAX_LABEL} (1 liver, 2 right kidney, 3 left kidney, 4 spleen), "
            f"found {', '.join(f'{v:g}' for v in bad)}; relabel the scribbles")
    embedded = embed_in_grid(labels.array.astype(np.uint8), labels.ijk_to_ras, reference)
    if embedded is None:
        raise InputError(
            f"{path}: scribbles are not in the reference grid of '{reference.name}': "
            f"{describe_grid_mismatch(labels.array, labels.ijk_to_ras, reference)}; paint them on the reference series")
    return embedded


def validate_scribbles(scribbles: np.ndarray, reference: Series) -> list[int]:
    """Check a scribble labelmap; returns the organ labels present (warns about missing organs)."""
    if scribbles.shape != reference.shape:
        raise InputError(
            f"scribbles have shape {scribbles.shape} but the reference '{reference.name}' is {reference.shape}; "
            "paint the scribbles on the reference series")
    values = np.unique(scribbles)
    if values.min() < 0 or values.max() > MAX_LABEL:
        raise InputError(f"scribble values must be 0..{MAX_LABEL}, found {values.min()}..{values.max()}; relabel the scribbles")
    present = [int(v) for v in values if v != 0]
    if not present:
        raise InputError("the scribbles are empty; paint at least one stroke inside an organ on the reference series")
    missing = [ORGAN_BY_LABEL[o.label].name for o in ORGANS if o.label not in present]
    if missing:
        log.warning("no scribble for %s: segmenting the other organs only", ", ".join(missing))
    return present


def _has_segment_header(path: Path) -> bool:
    if not path.name.lower().endswith((".nrrd", ".nhdr")):
        return False
    import nrrd

    try:
        return "Segment0_ID" in nrrd.read_header(str(path)) or "Segment0_Name" in nrrd.read_header(str(path))
    except Exception:
        return False


def _read_segmentation(path: Path, reference: Series) -> np.ndarray:
    try:
        layers, ijk_to_ras, segments = read_seg_nrrd(path)
    except Exception as exc:
        raise InputError(f"{path}: cannot be read as a Slicer segmentation ({exc}); re-save it from Slicer") from exc
    labels = np.zeros(layers[0].shape, dtype=np.uint8)
    unmatched = []
    for segment in segments:
        organ = organ_from_terminology(segment.terminology) or organ_from_name(segment.name)
        if organ is None:
            unmatched.append(segment.name)
            continue
        mask = layers[segment.layer] == segment.label_value
        labels[mask & (labels == 0)] = organ.label
    if unmatched:
        log.warning("segment(s) %s match no organ and are ignored; name them liver, right kidney, left kidney or spleen",
                    ", ".join(repr(n) for n in unmatched))
    if not any(organ_from_terminology(s.terminology) or organ_from_name(s.name) for s in segments):
        raise InputError(
            f"{path}: no segment matches an organ (found {', '.join(repr(s.name) for s in segments) or 'none'}); "
            "name segments liver, right kidney, left kidney, spleen")
    embedded = embed_in_grid(labels, ijk_to_ras, reference)
    if embedded is None:
        raise InputError(f"{path}: the segmentation is not in the reference grid of '{reference.name}': "
                         f"{describe_grid_mismatch(labels, ijk_to_ras, reference)}; paint the scribbles with the "
                         "reference series as the segmentation's source geometry")
    return embedded
