"""Reading and writing series, labelmaps and Slicer segmentations."""

from .readers import read_series
from .writers import write_labels_nifti, write_series_nifti
from .segnrrd import read_seg_nrrd, write_seg_nrrd

__all__ = ["read_series", "write_labels_nifti", "write_series_nifti", "read_seg_nrrd", "write_seg_nrrd"]
