"""Run one method over the cases of one data set: same pipeline, timing, peak memory, scores, result cache.

Every method goes through `CrossMRLib.pipeline.segment_study` with the case's reference, scribbles and
targets. Networks are loaded once before the studies (load time recorded apart); a study's time is the
wall time of `segment_study` for all its series. Memory (MB, see `memory.py`), each as resident set size
and as its private part (`private_*`): `start` before the method is loaded (after freeing what earlier
work left), `loaded` after loading, `peak` while it segments (RSS: the kernel's high-water mark, reset
after loading; private: polled); so peak - loaded is the working memory of segmenting.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from CrossMRLib.metrics import organ_scores
from CrossMRLib.pipeline import segment_study

from .cases import Case
from .growcut import GrowCutReferenceMethod, GrowCutTargetMethod
from .memory import PrivatePeak, current_mb, peak_mb, private_mb, release_memory, reset_peak
from .watershed import WatershedMethod

METHODS = ("crossmr", "growcut-reference", "growcut-target", "watershed", "nnunet", "nnunet-scribble")
ROW_NAMES = {
    "crossmr": "CrossMR",
    "growcut-reference": "Grow from seeds (a): on reference, resampled",
    "growcut-target": "Grow from seeds (b): on each target",
    "watershed": "Watershed from markers",
    "nnunet": "nnUNet",
    "nnunet-scribble": "nnUNet-Scribble",
}
SEEDED = {"growcut-reference": GrowCutReferenceMethod, "growcut-target": GrowCutTargetMethod,
          "watershed": WatershedMethod}  # the methods that get background strokes
BASELINE_VERSION = "1"  # bump when a classical baseline changes, so cached results are recomputed


def method_identity(name: str, crossmr_sha: str | None, unet_keys: dict[str, str]) -> str:
    """Cache key of a method's results: weights checksum, U-Net settings or baseline version."""
    if name == "crossmr":
        return f"w{(crossmr_sha or 'none')[:12]}"
    if name in unet_keys:
        return f"u{unet_keys[name]}"
    return f"v{BASELINE_VERSION}"


class LoadedMethod:
    """A method ready to run: networks loaded once; per-case objects for the seeded baselines."""

    def __init__(self, name: str, crossmr_weights: Path | None = None, unet_weights: Path | None = None,
                 threads: int | None = None) -> None:
        self.name = name
        tick = time.perf_counter()
        self.shared = None
        if name == "crossmr":
            from CrossMRLib.methods import create_method

            self.shared = create_method("model", crossmr_weights, threads)
        elif name in ("nnunet", "nnunet-scribble"):
            from .unet import UNetMethod

            self.shared = UNetMethod(unet_weights)
        elif name in ("growcut-reference", "growcut-target"):
            import slicer  # noqa: F401  (the slicer-core import belongs to loading, not to the first study)
        elif name not in SEEDED:
            raise ValueError(f"unknown method {name!r}")
        self.load_s = time.perf_counter() - tick

    def for_case(self, case: Case):
        return SEEDED[self.name](case.background) if self.name in SEEDED else self.shared


def score_case(case: Case, labels: dict[str, np.ndarray]) -> dict[str, dict[int, dict[str, float]]]:
    """DSC and NSD per series and organ, for the organs present in that series' ground truth."""
    scores = {}
    for series in case.series:
        truth = case.truth[series.name]
        organs = [int(o) for o in np.unique(truth) if o > 0]
        scores[series.name] = organ_scores(labels[series.name], truth, series.spacing[::-1], organs=organs)
    return scores


def run_case(method: LoadedMethod, case: Case) -> dict:
    """Segment one study with one method: {"seconds", "scores"}."""
    tick = time.perf_counter()
    result = segment_study(case.reference, case.scribbles, case.targets, method=method.for_case(case))
    seconds = time.perf_counter() - tick
    return {"seconds": seconds, "scores": score_case(case, result.labels)}


def result_path(root: Path, dataset: str, method: str, identity: str, study: str) -> Path:
    return Path(root) / dataset / f"{method}-{identity}" / f"{study}.json"


def run_method(dataset: str, method: str, identity: str, studies: list[str], load_case: Callable[[str], Case],
               results: Path, run_id: str, loader: Callable[[], LoadedMethod],
               on_case: Callable[[str], None] | None = None) -> None:
    """Run `method` on the studies without cached results; write each result and the memory record."""
    todo = [s for s in studies if not result_path(results, dataset, method, identity, s).exists()]
    if not todo:
        return
    cases = [load_case(s) for s in todo]
    release_memory()
    start, start_private = current_mb(), private_mb()
    loaded = loader()
    release_memory()
    loaded_mb, loaded_private = current_mb(), private_mb()
    exact = reset_peak()
    with PrivatePeak() as private_peak:
        for case in cases:
            record = run_case(loaded, case)
            record.update(run=run_id, study=case.study, method=method, dataset=dataset)
            _write_json(result_path(results, dataset, method, identity, case.study), record)
            if on_case is not None:
                on_case(case.study)
    memory = {"start_mb": round(start, 1), "loaded_mb": round(loaded_mb, 1), "peak_mb": round(peak_mb(), 1),
              "reset": exact, "private_start_mb": round(start_private, 1),
              "private_loaded_mb": round(loaded_private, 1), "private_peak_mb": private_peak.mb,
              "load_s": round(loaded.load_s, 3), "run": run_id, "studies": len(cases)}
    _write_json(result_path(results, dataset, method, identity, "_memory"), memory)


def read_results(results: Path, dataset: str, method: str, identity: str, studies: Iterable[str]) -> tuple[list, dict]:
    """Cached per-study records (in study order) and the memory record of one method on one data set."""
    records = []
    for s in studies:
        path = result_path(results, dataset, method, identity, s)
        if path.exists():
            records.append(json.loads(path.read_text()))
    memory_path = result_path(results, dataset, method, identity, "_memory")
    memory = json.loads(memory_path.read_text()) if memory_path.exists() else {}
    return records, memory


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1, default=float))
    tmp.replace(path)
