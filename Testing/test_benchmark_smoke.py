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
                 "Watershed from markers", "nnUNet", "nnUNet-Scribble")

pytest.importorskip("slicer")


def crossmr_weights() -> Path:
    env = os.environ.get("CROSSMR_WEIGHTS")
    return Path(env) if env else ROOT / "Resources" / "Models" / "crossmr_model.pt"


def run_smoke(tmp_path: Path) -> str:
    command = [sys.executable, str(ROOT / "train" / "benchmark.py"), "--smoke", "--threads", "1", "--train-jobs", "2",
               "--cache", str(tmp_path / "cache"), "--out", str(tmp_path / "report")]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=240,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    return (tmp_path / "report" / "benchmarks.md").read_text()


def rerun_in_process(tmp_path: Path) -> str:
    import importlib.util

    import torch

    threads = torch.get_num_threads()
    spec = importlib.util.spec_from_file_location("crossmr_benchmark", ROOT / "train" / "benchmark.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    page = tmp_path / "report" / "benchmarks.md"
    page.unlink()
    try:
        assert module.main(["--smoke", "--threads", "1", "--cache", str(tmp_path / "cache"),
                            "--out", str(tmp_path / "report")]) == 0
    finally:
        torch.set_num_threads(threads)
    return page.read_text()


def table_rows(page: str, kind: str) -> dict[str, list[list[str]]]:
    """Method -> cells of its rows in the "score" (DSC/NSD) or "cost" (time and memory) tables."""
    rows: dict[str, list[list[str]]] = {}
    table = None
    for line in page.splitlines():
        if line.startswith("| Method |"):
            table = "cost" if "seconds / study" in line else "score"
        elif line.startswith("| ") and table == kind:
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows.setdefault(cells[0], []).append(cells[1:])
        elif not line.startswith("|"):
            table = None
    return rows


def test_smoke_benchmark_reports_every_method_and_resumes(tmp_path):
    page = run_smoke(tmp_path)
    rows = table_rows(page, "score")
    expected = list(BASELINE_ROWS)
    if crossmr_weights().is_file():
        expected.append("CrossMR")
    else:
        assert "CrossMR row left out" in page
    assert sorted(rows) == sorted(expected)
    sections = 2 if (CHAOS / "patient_33").is_dir() else 5  # CHAOS dense + sparse, or 5 generated contrasts
    for method, tables in rows.items():
        assert len(tables) == sections, method
        for cells in tables:
            values = [float(v) for cell in cells for v in re.findall(r"\d+\.\d+", cell.split("±")[0])]
            assert len(values) == len(cells) and all(0.0 <= v <= 1.0 for v in values), (method, cells)
    costs = table_rows(page, "cost")
    assert sorted(costs) == sorted(expected)
    for method, tables in costs.items():  # every method has a measured time and peak memory, per data set
        assert len(tables) == (2 if sections == 2 else 1), method
        for cells in tables:
            seconds, peak_mb = float(cells[1].split("±")[0]), float(cells[3])
            assert seconds > 0 and peak_mb > 100, (method, cells)
    assert "Fairness rules" in page and "python train/benchmark.py --smoke" in page
    assert page.count("trained 2 at a time with 1 torch thread(s) each") == 2  # both U-Nets, in parallel
    assert (tmp_path / "report" / "benchmark.png").stat().st_size > 10_000
    summary = load_summary(tmp_path / "report" / SUMMARY_NAME)  # the page's numbers, for a second run's check
    assert sorted(r["row"] for ms in summary["datasets"].values() for r in ms.values()) == \
        sorted(expected * (2 if sections == 2 else 1))
    # second run (in this process, to save an interpreter start): all from the cache, same numbers
    again = rerun_in_process(tmp_path)
    assert "Results from 1 run(s)" in page and "Results from 1 run(s)" in again  # nothing recomputed
    assert table_rows(again, "score") == rows
