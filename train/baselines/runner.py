"""Run one method over the cases of one data set: same pipeline, timing, peak memory, scores, result cache.

Every method goes through `CrossMRLib.pipeline.segment_study` with the case's reference, scribbles and
targets. Networks are loaded once before the studies (load time recorded apart); a study's time is the
wall time of `segment_study` for all its series. Memory (MB, see `memory.py`), each as resident set size
and as its private part (`private_*`): `start` before the method is loaded (after freeing what earlier
work left), `loaded` after loading, `peak` while it segments (RSS: the kernel's high-water mark, reset
after loading; private: polled); so peak - loaded is the working memory of segmenting.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from CrossMRLib.metrics import organ_scores
from CrossMRLib.pairing import identity_pairing
from CrossMRLib.pipeline import segment_study

from .cases import Case
from .growcut import GrowCutReferenceMethod, GrowCutTargetMethod
from .memory import PrivatePeak, current_mb, peak_mb, private_mb, release_memory, reset_peak
from .registration import SETTINGS as REGISTRATION_SETTINGS
from .registration import RegisteredMethod
from .unet import PLAIN_ROW, SCRIBBLE_ROW
from .watershed import WatershedMethod

UNETS = ("unet", "unet-scribble")
REGISTRATION = ("registration-truth", "registration-growcut", "registration-crossmr")  # need target series
METHODS = ("crossmr", "growcut-reference", "growcut-target", "watershed", *UNETS, *REGISTRATION)
ROW_NAMES = {
    "crossmr": "CrossMR",
    "growcut-reference": "Grow from seeds (a): on reference, resampled",
    "growcut-target": "Grow from seeds (b): on each target",
    "watershed": "Watershed from markers",
    "unet": PLAIN_ROW,
    "unet-scribble": SCRIBBLE_ROW,
    "registration-truth": "Registration (a): true labels transferred",
    "registration-growcut": "Registration (b): Grow from seeds transferred",
    "registration-crossmr": "Registration (c): CrossMR transferred",
}
SEEDED = {"growcut-reference": GrowCutReferenceMethod, "growcut-target": GrowCutTargetMethod,
          "watershed": WatershedMethod}  # the methods that get background strokes (registration (b) too)
BASELINE_VERSION = "1"  # bump when a classical baseline changes, so cached results are recomputed
REGISTRATION_VERSION = hashlib.sha1(REGISTRATION_SETTINGS.key().encode()).hexdigest()[:8]


def method_identity(name: str, crossmr_sha: str | None, unet_keys: dict[str, str]) -> str:
    """Cache key of a method's results: weights checksum, U-Net settings, registration settings or
    baseline version."""
    if name == "crossmr":
        return f"w{(crossmr_sha or 'none')[:12]}"
    if name in unet_keys:
        return f"u{unet_keys[name]}"
    if name == "registration-crossmr":
        return f"r{REGISTRATION_VERSION}w{(crossmr_sha or 'none')[:12]}"
    if name in REGISTRATION:
        return f"r{REGISTRATION_VERSION}v{BASELINE_VERSION}"
    return f"v{BASELINE_VERSION}"


class LoadedMethod:
    """A method ready to run: networks loaded once; per-case objects for the seeded baselines."""

    def __init__(self, name: str, crossmr_weights: Path | None = None, unet_weights: Path | None = None,
                 threads: int | None = None) -> None:
        self.name, self.threads = name, threads
        tick = time.perf_counter()
        self.shared = None
        if name in ("crossmr", "registration-crossmr"):
            from CrossMRLib.methods import create_method

            self.shared = create_method("model", crossmr_weights, threads)
        elif name in UNETS:
            from .unet import UNetMethod

            self.shared = UNetMethod(unet_weights)
        elif name in ("growcut-reference", "growcut-target", "registration-growcut"):
            import slicer  # noqa: F401  (the slicer-core import belongs to loading, not to the first study)
        elif name not in SEEDED and name not in REGISTRATION:
            raise ValueError(f"unknown method {name!r}")
        self.load_s = time.perf_counter() - tick

    def for_case(self, case: Case):
        """The object `segment_study` runs for this case (per-case for the seeded and registration rows)."""
        if self.name in SEEDED:
            return SEEDED[self.name](case.background)
        if self.name == "registration-truth":
            truth = case.truth[case.reference.name]
            return RegisteredMethod(lambda reference, scribbles: truth, threads=self.threads)
        if self.name == "registration-growcut":
            return RegisteredMethod(GrowCutReferenceMethod(case.background).reference_labels, threads=self.threads)
        if self.name == "registration-crossmr":
            model = self.shared
            return RegisteredMethod(lambda reference, scribbles: model.segment_target(
                reference, scribbles, reference, identity_pairing(reference)), threads=self.threads)
        return self.shared


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
    segmenter = method.for_case(case)
    tick = time.perf_counter()
    result = segment_study(case.reference, case.scribbles, case.targets, method=segmenter)
    seconds = time.perf_counter() - tick
    record = {"seconds": seconds, "scores": score_case(case, result.labels)}
    if isinstance(segmenter, RegisteredMethod):  # of which registering the targets
        record["registration_s"] = float(sum(segmenter.seconds.values()))
    return record


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
