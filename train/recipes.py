"""The commands that train the two weights files in Resources/Models/."""

from pathlib import Path

MODELS = Path(__file__).resolve().parents[1] / "Resources" / "Models"
NEVER_SEEN_WEIGHTS = MODELS / "crossmr_never_seen.pt"

TORCHRUN_PREFIX = "OMP_NUM_THREADS=1 .venv/bin/torchrun --nproc_per_node 2 "
_TORCHRUN = TORCHRUN_PREFIX + "train/train.py --threads 1 "
_RECIPE = "--steps 7400 --batch 6 --phantoms 24 --lr 6e-4 --ema 0.999 --size 144 --bf16"

# The shipped model's candidate recipe on all 15 CHAOS subjects: real images, their label maps in synthetic bodies
# and generated studies, in the shares of CrossMRLib/model/sources.py. Not yet what made crossmr_model.pt (the model
# card gives that command and commit): trained at 85d42a4 (runs/shipped15) it scored generated T2w 0.013 below the
# shipped weights, outside the margin set before the run (docs/experiments.md), so it was not shipped. Since a034479
# the recipe also deforms the training pairs; trained so at 0bb1826 (runs/shipped_deform) it scored generated in- and
# opposed-phase 0.011 below the shipped weights, so it was not shipped either; a third run (--seed 1, c40561d,
# runs/shipped_s1) scored the generated rows 0.901 on average (shipped: 0.918): the recipe costs them about 0.01.
SHIPPED_COMMAND = _TORCHRUN + _RECIPE + " --chaos-subjects all --out runs/shipped --export runs/shipped/crossmr_model.pt"
# Evaluation only (crossmr_never_seen.pt): the same recipe with every real image left out (CHAOS label maps of the
# training subjects in synthetic bodies, generated studies); validation subjects held out entirely.
NEVER_SEEN_COMMAND = (_TORCHRUN + _RECIPE + " --no-chaos --out runs/never_seen "
                      "--export runs/never_seen/crossmr_never_seen.pt")
NEVER_SEEN_COMMIT = "a034479"  # the code that trained the committed crossmr_never_seen.pt (docs/experiments.md)
