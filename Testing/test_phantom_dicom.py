"""`crossmr phantom --dicom`: a sample DICOM study plus T1w scribbles that `crossmr segment` accepts as written."""

import numpy as np

from CrossMRLib.cli import main
from CrossMRLib.dicom.load import load_series
from CrossMRLib.dicom.scan import scan_study
from CrossMRLib.scribbles.read import read_scribbles


def test_phantom_dicom_writes_a_study_whose_t1w_series_takes_the_written_scribbles(study, tmp_path, monkeypatch):
    import CrossMRLib.phantom.study as phantom_study

    monkeypatch.setattr(phantom_study, "generate_study", lambda seed, *args: study)  # the small session study
    assert main(["phantom", "--out", str(tmp_path), "--seed", str(study.seed), "--dicom"]) == 0
    folder = tmp_path / f"study_{study.seed}"
    found = {s.number: s for s in scan_study(folder / "DICOM")}
    assert sorted(found) == [1, 3, 5, 6, 7, 8, 9]
    reference = load_series(found[3])
    scribbles = read_scribbles(folder / "t1w_scribbles.nii.gz", reference)
    truth = study.labels["t1w"].array
    assert scribbles.shape == truth.shape
    assert set(np.unique(scribbles)) == {0, 1, 2, 3, 4}  # every organ has a stroke
    inside = truth[scribbles > 0] == scribbles[scribbles > 0]
    assert inside.mean() > 0.99  # strokes lie inside their organ
