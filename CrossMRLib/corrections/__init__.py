"""Corrections: strokes on any series of the study, erase strokes, and re-running only what changed.

After a first run the user paints where the result is wrong, on the series where they see it:

- `strokes.py`: a stroke labelmap per series, on that series' own grid, with the scribble labels (1 liver,
  2 right kidney, 3 left kidney, 4 spleen) and `ERASE` (255) = "no organ here"; checked with one-line errors.
- `tokens.py`: a target slice near a stroke of its own series is prompted by that stroke too (same-series
  prompting), besides the reference's scribbles.
- `erase.py`: an erase stroke removes whatever organ lies under it and the organ's connected piece it touches,
  up to the organ's own strokes.
- `session.py`: `CorrectionSession` keeps the model (and its cached encoder features) between runs, so a
  correction on one series re-segments that series alone in about a second.
"""
