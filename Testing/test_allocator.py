"""`crossmr segment` as a process keeps freed memory in glibc's heap (faster per slice, given back at exit)."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = """
import sys
import numpy as np
from CrossMRLib.allocator import keep_freed_memory
kept = keep_freed_memory() if sys.argv[1] == "keep" else None
def rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
block = np.ones(200 * 2 ** 20, np.uint8)
before = rss_mb()
del block
print(kept, before - rss_mb())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator (Linux)")
def test_freed_arrays_stay_in_the_process_only_when_asked():
    def released(mode: str) -> tuple[str, float]:
        out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True)
        kept, mb = out.stdout.split()
        return kept, float(mb)

    kept, with_setting = released("keep")
    _, by_default = released("default")
    assert kept == "True"
    assert by_default > 150, by_default  # glibc's default returns a freed 200 MB array to the system at once
    assert with_setting < 20, with_setting  # kept in the heap for the next slice's arrays


def test_only_a_segment_process_changes_the_allocator(monkeypatch, tmp_path):
    """In-process calls (tests, other programs importing the CLI) leave the caller's allocator alone."""
    import CrossMRLib.cli as cli

    calls = []
    monkeypatch.setattr(cli, "keep_freed_memory", lambda: calls.append(1))
    args = ["segment", str(tmp_path / "missing.nii.gz"), str(tmp_path / "s.nii.gz"), "-o", str(tmp_path / "out")]
    assert cli.main(args) == 2  # the missing input: a one-line error either way
    assert calls == []
    monkeypatch.setattr(sys, "argv", ["crossmr", *args])
    assert cli.main() == 2
    assert calls == [1]
