"""segment_study(): scribbles on one reference series -> organ labels on every series of the study.

The one entry point shared by the CLI and the Slicer logic. It only computes: nothing is written, so a
cancelled or failed run leaves no partial output behind.

Series that share one grid exactly (the in- and opposed-phase echoes of one dual-echo acquisition, the
b-values of one diffusion series) show the same anatomy at the same moment, so by default the model
segments them together and they get the same masks (`CrossMRModelMethod.segment_targets`); `joint=False`
segments every series on its own (for series planned on one grid but acquired in separate breath-holds).

Corrections (`CrossMRLib/corrections`): `strokes={series name: labelmap on that series' grid}` adds strokes
on any series (0..4 as the scribbles, 255 erase); `only=[names]` re-segments just those series (with the
series segmented together with them) and returns labels for those alone. With the same method object
(`CorrectionSession` keeps one) a re-run reuses the reference tokens and, after `cache_features()`, every
cached encoder output. Without strokes and `only` the results are those of a plain run, bit for bit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

from .errors import Cancelled, InputError
from .log import collect_warnings, log
from .methods import create_method
from .methods.base import Method
from .organs import ORGAN_BY_LABEL
from .corrections.strokes import ERASE, merged, positive, validate_strokes
from .pairing import SlicePairing, check_orientation, identity_pairing, pair_slices
from .scribbles.read import validate_scribbles
from .series import Series, same_grid_groups

ProgressCallback = Callable[[float, str], None]


@dataclass
class StudyResult:
    """Labels for the reference and every target, keyed by series name (reference first)."""

    labels: dict[str, np.ndarray]
    series: dict[str, Series]
    pairings: dict[str, SlicePairing]
    method: str
    weights_sha256: str | None
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    reference_name: str = ""
    device: str | None = None  # where the model ran ("cpu", "cuda"); None for other methods
    together: list[list[str]] = field(default_factory=list)  # series on one grid segmented together
    organs: list[int] = field(default_factory=list)  # organ labels segmented: scribbled, or stroked on some series
    stroked: list[str] = field(default_factory=list)  # series that had correction strokes


def segment_study(reference: Series, scribbles: np.ndarray, targets: Sequence[Series], method: str | Method = "auto",
                  weights: str | Path | None = None, threads: int | None = None,
                  progress: ProgressCallback | None = None, cancel: Callable[[], bool] | None = None,
                  joint: bool = True, device: str = "auto", strokes: Mapping[str, np.ndarray] | None = None,
                  only: Sequence[str] | None = None) -> StudyResult:
    """Segment the reference and every target from `scribbles` (uint8 (K, J, I) on the reference grid);
    `joint` segments series on one grid together (see the module docstring); `device` (auto, cpu, cuda)
    is where the model runs (see `CrossMRModelMethod`).

    `strokes` ({series name: uint8 labelmap on that series' grid}): correction strokes, 1..4 "this organ",
    255 "no organ here" (`CrossMRLib/corrections`); organ strokes on the reference are added to the scribbles
    (every series changes), strokes on a target change that target (and the series segmented with it).
    `only` (series names): segment just these (and the series on one grid with them when `joint`); the
    result's labels hold those alone. Bad strokes or names raise a one-line `InputError`."""
    start = time.perf_counter()
    with collect_warnings() as warnings:
        scribbles = np.asarray(scribbles)
        _check_names(reference, targets)
        strokes = validate_strokes(strokes, [reference, *targets])
        if reference.name in strokes:  # organ strokes on the reference are scribbles; erase strokes stay strokes
            drawn = strokes.pop(reference.name)
            if scribbles.shape == drawn.shape:
                added = positive(drawn)
                scribbles = np.where((scribbles == 0) & (added > 0), added, scribbles).astype(np.uint8)
            if (drawn == ERASE).any():
                strokes[reference.name] = np.where(drawn == ERASE, ERASE, 0).astype(np.uint8)
        present = validate_scribbles(scribbles, reference)
        pairings: dict[str, SlicePairing] = {reference.name: identity_pairing(reference)}
        for target in targets:
            check_orientation(reference, target)
            pairing = pair_slices(reference, target)
            if pairing.rule != "position":
                log.warning("%s; pairing slices by relative order instead", pairing.reason)
            pairings[target.name] = pairing
        segmenter = create_method(method, weights, threads, device) if isinstance(method, str) else method
        timings = {"load_method_s": round(time.perf_counter() - start, 4)}
        all_series = [reference, *targets]
        groups = _selected(_groups(all_series, joint and hasattr(segmenter, "segment_targets")), only)
        count = sum(len(group) for group in groups)
        labels: dict[str, np.ndarray] = {}
        done, together, segmented = 0, [], set(present)
        for group in groups:
            if cancel is not None and cancel():
                raise Cancelled()
            names = [series.name for series in group]
            if progress is not None:
                progress(done / count, f"segmenting {' + '.join(names)} ({done + 1}/{count})")
            tick = time.perf_counter()
            drawn = merged([strokes.get(name) for name in names])
            extra = {} if drawn is None else {"strokes": drawn}  # no strokes: the very same call as before
            organs = present if drawn is None else sorted(set(present) | set(np.unique(positive(drawn)).tolist()) - {0})
            segmented |= set(organs)
            if len(group) == 1:
                results = [segmenter.segment_target(reference, scribbles, group[0], pairings[names[0]], cancel,
                                                    **extra)]
            else:
                together.append(names)
                log.info("segmenting %s together: they share one grid (echoes of one acquisition), so they get "
                         "the same masks (if they were acquired apart, segment them separately: crossmr segment "
                         "--separate-series, or untick 'Same-grid series together' in Slicer)", ", ".join(names))
                results = segmenter.segment_targets(reference, scribbles, group, [pairings[n] for n in names], cancel,
                                                    **extra)
            per_series_s = round((time.perf_counter() - tick) / len(group), 4)  # a group's time, shared evenly
            for series, result in zip(group, results):
                result = np.where(np.isin(result, organs), result, 0).astype(np.uint8)
                labels[series.name] = result
                timings[f"{series.name}_s"] = per_series_s
                _warn_empty(series, result, organs)
            done += len(group)
        labels = {s.name: labels[s.name] for s in all_series if s.name in labels}  # input order, reference first
        if progress is not None:
            progress(1.0, "done")
    timings["segment_total_s"] = round(time.perf_counter() - start, 4)
    ran_on = getattr(segmenter, "device", None)
    return StudyResult(labels, {s.name: s for s in all_series}, pairings, segmenter.name,
                       getattr(segmenter, "weights_sha256", None), warnings, timings, reference.name,
                       str(ran_on) if ran_on is not None else None, together, sorted(segmented),
                       [s.name for s in all_series if s.name in strokes])


def _groups(series: list[Series], joint: bool) -> list[list[Series]]:
    """The series in segmenting order: groups sharing one grid when `joint`, else one at a time."""
    if not joint:
        return [[one] for one in series]
    return [[series[i] for i in group] for group in same_grid_groups(series)]


def _selected(groups: list[list[Series]], only: Sequence[str] | None) -> list[list[Series]]:
    """The groups holding a series named in `only` (all when None); unknown names are an `InputError`."""
    if only is None:
        return groups
    names = {s.name for group in groups for s in group}
    unknown = [n for n in only if n not in names]
    if unknown:
        raise InputError(f"cannot re-run series {unknown[0]!r}: it is not in this run (series: "
                         f"{', '.join(repr(n) for n in sorted(names))}); name one of them")
    return [group for group in groups if any(s.name in only for s in group)]


def _check_names(reference: Series, targets: Sequence[Series]) -> None:
    names = [reference.name, *(t.name for t in targets)]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InputError(f"two input series are both named {duplicates[0]!r}; outputs are named after series, "
                         "so rename one (or leave out the duplicate)")


def _warn_empty(series: Series, labels: np.ndarray, present: list[int]) -> None:
    found = set(np.unique(labels).tolist())
    missing = [ORGAN_BY_LABEL[o].name for o in present if o not in found]
    if missing:
        log.warning("%s: %s not found in this series", series.name, ", ".join(missing))
