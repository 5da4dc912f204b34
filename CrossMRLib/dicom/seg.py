"""A labelmap as a DICOM Segmentation (highdicom) that references the series' source images.

Organs are coded as the Slicer module codes them (SNOMED CT, `CrossMRLib.organs`): category Anatomical
Structure, the organ as property type, laterality as its modifier, and Slicer's colours.
"""

from __future__ import annotations

import numpy as np

from .. import __version__
from ..errors import InputError
from ..organs import ORGANS, Organ
from ..series import Series

CATEGORY = ("123037004", "Anatomical Structure")


def has_dicom_source(series: Series) -> bool:
    """True when the series was read from DICOM images (a SEG can reference them)."""
    return bool(series.meta.get("dicom_files"))


def require_dicom_sources(series: list[Series]) -> None:
    """Refuse --format dicom-seg before any work when a series was not read from DICOM."""
    others = [s.name for s in series if not has_dicom_source(s)]
    if others:
        raise InputError(f"--format dicom-seg needs DICOM input, but {', '.join(others[:3])} "
                         f"{'was' if len(others) == 1 else 'were'} not read from DICOM; give the DICOM series "
                         "(or a study folder with --reference), or choose --format seg-nrrd,nifti")


def make_dicom_seg(labels: np.ndarray, series: Series, series_number: int = 900):
    """A DICOM SEG dataset of `labels` (K, J, I, values 0..4) on the DICOM series `series` (frames in its k order).

    Source images highdicom cannot build a SEG from are an `InputError` (nothing is written yet)."""
    import highdicom as hd
    import pydicom

    files = series.meta.get("dicom_files") or []
    if len(files) != series.num_slices or labels.shape != series.shape:
        raise ValueError(f"series '{series.name}': {len(files)} source files for {series.num_slices} slices")
    try:
        sources = [pydicom.dcmread(f) for f in files]
        return hd.seg.Segmentation(
            source_images=sources, pixel_array=np.ascontiguousarray(labels.astype(np.uint8)),
            segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
            segment_descriptions=[_description(organ, hd) for organ in ORGANS],
            series_instance_uid=hd.UID(), series_number=series_number, sop_instance_uid=hd.UID(), instance_number=1,
            manufacturer="CrossMR", manufacturer_model_name="CrossMR", software_versions=__version__,
            device_serial_number="0", series_description=f"CrossMR {series.meta.get('description') or series.name}"[:64],
            content_label="CROSSMR", content_description="liver, kidneys, spleen")
    except (ValueError, TypeError, AttributeError, KeyError, OSError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise InputError(f"series '{series.name}': its images do not allow a DICOM SEG ({first}); choose --format "
                         "seg-nrrd,nifti for this study") from exc


def _description(organ: Organ, hd):
    from pydicom.sr.codedict import codes
    from pydicom.sr.coding import Code

    description = hd.seg.SegmentDescription(
        segment_number=organ.label, segment_label=organ.name,
        segmented_property_category=Code(CATEGORY[0], "SCT", CATEGORY[1]),
        segmented_property_type=Code(organ.snomed_code, "SCT", organ.snomed_meaning),
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.SEMIAUTOMATIC,
        algorithm_identification=hd.AlgorithmIdentificationSequence(
            name="CrossMR", family=codes.DCM.ArtificialIntelligence, version=__version__),
        display_color=hd.color.CIELabColor.from_rgb(*organ.color))
    if organ.modifier_code:
        modifier = hd.sr.CodedConcept(organ.modifier_code, "SCT", organ.modifier_meaning)
        description.SegmentedPropertyTypeCodeSequence[0].SegmentedPropertyTypeModifierCodeSequence = [modifier]
    return description
