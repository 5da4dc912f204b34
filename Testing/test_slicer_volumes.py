"""The module logic's organ volume table after Apply (Qt-free), on a real MRML scene."""

from __future__ import annotations

import numpy as np

from slicer_scene import SERIES, _scribbled_scene, segment_array  # noqa: E402  (skips without slicer-core)
from CrossMRLib.organs import ORGANS  # noqa: E402


def test_after_apply_every_series_and_organ_has_a_volume_matching_its_segmentation(study):
    env, logic, volumes, _, scribbles = _scribbled_scene(study)
    outputs = logic.run(volumes["t1w"], scribbles, [volumes[n] for n in SERIES[1:]])
    rows = logic.lastVolumes
    assert len(rows) == len(SERIES) * len(ORGANS)
    assert [r["volumeNodeID"] for r in rows[:len(SERIES)]] == [volumes[n].GetID() for n in SERIES]
    for row in rows:
        volume = env.scene.GetNodeByID(row["volumeNodeID"])
        output = outputs[row["volumeNodeID"]]
        segment_id = output.GetSegmentation().GetSegmentIdBySegmentName(row["organ"])
        voxels = int(segment_array(output, segment_id, volume).sum())
        voxel_ml = float(np.prod(volume.GetSpacing())) / 1000
        assert abs(row["volume_ml"] - voxels * voxel_ml) <= 0.01 + 1e-3 * row["volume_ml"], row
        flagged_line = any(w.startswith(f"{row['series']}: {row['organ']} volume") for w in logic.lastWarnings)
        assert flagged_line == row["flagged"], row


def test_the_table_marks_flagged_rows_and_knows_which_series_a_click_shows():
    from CrossMRSegmentLib.volumes import volumeTableCells

    rows = [{"volumeNodeID": "vtkMRMLScalarVolumeNode1", "series": "t1w", "organ": "liver", "volume_ml": 1402.4,
             "median_ml": 1390.0, "deviation": 0.0089, "cut_off": False, "flagged": False},
            {"volumeNodeID": "vtkMRMLScalarVolumeNode3", "series": "dwi", "organ": "liver", "volume_ml": 1010.0,
             "median_ml": 1390.0, "deviation": -0.2734, "cut_off": False, "flagged": True},
            {"volumeNodeID": "vtkMRMLScalarVolumeNode4", "series": "t2w", "organ": "spleen", "volume_ml": 90.0,
             "median_ml": 200.0, "deviation": -0.55, "cut_off": True, "flagged": False}]
    assert volumeTableCells(rows) == [
        (["t1w", "liver", "1402 mL", "+1 %"], False, "vtkMRMLScalarVolumeNode1"),
        (["dwi", "liver", "1010 mL", "-27 %  check this series"], True, "vtkMRMLScalarVolumeNode3"),
        (["t2w", "spleen", "90 mL", "-55 %  (organ cut off)"], False, "vtkMRMLScalarVolumeNode4")]
