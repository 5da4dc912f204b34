"""`CorrectionSession`: one study being corrected, run after run, keeping the model and its caches warm.

    session = CorrectionSession(reference, scribbles, targets)        # loads the model once
    first = session.run()                                             # every series
    fixed = session.correct("dwi", dwi_strokes)                       # DWI alone, in about a second
    session.labels["dwi"]                                             # the latest labels of every series

The Slicer module keeps one session per study (in its own process, or in background mode a worker process
that stays alive between runs), hands it the strokes painted on a series ("<series> CrossMR" result or that
series' scribble segmentation) and writes back only the series in the returned result.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..methods import create_method
from ..methods.base import Method
from ..pipeline import ProgressCallback, StudyResult, segment_study
from ..series import Series
from .strokes import ERASE, validate_strokes


class CorrectionSession:
    """A study, its scribbles, the strokes given so far per series and the latest labels of every series."""

    def __init__(self, reference: Series, scribbles: np.ndarray, targets: Sequence[Series],
                 method: str | Method = "auto", weights: str | Path | None = None, threads: int | None = None,
                 device: str = "auto", joint: bool = True) -> None:
        self.reference, self.scribbles, self.targets = reference, np.asarray(scribbles), list(targets)
        self.method = create_method(method, weights, threads, device) if isinstance(method, str) else method
        if hasattr(self.method, "cache_features"):
            self.method.cache_features(len(self.targets) + 1)  # every series' encoder outputs stay cached
        self.joint = joint
        self.strokes: dict[str, np.ndarray] = {}
        self.labels: dict[str, np.ndarray] = {}

    def run(self, only: Sequence[str] | None = None, progress: ProgressCallback | None = None,
            cancel: Callable[[], bool] | None = None) -> StudyResult:
        """Segment `only` these series (all when None) with the strokes given so far; the result holds the
        series segmented, and `labels` is updated with them."""
        result = segment_study(self.reference, self.scribbles, self.targets, self.method, progress=progress,
                               cancel=cancel, joint=self.joint, strokes=self.strokes, only=only)
        self.labels.update(result.labels)
        return result

    def correct(self, series: str, strokes: np.ndarray, progress: ProgressCallback | None = None,
                cancel: Callable[[], bool] | None = None) -> StudyResult:
        """Set the strokes of `series` (everything painted on it so far, on its own grid; an empty labelmap
        clears them) and re-segment what they change: that series (with the series segmented together with
        it), or every series when organ strokes on the reference changed (they are scribbles)."""
        checked = validate_strokes({series: strokes}, [self.reference, *self.targets])
        before = self.strokes.get(series)
        if series in checked:
            self.strokes[series] = checked[series]
        else:
            self.strokes.pop(series, None)
        if series == self.reference.name and _organ_strokes_changed(before, self.strokes.get(series)):
            return self.run(None, progress, cancel)
        return self.run([series], progress, cancel)


def _organ_strokes_changed(before: np.ndarray | None, after: np.ndarray | None) -> bool:
    def organs(strokes):
        return None if strokes is None else np.where(strokes == ERASE, 0, strokes)

    a, b = organs(before), organs(after)
    if a is None or b is None:
        return (a is not None and a.any()) or (b is not None and b.any())
    return not np.array_equal(a, b)
