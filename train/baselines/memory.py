"""Memory of the process running a method (MB): resident set size and its private part.

Resident set size (RSS) counts the pages of shared libraries the process has touched; how many depends
on the page cache (two runs of the same code differed by 240 MB before a method was even loaded).
Private memory (anonymous resident pages: Python objects, arrays, network weights and activations) is
what a method allocates, and what a second run reproduces. Its peak is polled from a separate process
every 2 ms, which also sees inside long C++ calls that hold Python's GIL (VTK, SimpleITK).
"""

from __future__ import annotations

import ctypes
import gc
import os
import resource
import subprocess
import sys
from pathlib import Path

POLL_SECONDS = 0.002
_POLLER = r"""
import os, select, sys
statm, page, peak = "/proc/%s/statm" % sys.argv[1], os.sysconf("SC_PAGE_SIZE"), 0
print("ready", flush=True)
while True:
    done = select.select([sys.stdin], [], [], float(sys.argv[2]))[0]
    with open(statm) as f:
        fields = f.read().split()
    peak = max(peak, int(fields[1]) - int(fields[2]))  # resident - file-backed/shared = private
    if done:
        break
print(peak * page / 2 ** 20, flush=True)
"""


def _status_mb(field: str) -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return float(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def release_memory() -> None:
    """Free what Python and the C allocator hold, so the next method starts from a clean slate."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark (False where that is not possible)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def current_mb() -> float:
    """Resident set size now."""
    value = _status_mb("VmRSS")
    return value if value is not None else 0.0


def private_mb() -> float:
    """Private (anonymous) resident memory now."""
    value = _status_mb("RssAnon")
    return value if value is not None else 0.0


def peak_mb() -> float:
    """The kernel's resident-set high-water mark."""
    value = _status_mb("VmHWM")
    return value if value is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class PrivatePeak:
    """`with PrivatePeak() as p: ...` then `p.mb`: peak private memory of this process during the block
    (None where /proc is missing)."""

    def __init__(self, interval_s: float = POLL_SECONDS) -> None:
        self.interval_s = interval_s
        self.mb: float | None = None
        self._proc: subprocess.Popen | None = None

    def __enter__(self) -> "PrivatePeak":
        if Path(f"/proc/{os.getpid()}/statm").exists():
            self._proc = subprocess.Popen([sys.executable, "-S", "-c", _POLLER, str(os.getpid()), str(self.interval_s)],
                                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            self._proc.stdout.readline()  # polling has started
        return self

    def __exit__(self, *exc) -> None:
        if self._proc is not None:
            out, _ = self._proc.communicate("")  # end of input stops the poller after one last sample
            self.mb = round(float(out.strip()), 1) if out.strip() else None
