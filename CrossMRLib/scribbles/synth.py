"""Synthetic free-form scribbles (strokes) for training and evaluation.

A stroke imitates a user's brush stroke, in the style of the free-form masks of Yu et al. 2019
(DeepFill v2) as used by SEEM: it starts at a random point inside the organ, runs through a few vertices,
each with a random change of direction and a random segment length, wobbles slightly (jitter) and is
drawn with a round brush of random width (discs along the polyline). Lengths and widths are in mm, so
strokes look alike across resolutions (defaults in `StrokeStyle`).

A stroke always lies inside its mask: it is clipped to the organ eroded by `StrokeStyle.clearance_mm`
(and at least by the boundary pixels), so it does not touch the organ boundary; where that eroded organ
is empty (tiny organs) the plain organ is used, and an organ of even one pixel gets one scribble pixel.

`spacing` is the in-plane (j, i) = (row, column) pixel size in mm of a (J, I) slice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..errors import InputError
from ..organs import ORGAN_BY_LABEL

MODES = ("dense", "sparse")
DEFAULT_ORGANS: tuple[int, ...] = tuple(sorted(ORGAN_BY_LABEL))


@dataclass(frozen=True)
class StrokeStyle:
    """Random ranges (uniform, inclusive) of a stroke; lengths in mm."""

    radius_mm: tuple[float, float] = (1.5, 3.5)  # brush radius: strokes 3..7 mm wide
    segments: tuple[int, int] = (2, 5)  # polyline segments (vertices = segments + 1)
    segment_mm: tuple[float, float] = (6.0, 20.0)  # length of one segment
    turn_deg: float = 60.0  # direction change at a vertex, uniform in +-turn_deg
    jitter_mm: float = 0.6  # SD of the smooth sideways wobble of the centre line
    clearance_mm: float = 2.0  # stroke pixels lie farther than this from the organ boundary


DEFAULT_STYLE = StrokeStyle()
# Tried in this order when the proposed direction leaves the organ: the proposal, then ever larger turns.
_DETOURS = np.deg2rad([0.0, 35.0, -35.0, 70.0, -70.0, 110.0, -110.0, 180.0])


def _bbox(mask: np.ndarray, pad: Sequence[int]) -> tuple[slice, ...]:
    box = []
    for axis, p in enumerate(pad):
        other = tuple(a for a in range(mask.ndim) if a != axis)
        idx = np.flatnonzero(mask.any(axis=other))
        box.append(slice(max(int(idx[0]) - p, 0), min(int(idx[-1]) + p + 1, mask.shape[axis])))
    return tuple(box)


def _check_spacing(spacing: Sequence[float]) -> np.ndarray:
    values = np.asarray(spacing, dtype=np.float64).reshape(-1)
    if values.size != 2 or not np.all(np.isfinite(values)) or values.min() <= 0:
        raise InputError(f"in-plane spacing {tuple(spacing)} must be two positive mm values (row, column)")
    return values


def _inside(points_mm: np.ndarray, region: np.ndarray, spacing: np.ndarray) -> np.ndarray:
    """Which points (…, 2) in mm fall on a True pixel of `region`."""
    idx = np.rint(points_mm / spacing).astype(np.int64)
    ok = np.all((idx >= 0) & (idx < region.shape), axis=-1)
    result = np.zeros(ok.shape, dtype=bool)
    result[ok] = region[idx[ok][:, 0], idx[ok][:, 1]]
    return result


def _walk(start: np.ndarray, core: np.ndarray, spacing: np.ndarray, rng: np.random.Generator,
          style: StrokeStyle) -> np.ndarray:
    """Centre line of a stroke: densely sampled polyline points (n, 2) in mm, all inside `core`."""
    step = 0.5 * float(spacing.min())
    points = [start[None]]
    position, heading = start, rng.uniform(0.0, 2.0 * np.pi)
    for segment in range(rng.integers(style.segments[0], style.segments[1] + 1)):
        if segment:
            heading += rng.uniform(-1.0, 1.0) * np.deg2rad(style.turn_deg)
        length = rng.uniform(*style.segment_mm)
        distances = np.arange(1, max(int(length / step), 1) + 1) * step
        angles = heading + _DETOURS
        directions = np.stack([np.sin(angles), np.cos(angles)], axis=1)
        rays = position + directions[:, None, :] * distances[None, :, None]  # (candidates, samples, 2)
        inside = _inside(rays, core, spacing)
        runs = np.where(inside.all(axis=1), inside.shape[1], np.argmin(inside, axis=1))  # leading True count
        good = np.flatnonzero(runs >= 0.6 * inside.shape[1])
        choice = int(good[0]) if good.size else int(np.argmax(runs))
        if runs[choice] == 0:
            break
        points.append(rays[choice, : runs[choice]])
        position, heading = rays[choice, runs[choice] - 1], angles[choice]
    line = np.concatenate(points)
    if len(line) > 2 and style.jitter_mm > 0:
        tangent = np.gradient(line, axis=0)
        normal = np.stack([-tangent[:, 1], tangent[:, 0]], axis=1)
        normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-9)
        wobble = ndimage.gaussian_filter1d(rng.normal(size=len(line)), sigma=max(2.0, len(line) / 10))
        wobble *= style.jitter_mm / max(float(wobble.std()), 1e-9)
        line = line + normal * wobble[:, None]
    return line


def stroke_in_mask(mask2d: np.ndarray, rng: np.random.Generator, spacing: Sequence[float] = (1.0, 1.0),
                   style: StrokeStyle = DEFAULT_STYLE) -> np.ndarray:
    """One free-form stroke inside a 2D mask, as a bool array of the mask's shape.

    The stroke lies inside the mask (away from its boundary where the mask is big enough); an empty
    mask gives an empty stroke. `spacing` is the (row, column) pixel size in mm.
    """
    mask2d = np.asarray(mask2d, dtype=bool)
    if mask2d.ndim != 2:
        raise InputError(f"stroke_in_mask needs a 2D mask, got shape {mask2d.shape}")
    spacing = _check_spacing(spacing)
    stroke = np.zeros(mask2d.shape, dtype=bool)
    if not mask2d.any():
        return stroke
    box = _bbox(mask2d, (1, 1))
    mask = mask2d[box]
    depth = ndimage.distance_transform_edt(mask, sampling=spacing)
    limit = max(style.clearance_mm, float(spacing.max()))  # also removes every boundary pixel
    region = depth > limit
    if not region.any():  # tiny organ: use the plain organ
        region, limit = mask, 0.0
    radius = rng.uniform(*style.radius_mm)
    radius = min(radius, max(float(depth.max()) - limit, 0.0) / 2.0)  # thin organs get thinner strokes
    core = depth > limit + radius if limit > 0 else region
    if not core.any():
        core = region
    candidates = np.argwhere(core)
    start_px = candidates[rng.integers(len(candidates))]
    line = _walk(start_px * spacing, core, spacing, rng, style)
    line = line[_inside(line, region, spacing)]
    centre = np.zeros(mask.shape, dtype=bool)
    idx = np.rint(line / spacing).astype(np.int64)
    centre[idx[:, 0], idx[:, 1]] = True
    centre[start_px[0], start_px[1]] = True
    pad = np.ceil(radius / spacing).astype(int) + 1
    sub = _bbox(centre, pad)
    brush = ndimage.distance_transform_edt(~centre[sub], sampling=spacing) <= radius
    local = np.zeros(mask.shape, dtype=bool)
    local[sub] = brush & region[sub]
    stroke[box] = local
    return stroke


def _choose_slices(areas: np.ndarray, mode: str, max_slices: int, rng: np.random.Generator) -> np.ndarray:
    """Indices (into `areas`) of the slices to scribble on."""
    if mode == "dense":
        return np.arange(len(areas))
    count = int(rng.integers(1, min(max_slices, len(areas)) + 1))
    weights = areas.astype(np.float64) ** 2  # strong preference for the large, central slices
    return np.sort(rng.choice(len(areas), size=count, replace=False, p=weights / weights.sum()))


def synthesize_scribbles(labels: np.ndarray, mode: str = "dense", rng: np.random.Generator | None = None,
                         max_slices: int = 1, spacing: Sequence[float] = (1.0, 1.0),
                         organs: Iterable[int] = DEFAULT_ORGANS, style: StrokeStyle = DEFAULT_STYLE) -> np.ndarray:
    """Scribbles for a (K, J, I) labelmap: a uint8 (K, J, I) labelmap holding the organs' label values.

    `dense`: one stroke per organ on every slice that holds the organ. `sparse`: one stroke per organ on
    each of 1..`max_slices` slices (random count), drawn among the organ's slices with probability
    proportional to the squared organ area (central slices preferred). `rng` None -> unseeded.
    `spacing` is the in-plane (row, column) pixel size in mm.
    """
    if mode not in MODES:
        raise InputError(f"scribble mode '{mode}' is unknown; use 'dense' or 'sparse'")
    if int(max_slices) < 1:
        raise InputError(f"max_slices={max_slices} must be at least 1")
    labels = np.asarray(labels)
    if labels.ndim != 3:
        raise InputError(f"labels must be a (K, J, I) volume, got shape {labels.shape}")
    spacing = _check_spacing(spacing)
    rng = np.random.default_rng() if rng is None else rng
    out = np.zeros(labels.shape, dtype=np.uint8)
    for organ in organs:
        organ = int(organ)
        if not 0 < organ < 256:
            raise InputError(f"organ label {organ} must be 1..255")
        present = labels == organ
        if not present.any():
            continue
        box = _bbox(present, (0, 0, 0))
        mask3 = present[box]
        areas = mask3.sum(axis=(1, 2))
        slices = np.flatnonzero(areas)
        for pick in _choose_slices(areas[slices], mode, int(max_slices), rng):
            k = slices[pick]
            stroke = stroke_in_mask(mask3[k], rng, spacing, style)
            out[box][k][stroke] = organ
    return out


def synthesize_background_scribbles(labels: np.ndarray, rng: np.random.Generator | None = None,
                                    scribbles: np.ndarray | None = None, strokes_per_slice: int = 2,
                                    band_mm: float = 20.0, spacing: Sequence[float] = (1.0, 1.0),
                                    organs: Iterable[int] = DEFAULT_ORGANS,
                                    style: StrokeStyle = DEFAULT_STYLE) -> np.ndarray:
    """Background strokes (bool (K, J, I)) for methods that need background seeds (e.g. Grow-from-seeds).

    Strokes lie outside every labelled structure (`labels == 0`), within `band_mm` of the organs, on
    the slices holding organ `scribbles` (else on every slice holding an organ), `strokes_per_slice`
    each, in the same style as organ strokes.
    """
    labels = np.asarray(labels)
    if labels.ndim != 3:
        raise InputError(f"labels must be a (K, J, I) volume, got shape {labels.shape}")
    if scribbles is not None and np.shape(scribbles) != labels.shape:
        raise InputError(f"scribbles shape {np.shape(scribbles)} differs from labels shape {labels.shape}")
    spacing = _check_spacing(spacing)
    rng = np.random.default_rng() if rng is None else rng
    organ_mask = np.isin(labels, [int(o) for o in organs])
    holder = organ_mask if scribbles is None else np.asarray(scribbles) != 0
    out = np.zeros(labels.shape, dtype=bool)
    pad = np.ceil(band_mm / spacing).astype(int) + 1
    for k in np.flatnonzero(holder.any(axis=(1, 2))):
        if not organ_mask[k].any():
            continue
        box = _bbox(organ_mask[k], pad)
        distance = ndimage.distance_transform_edt(~organ_mask[k][box], sampling=spacing)
        band = (labels[k][box] == 0) & (distance <= band_mm)
        for _ in range(int(strokes_per_slice)):
            out[k][box] |= stroke_in_mask(band, rng, spacing, style)
    return out
