"""`train/benchmark.py --smoke` end to end: every method row, sane numbers, a figure, and a resumable cache."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from train.baselines.summary import SUMMARY_NAME, load_summary

ROOT = Path(__file__).resolve().parents[1]
CHAOS = ROOT / ".." / "shared" / "data" / "chaos_t2spir"
BASELINE_ROWS = ("Grow from seeds (a): on reference, resampled", "Grow from seeds (b): on each target",
                 "Watershed from markers", "U-Net (MONAI DynUNet, nnU-Net 2D topology)",
                 "U-Net + scribble channels (MONAI DynUNet, nnU-Net 2D topology)")
REGISTRATION_ROWS = ("Registration (a): true labels transferred", "Registration (b): Grow from seeds transferred")
CROSSMR_ROWS = ("CrossMR",)
CROSSMR_REGISTRATION_ROWS = ("Registration (c): CrossMR transferred",)
GENERATED_CONTRASTS = ("t1w", "t2w", "dwi", "inphase", "opposed")

pytest.importorskip("slicer")


def crossmr_weights() -> Path:
    env = os.environ.get("CROSSMR_WEIGHTS")
    return Path(env) if env else ROOT / "Resources" / "Models" / "crossmr_model.pt"


def run_smoke(tmp_path: Path) -> str:
    command = [sys.executable, str(ROOT / "train" / "benchmark.py"), "--smoke", "--threads", "1", "--train-jobs", "2",
               "--cache", str(tmp_path / "cache"), "--out", str(tmp_path / "report")]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    return (tmp_path / "report" / "benchmarks.md").read_text()


def benchmark_in_process(argv: list[str]) -> int:
    """`train/benchmark.py` main() in this process (saves an interpreter start); torch's thread count restored."""
    import importlib.util

    import torch

    threads = torch.get_num_threads()
    spec = importlib.util.spec_from_file_location("crossmr_benchmark", ROOT / "train" / "benchmark.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    try:
        return module.main(argv)
    finally:
        torch.set_num_threads(threads)


def rerun_in_process(tmp_path: Path) -> str:
    page = tmp_path / "report" / "benchmarks.md"
    page.unlink()
    assert benchmark_in_process(["--smoke", "--threads", "1", "--cache", str(tmp_path / "cache"),
                                 "--out", str(tmp_path / "report")]) == 0
    return page.read_text()


def table_rows(page: str, kind: str) -> dict[str, list[list[str]]]:
    """Method -> cells of its rows in the "score" (DSC/NSD) or "cost" (time and memory) tables."""
    rows: dict[str, list[list[str]]] = {}
    table = None
    for line in page.splitlines():
        if line.startswith("| Method |"):
            table = "glance" if "÷" in line else "cost" if "seconds / study" in line else "score"
        elif line.startswith("| ") and table == kind:
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows.setdefault(cells[0], []).append(cells[1:])
        elif not line.startswith("|"):
            table = None
    return rows


def mean_dsc(cells: list[str]) -> float:
    """The 'mean DSC' cell of a score-table row (the second-to-last column)."""
    return float(cells[-2].strip("*").split("±")[0])


def test_smoke_benchmark_reports_every_method_and_resumes(tmp_path):
    page = run_smoke(tmp_path)
    rows = table_rows(page, "score")
    weights = crossmr_weights().is_file()
    single = list(BASELINE_ROWS) + (list(CROSSMR_ROWS) if weights else [])  # rows on every data set
    multi = single + list(REGISTRATION_ROWS) + (list(CROSSMR_REGISTRATION_ROWS) if weights else [])
    if not weights:
        assert "CrossMR rows left out" in page
    assert sorted(rows) == sorted(multi)
    chaos = (CHAOS / "patient_33").is_dir()
    for method, tables in rows.items():  # CHAOS dense + sparse (one contrast each) where there is CHAOS
        registration = method.startswith("Registration")
        assert len(tables) == 5 + (2 if chaos and not registration else 0), method
        for cells in tables:
            values = [float(v) for cell in cells for v in re.findall(r"\d+\.\d+", cell.split("±")[0])]
            assert len(values) == len(cells) and all(0.0 <= v <= 1.0 for v in values), (method, cells)
    truth = rows["Registration (a): true labels transferred"][-5:]  # the generated study's five contrasts
    assert mean_dsc(truth[0]) == 1.0  # t1w is the reference: its own true labels
    assert all(0.5 < mean_dsc(cells) < 1.0 for cells in truth[1:]), truth  # registered targets: well above 0
    costs = table_rows(page, "cost")
    assert sorted(costs) == sorted(multi)
    for method, tables in costs.items():  # every method has a measured time and peak memory, per data set
        assert len(tables) == (1 if method.startswith("Registration") or not chaos else 3), method
        for cells in tables:
            seconds, peak_mb = float(cells[1].split("±")[0]), float(cells[3])
            assert seconds > 0 and peak_mb > 100, (method, cells)
    assert page.index("## At a glance") < page.index("## Fairness rules") < page.index("## Setup")
    assert "## Registration settings" in page and "python train/benchmark.py --smoke" in page
    if weights:  # one generated sentence per contrast: CrossMR against registration (a), (b), (c)
        for contrast in GENERATED_CONTRASTS:
            line = next(x for x in page.splitlines() if x.startswith(f"- **{contrast}**: CrossMR's mean DSC"))
            assert all(f" {letter} " in line for letter in ("(a)", "(b)", "(c)")), line
    assert page.count("trained 2 at a time with 1 torch thread(s) each") == 2  # both U-Nets, in parallel
    assert (tmp_path / "report" / "benchmark.png").stat().st_size > 10_000
    summary = load_summary(tmp_path / "report" / SUMMARY_NAME)  # the page's numbers, for a second run's check
    assert sorted(r["row"] for ms in summary["datasets"].values() for r in ms.values()) == \
        sorted(multi + (single * 2 if chaos else []))
    # second run (in this process, to save an interpreter start): all from the cache, same numbers
    again = rerun_in_process(tmp_path)
    assert "Results from 1 run(s)" in page and "Results from 1 run(s)" in again  # nothing recomputed
    assert table_rows(again, "score") == rows
    copied = unets_taken_from(tmp_path)  # a second run that copies the trained U-Nets says so
    assert copied["unets"] and all(u["taken_from"] == str(tmp_path / "cache") for u in copied["unets"].values())
    assert {m: u["weights"] for m, u in copied["unets"].items()} == {m: u["weights"] for m, u in summary["unets"].items()}
    assert (tmp_path / "report2" / "benchmarks.md").read_text().count("(not retrained in this run)") == 2


def unets_taken_from(tmp_path: Path) -> dict:
    """`--unet-from`: the U-Nets of the first cache reused by a second one (U-Net rows only); a cache without
    them is refused before any work."""
    from CrossMRLib.errors import InputError

    common = ["--smoke", "--threads", "1", "--methods", "unet", "unet-scribble", "--cache", str(tmp_path / "cache2")]
    with pytest.raises(InputError, match="no trained U-Net .* there"):
        benchmark_in_process([*common, "--unet-from", str(tmp_path / "empty"), "--out", str(tmp_path / "report2")])
    assert benchmark_in_process([*common, "--unet-from", str(tmp_path / "cache"), "--out", str(tmp_path / "report2")]) == 0
    return load_summary(tmp_path / "report2" / SUMMARY_NAME)
