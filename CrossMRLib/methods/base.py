"""The interface every segmentation method implements."""

from __future__ import annotations

from typing import Callable, Protocol

import numpy as np

from ..pairing import SlicePairing
from ..series import Series

CancelCallback = Callable[[], bool]


class Method(Protocol):
    """A way to segment a target series from scribbles on a reference series."""

    name: str
    weights_sha256: str | None

    def segment_target(self, reference: Series, scribbles: np.ndarray, target: Series, pairing: SlicePairing,
                       cancel: CancelCallback | None = None, strokes: np.ndarray | None = None) -> np.ndarray:
        """uint8 (K, J, I) organ labels in `target`'s grid; `scribbles` is in `reference`'s grid, `strokes`
        (correction strokes, `CrossMRLib/corrections/strokes.py`) in `target`'s. The pipeline passes `strokes`
        only when the target has some."""
        ...
