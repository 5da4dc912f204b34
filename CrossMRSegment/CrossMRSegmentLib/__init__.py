"""Qt-free logic of the CrossMR Slicer module (importable without the GUI, torch or the engine's extras)."""

import importlib.util as _importlib_util
import sys as _sys
from pathlib import Path as _Path


def _findEngine() -> None:
    """Run from a source checkout ("Add module path"), the engine `CrossMRLib` sits two folders up."""
    if _importlib_util.find_spec("CrossMRLib") is None:
        root = _Path(__file__).resolve().parents[2]
        if (root / "CrossMRLib" / "__init__.py").exists():
            _sys.path.append(str(root))


_findEngine()

from .logic import CrossMRSegmentLogic, PreparedStudy  # noqa: E402

__all__ = ["CrossMRSegmentLogic", "PreparedStudy"]
