"""Run the engine in a separate process so Slicer stays responsive (`python -m CrossMRLib.cli segment`).

The inputs of a `PreparedStudy` are written to a temporary folder as NIfTI, the CLI runs with
`--progress`, its `PROGRESS <fraction> <message>` lines drive the GUI, and its
`<series>.labels.nii.gz` outputs come back as {volumeNodeID: labels}. Correction strokes go as
`--strokes s<i> FILE` (a labelmap on that series' grid), a re-run of some series as `--only s<i>`. In Slicer
the interpreter is PythonSlicer; Qt is imported only by `start()` (the non-blocking mode used by the widget).
"""

from __future__ import annotations

import importlib.util
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Callable

import numpy as np

POLL_INTERVAL_MS = 200
ProgressCallback = Callable[[float, str], None]


def engineParentDir() -> Path:
    """The folder holding the `CrossMRLib` package (goes on the child's PYTHONPATH)."""
    spec = importlib.util.find_spec("CrossMRLib")
    if spec is None or spec.origin is None:
        raise RuntimeError("the CrossMRLib package is not installed next to the CrossMR module; reinstall the extension")
    return Path(spec.origin).resolve().parent.parent


def pythonExecutable() -> str:
    """PythonSlicer inside Slicer (the launcher sets up Slicer's Python), else this interpreter."""
    try:
        import slicer

        app = slicer.app
    except (ImportError, AttributeError):
        return sys.executable
    found = shutil.which("PythonSlicer")
    if found:
        return found
    candidate = Path(app.applicationDirPath()) / ("PythonSlicer.exe" if os.name == "nt" else "PythonSlicer")
    if candidate.exists():
        return str(candidate)
    raise RuntimeError("PythonSlicer was not found next to Slicer; reinstall Slicer")


class SegmentationProcess:
    """One background run of the engine on a prepared study."""

    def __init__(self, prepared, method: str = "auto", weights: str | Path | None = None,
                 threads: int | None = None, python: str | None = None, device: str = "auto",
                 joint: bool = True) -> None:
        self.prepared = prepared
        self.device = device
        self.joint = joint
        self.method = method
        self.weights = weights
        self.threads = threads
        self.python = python or pythonExecutable()
        self.warnings: list[str] = []
        self.proc: subprocess.Popen | None = None
        self._folder: Path | None = None
        self._lines: queue.Queue = queue.Queue()
        self._stderr: list[str] = []
        self._cancelled = False
        self._timer = None
        self._readers: list[threading.Thread] = []

    # ------------------------------------------------------------------ running
    def command(self) -> list[str]:
        """Write the inputs and return the command line (inputs are named s0 = reference, s1...)."""
        from CrossMRLib.io.writers import write_labels_nifti, write_series_nifti

        self._folder = Path(tempfile.mkdtemp(prefix="CrossMR-"))
        inputs = []
        for index, series in enumerate(self.prepared.series):
            inputs.append(write_series_nifti(series, self._folder / f"s{index}.nii.gz"))
        scribbles = write_labels_nifti(self.prepared.scribbles, self.prepared.reference, self._folder / "scribbles.nii.gz")
        command = [self.python, "-m", "CrossMRLib.cli", "segment", str(inputs[0]), str(scribbles),
                   *(str(p) for p in inputs[1:]), "-o", str(self._folder / "out"), "--progress",
                   "--method", self.method]
        for index, series in enumerate(self.prepared.series):
            strokes = self.prepared.strokes.get(series.name)
            if strokes is not None:
                path = write_labels_nifti(strokes, series, self._folder / f"s{index}.strokes.nii.gz")
                command += ["--strokes", f"s{index}", str(path)]
            if self.prepared.only is not None and series.name in self.prepared.only:
                command += ["--only", f"s{index}"]
        if self.weights:
            command += ["--weights", str(self.weights)]
        if self.threads:
            command += ["--threads", str(int(self.threads))]
        if self.device != "auto":
            command += ["--device", self.device]
        if not self.joint:
            command.append("--separate-series")
        return command

    def _launch(self) -> None:
        environment = dict(os.environ)
        environment["PYTHONPATH"] = os.pathsep.join(p for p in (str(engineParentDir()), environment.get("PYTHONPATH")) if p)
        environment["PYTHONUNBUFFERED"] = "1"
        options = {"start_new_session": True} if os.name != "nt" else \
            {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP | getattr(subprocess, "CREATE_NO_WINDOW", 0)}
        self.proc = subprocess.Popen(self.command(), env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, errors="replace", **options)
        self._readers = [threading.Thread(target=self._read, args=(stream, kind), daemon=True)
                         for stream, kind in ((self.proc.stdout, "out"), (self.proc.stderr, "err"))]
        for reader in self._readers:
            reader.start()

    def _joinReaders(self) -> None:
        """Wait (briefly) until the reader threads have handed over the process's last lines."""
        for reader in self._readers:
            reader.join(timeout=5)

    def _read(self, stream, kind: str) -> None:
        for line in iter(stream.readline, ""):
            self._lines.put((kind, line.rstrip("\n")))
        stream.close()

    def _drain(self, onProgress: ProgressCallback | None) -> None:
        while True:
            try:
                kind, line = self._lines.get_nowait()
            except queue.Empty:
                return
            if kind == "out" and line.startswith("PROGRESS "):
                parts = line.split(" ", 2)
                try:
                    fraction = float(parts[1])
                except (IndexError, ValueError):
                    continue
                if onProgress is not None:
                    onProgress(fraction, parts[2] if len(parts) > 2 else "")
            elif kind == "err":
                self._stderr.append(line)
                if line.startswith("warning: ") and "the study median" not in line:  # the logic checks volumes itself
                    self.warnings.append(line[len("warning: "):])

    def runBlocking(self, onProgress: ProgressCallback | None = None,
                    cancel: Callable[[], bool] | None = None) -> dict:
        """Run to the end in this thread (scripts, tests); returns {volumeNodeID: labels}."""
        import time

        self._launch()
        try:
            while self.proc.poll() is None:
                self._drain(onProgress)
                if cancel is not None and cancel():
                    self.cancel()
                time.sleep(POLL_INTERVAL_MS / 1000)
            self.proc.wait()
            self._joinReaders()
            self._drain(onProgress)
            return self._results()
        finally:
            self.cleanup()

    def start(self, onProgress: ProgressCallback, onFinished: Callable[[dict | None, BaseException | None], None]) -> None:
        """Start without blocking: a Qt timer reports progress, then `onFinished(labels, error)` on the main thread."""
        import qt

        self._launch()
        self._timer = qt.QTimer()
        self._timer.setInterval(POLL_INTERVAL_MS)

        def poll() -> None:
            self._drain(onProgress)
            if self.proc.poll() is None:
                return
            self._timer.stop()
            self._joinReaders()
            self._drain(onProgress)
            labels, error = None, None
            try:
                labels = self._results()
            except BaseException as exc:  # handed to the GUI, which shows it
                error = exc
            finally:
                self.cleanup()
            onFinished(labels, error)

        self._timer.connect("timeout()", poll)
        self._timer.start()

    def isRunning(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def cancel(self) -> None:
        """Stop the engine process and its children; the run then ends with `Cancelled`."""
        self._cancelled = True
        if not self.isRunning():
            return
        try:
            import psutil

            parent = psutil.Process(self.proc.pid)
            for child in parent.children(recursive=True):
                child.kill()
            parent.kill()
        except ImportError:
            if os.name == "nt":
                subprocess.run(["taskkill", "/F", "/T", "/PID", str(self.proc.pid)], capture_output=True)
            else:
                os.killpg(os.getpgid(self.proc.pid), signal.SIGKILL)
        except Exception:  # already gone
            pass

    # ------------------------------------------------------------------ results
    def _results(self) -> dict:
        from CrossMRLib.errors import Cancelled, InputError

        code = self.proc.returncode
        if self._cancelled:
            raise Cancelled()
        errors = [line.split("error: ", 1)[1] for line in self._stderr if "error: " in line]  # also argparse's
        if code == 2 and errors:
            raise InputError(errors[-1])
        if code == 130:
            raise Cancelled()
        if code != 0:
            tail = "\n".join(self._stderr[-15:])
            raise RuntimeError(f"the CrossMR engine stopped with exit code {code}:\n{tail}")
        return self.readLabels(self._folder / "out")

    def readLabels(self, folder: Path) -> dict:
        """{volumeNodeID: uint8 labels} from the CLI's `s<i>.labels.nii.gz` files (checked against each grid); each
        series to write must have one (with `only`, the series segmented with them come back too)."""
        from CrossMRLib.io.readers import read_series

        labels = {}
        required = {node.GetID() for node in self.prepared.outputVolumes}
        for index, (node, series) in enumerate(zip(self.prepared.volumes, self.prepared.series)):
            path = folder / f"s{index}.labels.nii.gz"
            if not path.exists() and node.GetID() not in required:
                continue
            if not path.exists():
                raise RuntimeError(f"the CrossMR engine wrote no result for '{node.GetName()}' ({path.name})")
            result = read_series(path)
            if result.shape != series.shape or np.abs(result.ijk_to_ras - series.ijk_to_ras).max() > 1e-3:
                raise RuntimeError(f"the result for '{node.GetName()}' is not on that series' grid")
            labels[node.GetID()] = np.asarray(result.array, dtype=np.uint8)
        return labels

    def cleanup(self) -> None:
        """Remove the temporary folder."""
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None
