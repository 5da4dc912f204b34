"""Benchmark inputs ("cases"): series, ground truth, seeded scribbles and background strokes, cached as .npz.

Data sets (the splits are the model's: `CrossMRLib.model.data` and `train/train.py`):
- `chaos-dense`, `chaos-sparse`: CHAOS T2-SPIR validation subjects, reference = target; dense scribbles
  (a stroke per organ on every slice holding it) or sparse ones (one slice per organ).
- `phantom`: generated held-out studies (seeds 1..5; training uses 1000+), dense scribbles on T1w only;
  targets T2w, DWI, in-phase and opposed-phase, paired by physical position.
Smoke cases keep a few slices around the slice where all organs show best.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from CrossMRLib.errors import InputError
from CrossMRLib.model.data import VAL_SUBJECTS, chaos_root
from CrossMRLib.organs import MAX_LABEL
from CrossMRLib.scribbles.synth import synthesize_background_scribbles, synthesize_scribbles
from CrossMRLib.series import Series

DATASETS = ("chaos-dense", "chaos-sparse", "phantom")
MULTI_SERIES = ("phantom",)  # data sets whose studies have target series (registration rows run there)
PHANTOM_SEEDS = (1, 2, 3, 4, 5)  # held out: train/train.py trains on seeds 1000+
PHANTOM_REFERENCE = "t1w"
PHANTOM_TARGETS = ("t2w", "dwi", "inphase", "opposed")
CHAOS_CONTRAST = "t2spir"


@dataclass
class Case:
    """One study of one data set, with everything every method gets (and the truth none gets)."""

    dataset: str
    study: str
    reference: Series
    scribbles: np.ndarray  # uint8 (K, J, I) organ labels on the reference grid
    background: np.ndarray  # bool (K, J, I) background strokes (for the methods that need them)
    targets: list[Series]
    truth: dict[str, np.ndarray]  # series name -> uint8 labels in that series' grid

    @property
    def series(self) -> list[Series]:
        return [self.reference, *self.targets]


def in_plane_spacing(series: Series) -> tuple[float, float]:
    """(row, column) mm of a (K, J, I) series."""
    return float(series.spacing[1]), float(series.spacing[0])


def crop_slices(series: Series, k0: int, k1: int) -> Series:
    """Slices k0..k1-1 of a series, geometry kept exact."""
    matrix = series.ijk_to_ras.copy()
    matrix[:3, 3] = series.ijk_to_ras[:3, :3] @ np.array([0.0, 0.0, float(k0)]) + series.ijk_to_ras[:3, 3]
    return Series(np.ascontiguousarray(series.array[k0:k1]), matrix, series.name, series.modality, dict(series.meta))


def smoke_window(labels: np.ndarray, count: int) -> tuple[int, int]:
    """`count` slices around the slice with the most organs (ties: the most organ voxels)."""
    organs = np.stack([(labels == o).any(axis=(1, 2)) for o in range(1, MAX_LABEL + 1)], 1).sum(1)
    area = (labels > 0).sum(axis=(1, 2))
    best = int(np.lexsort((area, organs))[-1])
    k0 = int(np.clip(best - count // 2, 0, max(len(labels) - count, 0)))
    return k0, min(k0 + count, len(labels))


def _scribbles(labels: np.ndarray, series: Series, mode: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    spacing = in_plane_spacing(series)
    scribbles = synthesize_scribbles(labels, mode, rng, max_slices=1, spacing=spacing)
    background = synthesize_background_scribbles(labels, rng, scribbles=scribbles, spacing=spacing)
    return scribbles, background


def chaos_case(subject: str, mode: str, root: Path, smoke_slices: int | None = None) -> Case:
    """CHAOS subject, reference = target, `mode` dense or sparse scribbles."""
    from CrossMRLib.io.readers import read_series

    folder = Path(root) / f"patient_{subject}" / "T2SPIR"
    image = read_series(folder / "image.nii.gz")
    labels = np.rint(read_series(folder / "label.nii.gz").array).astype(np.uint8)
    image = Series(image.array.astype(np.float32), image.ijk_to_ras, CHAOS_CONTRAST, "t2spir")
    if smoke_slices:
        k0, k1 = smoke_window(labels, smoke_slices)
        image, labels = crop_slices(image, k0, k1), labels[k0:k1]
    scribbles, background = _scribbles(labels, image, mode, seed=int(subject) * 10 + (mode == "sparse"))
    return Case(f"chaos-{mode}", f"chaos_{subject}", image, scribbles, background, [], {CHAOS_CONTRAST: labels})


def phantom_case(seed: int, smoke_slices: int | None = None) -> Case:
    """Generated study: scribbles on T1w, the other contrasts as targets."""
    from CrossMRLib.phantom import generate_study

    study = generate_study(int(seed))
    names = [PHANTOM_REFERENCE, *PHANTOM_TARGETS]
    series = {c: Series(np.asarray(study.images[c].array, dtype=np.float32), study.images[c].ijk_to_ras, c, c)
              for c in names}
    truth = {c: np.rint(np.asarray(study.labels[c].array)).astype(np.uint8) for c in names}
    if smoke_slices:
        series, truth = _crop_study(series, truth, smoke_slices)
    reference = series[PHANTOM_REFERENCE]
    scribbles, background = _scribbles(truth[PHANTOM_REFERENCE], reference, "dense", seed=100_000 + int(seed))
    return Case("phantom", f"phantom_{seed}", reference, scribbles, background,
                [series[c] for c in PHANTOM_TARGETS], truth)


def _crop_study(series: dict, truth: dict, count: int) -> tuple[dict, dict]:
    """Crop the reference to a smoke window and every target to the slices inside it (by position)."""
    ref = series[PHANTOM_REFERENCE]
    k0, k1 = smoke_window(truth[PHANTOM_REFERENCE], count)
    normal = ref.slice_normal
    ref_pos = ref.slice_centres() @ normal
    half = float(ref.spacing[2]) / 2.0
    low, high = sorted((ref_pos[k0], ref_pos[k1 - 1]))
    out_series, out_truth = {}, {}
    for name, s in series.items():
        if name == PHANTOM_REFERENCE:
            keep = np.arange(k0, k1)
        else:
            pos = s.slice_centres() @ normal
            keep = np.flatnonzero((pos >= low - half) & (pos <= high + half))
        if keep.size == 0:
            continue
        out_series[name] = crop_slices(s, int(keep.min()), int(keep.max()) + 1)
        out_truth[name] = truth[name][keep.min():keep.max() + 1]
    return out_series, out_truth


def save_case(case: Case, path: Path) -> None:
    """Write a case as one .npz (atomic)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {"scribbles": case.scribbles, "background": case.background}
    for s in case.series:
        arrays[f"array__{s.name}"] = s.array
        arrays[f"affine__{s.name}"] = s.ijk_to_ras
        arrays[f"truth__{s.name}"] = case.truth[s.name]
    meta = {"dataset": case.dataset, "study": case.study, "names": [s.name for s in case.series],
            "modalities": [s.modality for s in case.series]}
    tmp = path.with_name(path.stem + ".tmp.npz")
    np.savez_compressed(tmp, meta=np.array(json.dumps(meta)), **arrays)
    tmp.replace(path)


def load_case(path: Path) -> Case:
    """Read a case written by `save_case`."""
    with np.load(path) as data:
        meta = json.loads(str(data["meta"]))
        series = [Series(data[f"array__{n}"], data[f"affine__{n}"], n, m) for n, m in zip(meta["names"], meta["modalities"])]
        truth = {n: data[f"truth__{n}"] for n in meta["names"]}
        return Case(meta["dataset"], meta["study"], series[0], data["scribbles"], data["background"].astype(bool),
                    series[1:], truth)


def study_ids(dataset: str, smoke: bool, chaos_available: bool) -> list[str]:
    """The studies of a data set (smoke: the first one only)."""
    if dataset.startswith("chaos"):
        ids = [f"chaos_{s}" for s in VAL_SUBJECTS] if chaos_available else []
    elif dataset == "phantom":
        ids = [f"phantom_{s}" for s in PHANTOM_SEEDS]
    else:
        raise InputError(f"unknown data set {dataset!r}; choose from {', '.join(DATASETS)}")
    return ids[:1] if smoke else ids


def build_case(dataset: str, study: str, chaos: Path, smoke_slices: int | None) -> Case:
    """Make one case from its data set and study id."""
    if dataset.startswith("chaos"):
        return chaos_case(study.split("_")[1], dataset.split("-")[1], chaos, smoke_slices)
    return phantom_case(int(study.split("_")[1]), smoke_slices)


def get_case(dataset: str, study: str, cache: Path, chaos: Path = chaos_root(), smoke_slices: int | None = None) -> Case:
    """The cached case, built and cached on first use."""
    path = Path(cache) / dataset / f"{study}.npz"
    if path.exists():
        return load_case(path)
    case = build_case(dataset, study, chaos, smoke_slices)
    save_case(case, path)
    return case
