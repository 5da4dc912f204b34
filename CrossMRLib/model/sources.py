"""The training data of a recipe: which volumes of which source, and how often each is drawn.

Two sources of anatomy. CHAOS subjects give CHAOS_SHARE of the pairs: a subject's real T2-SPIR image, or for
SYNTHETIC_BODY_SHARE of its pairs its organ label map in a synthetic body rendered with random contrasts.
Generated studies (training seeds 1000+) give the rest (RANDOMISED_SHARE of those pairs are random contrasts
of their tissue maps, `CrossMRLib.model.data`). These shares keep the real and physics-based pairs the
earlier shipped recipe had (edbe8922: 20 real volumes beside 24 generated studies, about 45:55) and give a
fifth of training to random contrasts. `no_chaos` (the never-seen-contrast recipe) leaves every real image
out: each CHAOS pair is then a synthetic body, the sources' shares unchanged, and only label files are read.
"""

from __future__ import annotations

from pathlib import Path

from .data import RANDOMISED_SHARE, Volume, load_chaos, load_chaos_masks, phantom_volume

PHANTOM_TRAIN_SEED0 = 1000  # training phantoms use seeds 1000+; evaluation uses 1..5, never trained on
CHAOS_SHARE = 0.45  # pairs drawn from CHAOS subjects (real image or synthetic body); the rest: generated studies
SYNTHETIC_BODY_SHARE = 0.25  # of a CHAOS subject's pairs: its label map in a synthetic body (all of them under no_chaos)
BODIES_PER_SUBJECT = 2  # different synthetic bodies around each subject's label map


def load_phantoms(count: int, size: int, cache: Path | None, processes: int) -> list[Volume]:
    """The training phantoms (seeds 1000+), generated in `processes` processes where not cached yet."""
    seeds = [PHANTOM_TRAIN_SEED0 + i for i in range(count)]
    if processes <= 1 or count <= 1:
        return [phantom_volume(seed, size, cache) for seed in seeds]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # spawned, not forked: a child forked after torch ran multi-threaded hangs in its first parallel op
    with ProcessPoolExecutor(min(processes, count), mp_context=multiprocessing.get_context("spawn")) as pool:
        return list(pool.map(phantom_volume, seeds, [size] * count, [cache] * count))


def training_volumes(subjects: tuple[str, ...], phantoms: int, size: int, chaos: Path | None, cache: Path | None,
                     no_chaos: bool = False, processes: int = 0) -> list[Volume]:
    """The volumes of a run, each weighted so that its source gets the recipe's share of the pairs: real images
    of `subjects` (unless `no_chaos`), their organ label maps in synthetic bodies, `phantoms` generated studies."""
    volumes: list[Volume] = []
    chaos_share = CHAOS_SHARE if subjects and phantoms else (1.0 if subjects else 0.0)
    body_share = chaos_share if no_chaos else chaos_share * SYNTHETIC_BODY_SHARE
    if subjects and not no_chaos:
        for vol in load_chaos(subjects, size, chaos):
            vol.weight = (chaos_share - body_share) / len(subjects)
            volumes.append(vol)
    if subjects:
        for vol in load_chaos_masks(subjects, size, chaos, bodies=BODIES_PER_SUBJECT):
            vol.weight = body_share / (len(subjects) * BODIES_PER_SUBJECT)
            volumes.append(vol)
    for vol in load_phantoms(phantoms, size, cache, processes):
        vol.weight = (1.0 - chaos_share) / phantoms
        volumes.append(vol)
    return volumes


def recipe_shares() -> dict[str, float]:
    """The shares of this code's recipe, as train.py records them in the weights."""
    return {"chaos": CHAOS_SHARE, "synthetic_body": SYNTHETIC_BODY_SHARE, "generated_random": RANDOMISED_SHARE}
