"""Scribbles: reading the user's, carrying them between series, synthesising them for training."""
