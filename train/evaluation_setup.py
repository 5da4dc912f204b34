"""The fixed prose of docs/results.md (how it was measured, caveats); `results_page.py` writes it into the page.
Earlier runs and their scores are in docs/experiments.md, not here."""

SETUP = """- Data: CHAOS MR T2-SPIR, split by subject in `CrossMRLib/model/data.py`: training 01 02 03 08 10 15 21 22 31
  32, validation 33 34 37 38 39. Generated studies (`CrossMRLib/phantom`): training seeds 1000+, presence
  calibration 6..10, evaluation 1..5.
- Strokes are drawn by `CrossMRLib/scribbles/synth.py`, seeded by `--seed` + subject: dense = one stroke per
  organ on every slice holding it, sparse = one slice per organ. On CHAOS the strokes lie on the series that
  is segmented; on generated studies they lie on T1w only and each other series is paired by slice position.
- Grow from seeds (Slicer's `vtkImageGrowCutSegment`) gets the same organ strokes plus background strokes,
  which CrossMR never gets.
- DSC and NSD (surface within 5 mm for the liver, 3 mm for kidneys and spleen) are computed in 3D per volume
  and averaged over volumes."""

HELD_OUT_CAVEAT = """The CHAOS validation numbers come from 5 subjects on which the training recipe was chosen, so they
are optimistic: on CHAOS subjects no one here had looked at, earlier weights scored dense 0.894 and sparse
0.882 where these validation subjects gave them 0.919 and 0.903, about 0.025 higher."""
FIT_CAVEAT = """For a new patient the closest measure here is the previous shipped weights (edbe8922: the same
network, an earlier recipe, trained on the other 10 subjects): dense 0.920 and sparse 0.902 on these 5
subjects, which chose the recipe; on CHAOS subjects no one here had looked at, earlier weights scored about
0.025 below such validation numbers (dense 0.894 and sparse 0.882 where the validation subjects gave 0.919
and 0.903)."""
GENERAL_CAVEATS = """The generated rows are held-out studies but come from the same generator as the training
studies, so they say how well CrossMR carries strokes across contrasts, not how well it does on real scans of
those contrasts. The strokes are synthetic, each number is one training run, and runs of one recipe differ by
up to 0.03 per organ."""
CAVEATS = HELD_OUT_CAVEAT + " " + GENERAL_CAVEATS
