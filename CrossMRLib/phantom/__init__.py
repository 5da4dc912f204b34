"""Five-contrast abdominal MRI phantom: physically based T1w, T2w, DWI (b0, b800), in/opposed phase.

`generate_study(seed)` simulates one subject (anatomy.py) and images it with each series' own
geometry and physics (signal.py, acquisition.py); `write_study` writes NIfTI files plus labels.
"""

from .study import ALL_IMAGES, SERIES_NAMES, PhantomStudy, generate_study, write_study

__all__ = ["ALL_IMAGES", "SERIES_NAMES", "PhantomStudy", "generate_study", "write_study"]
