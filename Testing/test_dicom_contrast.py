"""Contrast guesses and what `--targets all` leaves out, from DICOM headers alone."""

import pytest

from CrossMRLib.dicom.contrast import guess_contrast, left_out_reason
from CrossMRLib.dicom.scan import DicomImage, DicomSeries


def series(description="", te=None, tr=None, field=1.5, bvalues=(None,), image_type=("ORIGINAL", "PRIMARY", "M"),
           slices=20, orientations=1):
    images = [DicomImage(None, (0.0, 0.0, float(k)), (1, 0, 0, 0, 1, 0) if k % orientations == 0 else (1, 0, 0, 0, 0, 1),
                         b, te, k) for b in bvalues for k in range(slices)]
    return DicomSeries("1.2.3", 1, description, "MR", image_type, 64, 64, (1.0, 1.0), 5.0, te, tr, field, "", "", images)


@pytest.mark.parametrize("kwargs, contrast", [
    ({"description": "t1_vibe_tra_bh"}, "T1w"),
    ({"description": "LAVA FLEX"}, "T1w"),
    ({"description": "T2 HASTE tra"}, "T2w"),
    ({"description": "ep2d_diff_b50_400_800", "bvalues": (50.0, 400.0, 800.0)}, "DWI"),
    ({"description": "t1_fl2d_opp-phase"}, "opposed-phase"),
    ({"description": "Ax T1 in phase"}, "in-phase"),
    ({"te": 2.3, "tr": 150.0}, "opposed-phase"),  # 1.5 T: fat and water half a cycle apart at 2.3 ms
    ({"te": 4.6, "tr": 150.0}, "in-phase"),
    ({"te": 1.15, "tr": 150.0, "field": 3.0}, "opposed-phase"),
    ({"te": 4.6, "tr": 150.0, "field": None}, "T1w"),
    ({"te": 2.0, "tr": 4.5}, "T1w"),  # 3D gradient echo
    ({"te": 90.0, "tr": 4000.0}, "T2w"),
    ({"te": 30.0, "tr": 1000.0}, "other"),
    ({}, "other"),
])
def test_contrast_guess(kwargs, contrast):
    assert guess_contrast(series(**kwargs)) == contrast


@pytest.mark.parametrize("kwargs, reason", [
    ({"description": "localizer", "slices": 3, "orientations": 3}, "localiser"),
    ({"description": "AAHead_Scout"}, "localiser"),
    ({"description": "survey", "image_type": ("ORIGINAL", "PRIMARY", "LOCALIZER")}, "localiser"),
    ({"description": "t2 tra", "slices": 2}, "2 slice(s)"),
    ({"description": "ep2d_diff_ADC", "image_type": ("DERIVED", "PRIMARY", "DIFFUSION", "ADC")}, "derived image"),
    ({"description": "t1_vibe_SUB", "image_type": ("DERIVED", "SECONDARY")}, "derived image"),
    ({"description": "ep2d_diff_TRACEW", "image_type": ("DERIVED", "PRIMARY", "DIFFUSION", "TRACEW"),
      "bvalues": (800.0,)}, None),  # trace-weighted DWI is DERIVED on some scanners but is what we segment
    ({"description": "t1_vibe_tra"}, None),
])
def test_left_out_of_all(kwargs, reason):
    assert left_out_reason(series(**kwargs)) == reason
