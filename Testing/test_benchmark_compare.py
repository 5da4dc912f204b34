"""A second benchmark run is checked against the first: the numbers summary and `train/compare_benchmarks.py`."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from train.baselines.report import MethodResult
from train.baselines.summary import compare, comparison_page, load_summary, summarise, write_summary

ROOT = Path(__file__).resolve().parents[1]


def record(study: str, dice: dict[int, float], seconds: float = 2.0, run: str = "r1") -> dict:
    return {"study": study, "run": run, "seconds": seconds,
            "scores": {"t2w": {str(o): {"dice": d, "nsd": d} for o, d in dice.items()}}}


def results(shift: float = 0.0, slow: float = 1.0, run: str = "r1", rss: float = 1300.0,
            private: float = 1000.0) -> dict[str, list[MethodResult]]:
    """Two methods on three studies; liver 0.90/0.92/0.94 and spleen 0.80/0.85/0.90 (+ `shift`)."""
    crossmr = [record(s, {1: 0.90 + 0.02 * i + shift, 4: 0.80 + 0.05 * i + shift}, 2.0 * slow, run)
               for i, s in enumerate(("a", "b", "c"))]
    unet = [record(s, {1: 0.7, 4: 0.6}, 1.0, run) for s in ("a", "b", "c")]
    return {"phantom": [MethodResult("crossmr", "CrossMR", crossmr, {"peak_mb": rss, "private_peak_mb": private}),
                        MethodResult("nnunet", "nnUNet", unet, {"peak_mb": 1200.0, "private_peak_mb": 900.0})]}


def test_summary_holds_the_page_numbers_with_counts(tmp_path):
    path = write_summary(results(), tmp_path, "python train/benchmark.py")
    summary = load_summary(path)
    crossmr = summary["datasets"]["phantom"]["crossmr"]
    assert crossmr["scores"]["t2w"]["1"]["dice"] == pytest.approx({"mean": 0.92, "sd": 0.02, "n": 3})
    assert crossmr["scores"]["t2w"]["mean"]["dice"]["mean"] == pytest.approx((0.92 + 0.85) / 2)
    assert crossmr["seconds"]["mean"] == pytest.approx(2.0)
    assert crossmr["peak_mb"] == 1000.0 and crossmr["peak_rss_mb"] == 1300.0  # private memory is the one checked
    assert summary["runs"] == ["r1"] and summary["command"] == "python train/benchmark.py"


def test_identical_runs_agree_and_a_real_change_is_flagged():
    first = summarise(results(), "cmd")
    checks, missing = compare(first, summarise(results(run="r2"), "cmd"))
    assert checks and all(c.ok for c in checks) and not missing
    # Liver SD 0.02 over 3 studies: 2 standard errors of the difference = 0.033; spleen SD 0.05 -> 0.082.
    small = {(c.method, c.what): c.ok for c in compare(first, summarise(results(shift=0.03), "cmd"))[0]}
    assert small[("crossmr", "t2w 1 DSC")] and small[("crossmr", "t2w 4 DSC")]
    large = {(c.method, c.what): c.ok for c in compare(first, summarise(results(shift=0.05), "cmd"))[0]}
    assert not large[("crossmr", "t2w 1 DSC")] and large[("crossmr", "t2w 4 DSC")]
    assert large[("nnunet", "t2w 1 DSC")]
    slow = {(c.method, c.what): c.ok for c in compare(first, summarise(results(slow=2.0), "cmd"))[0]}
    assert not slow[("crossmr", "seconds / study")] and slow[("nnunet", "seconds / study")]
    # shared-library pages (RSS) vary with the page cache and are not checked; private memory is
    page_cache = compare(first, summarise(results(rss=1050.0), "cmd"))[0]
    assert all(c.ok for c in page_cache)
    grown = {(c.method, c.what): c.ok for c in compare(first, summarise(results(private=1300.0), "cmd"))[0]}
    assert not grown[("crossmr", "peak private MB")] and grown[("nnunet", "peak private MB")]


def test_a_method_missing_from_one_run_is_reported():
    first = summarise(results(), "cmd")
    second = summarise({"phantom": results()["phantom"][:1]}, "cmd")
    _, missing = compare(first, second)
    assert missing == ["phantom: nnUNet is only in the first run"]


def test_memory_measured_on_part_of_a_resumed_run_is_not_compared():
    first = summarise(results(), "cmd")
    resumed = results(run="r2", private=700.0)
    resumed["phantom"][0].memory["studies"] = 1  # the run was stopped and resumed with 1 of 3 studies left
    checks, missing = compare(first, summarise(resumed, "cmd"))
    assert ("crossmr", "peak private MB") not in {(c.method, c.what) for c in checks}
    assert len(missing) == 1 and missing[0].startswith("phantom: CrossMR peak private MB not compared: the second "
                                                       "run measured it over 1 of 3 studies")
    whole = results(run="r2")
    whole["phantom"][0].memory["studies"] = 3
    checks, missing = compare(first, summarise(whole, "cmd"))
    assert ("crossmr", "peak private MB") in {(c.method, c.what) for c in checks} and not missing


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "train" / "compare_benchmarks.py"), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_cli_verdict_page_and_exit_status(tmp_path):
    a = write_summary(results(), tmp_path / "a", "cmd")
    a2 = write_summary(results(run="r2"), tmp_path / "a2", "cmd")
    b = write_summary(results(shift=0.05, run="r2"), tmp_path / "b", "cmd")
    same = run_cli(str(a), str(a2), "--out", str(tmp_path / "same.md"))
    assert same.returncode == 0, same.stderr
    assert "16 of 16 numbers within noise" in (tmp_path / "same.md").read_text()
    reused = run_cli(str(a), str(a))  # a "second run" that only read the first run's cache checks nothing
    assert reused.returncode == 2 and "reused cached results" in reused.stderr
    changed = run_cli(str(a), str(b))
    assert changed.returncode == 1
    assert "phantom: CrossMR t2w 1 DSC: 0.920 -> 0.970" in changed.stdout


def test_the_page_says_whether_the_second_run_retrained_its_u_nets():
    unet = {"row": "U-Net", "weights": "ab12", "steps": 1100, "minutes": 75.0, "taken_from": None}
    first = summarise(results(), "cmd", {"unet": unet})
    retrained = summarise(results(run="r2"), "cmd", {"unet": {**unet, "minutes": 80.0}})
    page = comparison_page(first, retrained, *compare(first, retrained))
    assert "- U-Net: the same weights (digest ab12 / ab12); trained in each run (1100 steps: 75.0 / 80.0 min)." in page
    copied = summarise(results(run="r2"), "cmd", {"unet": {**unet, "weights": "cd34", "taken_from": "cache/x"}})
    page = comparison_page(first, copied, *compare(first, copied))
    assert "**different weights** (digest ab12 / cd34); the second run took them from cache/x (not retrained)" in page


def test_cli_bad_input_is_one_line(tmp_path):
    missing = run_cli(str(tmp_path / "nope.json"), str(tmp_path / "nope2.json"))
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and "no such file" in missing.stderr
    (tmp_path / "page.md").write_text("# not json")
    wrong = run_cli(str(tmp_path / "page.md"), str(tmp_path / "page.md"))  # unreadable before any other check
    assert wrong.returncode == 2 and "not JSON" in wrong.stderr and "Traceback" not in wrong.stderr
    (tmp_path / "other.json").write_text(json.dumps({"hello": 1}))
    other = run_cli(str(tmp_path / "other.json"), str(tmp_path / "other.json"))
    assert other.returncode == 2 and "not a benchmark summary" in other.stderr


def test_a_summary_from_an_older_benchmark_is_refused_with_the_reason(tmp_path):
    path = write_summary(results(), tmp_path, "cmd")
    old = json.loads(path.read_text())
    old["version"] = 1  # peak memory was resident set size then: not comparable with private memory
    path.write_text(json.dumps(old))
    with pytest.raises(ValueError, match="older benchmark.py .*compare two runs of the same"):
        load_summary(path)
