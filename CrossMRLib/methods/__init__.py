"""Segmentation methods behind one interface (see `base.Method`)."""

from __future__ import annotations

import logging
from pathlib import Path

from ..errors import InputError
from .base import Method

log = logging.getLogger("crossmr")

METHODS = ("auto", "model", "region-growing")


def create_method(name: str = "auto", weights: str | Path | None = None, threads: int | None = None,
                  device: str = "auto") -> Method:
    """Build a method by name. "auto" is the CrossMR model (the shipped weights unless `weights` is given;
    `device`: auto, cpu or cuda, see `CrossMRModelMethod`)."""
    if name not in METHODS:
        raise InputError(f"unknown method {name!r}; choose one of {', '.join(METHODS)}")
    if name == "region-growing":
        from .region_growing import RegionGrowingMethod

        return RegionGrowingMethod()
    from .crossmr_model import CrossMRModelMethod

    return CrossMRModelMethod(weights=Path(weights) if weights else None, threads=threads, device=device)
