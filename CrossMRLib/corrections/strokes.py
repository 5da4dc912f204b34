"""Correction strokes: one uint8 labelmap per series, on that series' grid.

Values: 0 nothing, 1..4 the organ (1 liver, 2 right kidney, 3 left kidney, 4 spleen; "this is that organ"),
`ERASE` = 255 ("no organ here": whatever organ the result has under the stroke is removed, with its connected
wrong piece; see `erase.py`). Every painted voxel keeps what was painted in the series' result.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from ..errors import InputError
from ..grids import describe_grid_mismatch, embed_in_grid
from ..organs import MAX_LABEL, organ_from_name, organ_from_terminology
from ..series import Series

ERASE = 255
ALLOWED = tuple(range(MAX_LABEL + 1)) + (ERASE,)
ERASE_NAMES = {"background", "erase", "eraser", "not organ", "no organ", "other", "none"}
_VALUES_HELP = "0 nothing, 1 liver, 2 right kidney, 3 left kidney, 4 spleen, 255 erase"


def validate_strokes(strokes: Mapping[str, np.ndarray] | None, series: Sequence[Series]) -> dict[str, np.ndarray]:
    """The non-empty strokes as uint8 arrays, keyed by series name; one-line `InputError`s for an unknown
    series name, a labelmap not on its series' grid, or values other than 0..4 and 255."""
    by_name = {s.name: s for s in series}
    out: dict[str, np.ndarray] = {}
    for name, labels in (strokes or {}).items():
        if name not in by_name:
            raise InputError(f"strokes given for series {name!r}, which is not in this run (series: "
                             f"{', '.join(repr(n) for n in by_name)}); name one of them or add that series")
        labels = np.asarray(labels)
        target = by_name[name]
        if labels.shape != target.shape:
            raise InputError(f"strokes for {name!r} have shape {labels.shape} but the series is {target.shape}; "
                             f"paint them on {name!r} itself (its own grid)")
        values = np.unique(labels)
        bad = [v for v in values.tolist() if v not in ALLOWED]
        if bad:
            raise InputError(f"strokes for {name!r} hold value(s) {', '.join(f'{v:g}' for v in bad[:5])}; use "
                             f"{_VALUES_HELP}")
        if values.max(initial=0) > 0:
            out[name] = labels.astype(np.uint8)
    return out


def read_strokes(path: str | Path, series: Series) -> np.ndarray:
    """A stroke file painted on `series` -> uint8 (K, J, I) on its grid: a labelmap with the values above, or a
    Slicer `.seg.nrrd` whose segments are organs (by terminology or name) or "background"/"erase" (-> 255)."""
    from ..io.readers import read_series

    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such stroke file; give the labelmap or .seg.nrrd painted on {series.name!r}")
    if path.name.lower().endswith(".seg.nrrd"):
        labels, ijk_to_ras = _segmentation_labels(path)
    else:
        source = read_series(path)
        values = np.unique(source.array)
        bad = [v for v in values.tolist() if v not in ALLOWED]
        if bad:
            raise InputError(f"{path}: stroke values must be {_VALUES_HELP}; found "
                             f"{', '.join(f'{v:g}' for v in bad[:5])}; relabel the strokes")
        labels, ijk_to_ras = source.array.astype(np.uint8), source.ijk_to_ras
    embedded = embed_in_grid(labels, ijk_to_ras, series)
    if embedded is None:
        raise InputError(f"{path}: the strokes are not on the grid of {series.name!r}: "
                         f"{describe_grid_mismatch(labels, ijk_to_ras, series)}; paint them on that series")
    return embedded


def _segmentation_labels(path: Path) -> tuple[np.ndarray, np.ndarray]:
    from ..io.segnrrd import read_seg_nrrd

    try:
        layers, ijk_to_ras, segments = read_seg_nrrd(path)
    except Exception as exc:
        raise InputError(f"{path}: cannot be read as a Slicer segmentation ({exc}); re-save it from Slicer") from exc
    labels = np.zeros(layers[0].shape, dtype=np.uint8)
    for segment in segments:
        organ = organ_from_terminology(segment.terminology) or organ_from_name(segment.name)
        value = organ.label if organ is not None else (ERASE if segment.name.strip().lower() in ERASE_NAMES else None)
        if value is None:
            raise InputError(f"{path}: segment {segment.name!r} is neither an organ nor 'background'; name stroke "
                             "segments liver, right kidney, left kidney, spleen or background (erase)")
        mask = layers[segment.layer] == segment.label_value
        labels[mask & (labels == 0)] = value
    return labels, ijk_to_ras


def merged(strokes: Sequence[np.ndarray | None]) -> np.ndarray | None:
    """Strokes of series sharing one grid (segmented together) as one labelmap; where two disagree the first
    series' stroke wins. None when none has strokes."""
    present = [s for s in strokes if s is not None]
    if not present:
        return None
    out = present[0].copy()
    for more in present[1:]:
        out[out == 0] = more[out == 0]
    return out


def positive(strokes: np.ndarray | None) -> np.ndarray | None:
    """The organ strokes (1..4) of a stroke labelmap, erase strokes left out."""
    return None if strokes is None else np.where(strokes == ERASE, 0, strokes).astype(np.uint8)
