"""The training data of a recipe: which volumes of which source, and how often each is drawn.

Three sources, drawn about equally often: real CHAOS T2-SPIR images (left out by `no_chaos`), generated
studies (training seeds 1000+), and the CHAOS organ label maps in synthetic bodies (labels only: they carry no
contrast, so the never-seen-contrast recipe keeps them). `no_chaos` guarantees that no real image voxel, and
nothing computed from one, reaches training: only label files are read then.
"""

from __future__ import annotations

from pathlib import Path

from .data import Volume, load_chaos, load_chaos_masks, phantom_volume

PHANTOM_TRAIN_SEED0 = 1000  # training phantoms use seeds 1000+; evaluation uses 1..5, never trained on


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
    """The volume draws of a run: real images of `subjects` (unless `no_chaos`), `phantoms` generated studies,
    and the organ label maps of `subjects` in synthetic bodies; each source about as often as the phantoms."""
    per_subject = max(1, round(phantoms / len(subjects))) if subjects else 0
    volumes: list[Volume] = []
    if subjects and not no_chaos:
        volumes += load_chaos(subjects, size, chaos) * per_subject  # repeats share memory
    volumes += load_phantoms(phantoms, size, cache, processes)
    if subjects:
        volumes += load_chaos_masks(subjects, size, chaos, bodies=per_subject)  # other bodies, not repeats
    return volumes
