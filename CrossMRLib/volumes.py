"""Organ volumes (mL) on every series and the cross-series consistency check.

The organs of one study are the same organs on every series, so their volumes should agree. Each series'
volume is compared with the study's median for that organ; a relative deviation above
`CONSISTENCY_THRESHOLD` flags the series/organ (the threshold and the numbers behind it:
docs/volume_consistency.md, measured by train/volume_consistency.py). An organ that touches the first or
last slice of a series may be cut off by that series' coverage: it is marked, not flagged.
"""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .organs import ORGANS
from .series import Series

CONSISTENCY_THRESHOLD = 0.15  # relative deviation from the study median; see docs/volume_consistency.md
VOLUMES_FILE = "volumes.csv"


@dataclass
class VolumeRow:
    """One organ on one series."""

    series: str
    organ: str
    volume_ml: float
    median_ml: float | None  # the study's median for this organ (None: the organ was found nowhere)
    deviation: float | None  # (volume - median) / median
    cut_off: bool  # the organ touches the first or last slice: the series may not cover all of it
    flagged: bool


def organ_volumes_ml(labels: np.ndarray, series: Series) -> dict[str, float]:
    """Volume in mL of every organ: voxel count x voxel volume."""
    voxel_ml = float(np.prod(series.spacing)) / 1000.0
    counts = np.bincount(np.asarray(labels, dtype=np.uint8).ravel(), minlength=len(ORGANS) + 1)
    return {organ.name: float(counts[organ.label]) * voxel_ml for organ in ORGANS}


def volume_table(labels: dict[str, np.ndarray], series: dict[str, Series], organ_labels: list[int],
                 threshold: float = CONSISTENCY_THRESHOLD) -> list[VolumeRow]:
    """Rows for every series (in `labels` order) and every organ in `organ_labels` (the scribbled ones)."""
    volumes = {name: organ_volumes_ml(lab, series[name]) for name, lab in labels.items()}
    rows = []
    for organ in (o for o in ORGANS if o.label in organ_labels):
        median = float(np.median([volumes[name][organ.name] for name in labels]))
        for name, lab in labels.items():
            volume = volumes[name][organ.name]
            deviation = (volume - median) / median if median > 0 else None
            cut = bool((lab[0] == organ.label).any() or (lab[-1] == organ.label).any())
            flagged = deviation is not None and abs(deviation) > threshold and not (cut and deviation < 0)
            rows.append(VolumeRow(name, organ.name, round(volume, 2), None if median <= 0 else round(median, 2),
                                  None if deviation is None else round(deviation, 4), cut, flagged))
    return rows


def consistency_warnings(rows: list[VolumeRow], threshold: float = CONSISTENCY_THRESHOLD) -> list[str]:
    """One warning line per flagged series/organ."""
    return [f"{r.series}: {r.organ} volume {r.volume_ml:.0f} mL is {abs(r.deviation) * 100:.0f}% "
            f"{'above' if r.deviation > 0 else 'below'} the study median {r.median_ml:.0f} mL (more than "
            f"{threshold * 100:.0f}%); check this series' result" for r in rows if r.flagged]


def write_volumes_csv(rows: list[VolumeRow], path: str | Path) -> Path:
    """Write the table as CSV (one row per series and organ)."""
    path = Path(path)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(VolumeRow.__dataclass_fields__))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if v is None else v) for k, v in asdict(row).items()})
    return path
