"""Pick series of a scanned study by number, description or UID (`--reference`, `--targets`)."""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..log import log
from ..pairing import MAX_PLANE_ANGLE_DEG
from .contrast import left_out_reason
from .scan import DicomSeries


def find_series(found: list[DicomSeries], token: str, folder: str) -> DicomSeries:
    """The one series `token` names: a series number, a description (whole, else part of it) or a UID."""
    token = token.strip()
    if token.isdigit():
        matches = [s for s in found if s.number == int(token)]
    else:
        low = token.lower()
        matches = [s for s in found if low in (s.description.lower(), s.name.lower(), s.uid.lower())]
        matches = matches or [s for s in found if low and low in s.description.lower()]
    if not matches:
        raise InputError(f"no series '{token}' in {folder}; give a series number or description from: "
                         f"{_listing(found)} (see crossmr series {folder})")
    if len(matches) > 1:
        raise InputError(f"'{token}' matches {len(matches)} series in {folder} ({_listing(matches)}); "
                         "give the series number instead")
    return matches[0]


def select_targets(found: list[DicomSeries], reference: DicomSeries, tokens: list[str] | None,
                   folder: str) -> list[DicomSeries]:
    """Targets named by `tokens`, or with None/["all"] every series but the reference, localisers,
    derived images and series not parallel to the reference (left out with a message)."""
    if tokens and [t.lower() for t in tokens] != ["all"]:
        chosen: list[DicomSeries] = []
        for token in tokens:
            one = find_series(found, token, folder)
            if one is not reference and one not in chosen:
                chosen.append(one)
        return chosen
    chosen, left_out = [], []
    for one in found:
        if one is reference:
            continue
        reason = left_out_reason(one) or _not_parallel(one, reference)
        if reason:
            left_out.append(f"{one.name} ({reason})")
        else:
            chosen.append(one)
    if left_out:
        log.info("left out of --targets all: %s; name a series with --targets to segment it anyway", ", ".join(left_out))
    return chosen


def _not_parallel(series: DicomSeries, reference: DicomSeries) -> str | None:
    normals = [_normal(s) for s in (series, reference)]
    if normals[0] is None or normals[1] is None:
        return None
    angle = float(np.degrees(np.arccos(min(1.0, abs(float(np.dot(*normals)))))))
    return f"{angle:.0f} degrees to the reference's slices" if angle > MAX_PLANE_ANGLE_DEG else None


def _normal(series: DicomSeries) -> np.ndarray | None:
    orientation = next((im.orientation for im in series.images if im.orientation is not None), None)
    if orientation is None or len(orientation) < 6:
        return None
    normal = np.cross(orientation[:3], orientation[3:6])
    return normal / max(float(np.linalg.norm(normal)), 1e-9)


def _listing(series: list[DicomSeries], limit: int = 12) -> str:
    shown = ", ".join(f"{s.number if s.number is not None else '-'} '{s.description}'" for s in series[:limit])
    return shown + (f" and {len(series) - limit} more" if len(series) > limit else "")
