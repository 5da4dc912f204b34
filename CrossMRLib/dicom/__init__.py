"""DICOM studies: find the series of a study folder, guess their contrast, load one, write DICOM SEG."""
