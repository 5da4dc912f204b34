"""The benchmark's memory measurement: private memory, peak polled from outside the process."""

import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from train.baselines.memory import PrivatePeak, private_mb, release_memory  # noqa: E402

pytestmark = pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="needs Linux /proc")


def test_peak_private_memory_sees_a_short_lived_allocation_inside_the_block():
    release_memory()
    before = private_mb()
    with PrivatePeak() as peak:
        block = np.ones(300 * 2 ** 20 // 8)  # 300 MB, touched, held for 50 ms, then freed
        time.sleep(0.05)
        del block
        release_memory()
    after = private_mb()
    assert peak.mb is not None and peak.mb - before >= 280, (before, peak.mb)
    assert after - before < 100  # it was freed: the peak is not just the level at the end


def test_peak_without_allocation_stays_near_the_current_level():
    release_memory()
    before = private_mb()
    with PrivatePeak() as peak:
        time.sleep(0.02)
    assert abs(peak.mb - before) < 50
