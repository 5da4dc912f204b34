"""CrossMR engine: Slicer-free cross-modality referring segmentation of abdominal MRI."""

__version__ = "0.1.0"
