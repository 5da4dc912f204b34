"""The module's table of organ volumes after Apply: one row per series and organ, flagged when a series'
volume is far from the study median (the engine's check, `CrossMRLib.volumes`). Qt-free."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np


def volumeRows(prepared, labelsByVolumeID: dict) -> list[dict]:
    """Rows (dicts: volumeNodeID, series, organ, volume_ml, median_ml, deviation, cut_off, flagged), reference first;
    series missing from `labelsByVolumeID` are left out."""
    from CrossMRLib.volumes import volume_table

    names = {node.GetID(): series.name for node, series in zip(prepared.volumes, prepared.series)}
    labels = {names[node.GetID()]: labelsByVolumeID[node.GetID()] for node in prepared.volumes
              if node.GetID() in labelsByVolumeID}
    grids = {series.name: series for series in prepared.series}
    ids = {name: volumeID for volumeID, name in names.items()}
    stroked = {int(v) for array in labels.values() for v in np.unique(array) if v}  # organs stroked on a target too
    rows = volume_table(labels, grids, sorted(set(prepared.organLabels) | stroked))
    return [{"volumeNodeID": ids[row.series], **asdict(row)} for row in rows]


def volumeWarnings(rows: list[dict]) -> list[str]:
    """The engine's warning line for every flagged row."""
    from CrossMRLib.volumes import VolumeRow, consistency_warnings

    return consistency_warnings([VolumeRow(**{k: v for k, v in row.items() if k != "volumeNodeID"}) for row in rows])


def volumeTableCells(rows: list[dict]) -> list[tuple[list[str], bool, str]]:
    """The module table's rows: ([series, organ, volume, deviation from the median], flagged, volumeNodeID)."""
    cells = []
    for row in rows:
        deviation = "" if row["deviation"] is None else f"{row['deviation'] * 100:+.0f} %"
        if row["flagged"]:
            deviation += "  check this series"
        elif row["cut_off"] and deviation:
            deviation += "  (organ cut off)"
        cells.append(([row["series"], row["organ"], f"{row['volume_ml']:.0f} mL", deviation], bool(row["flagged"]),
                      row["volumeNodeID"]))
    return cells
