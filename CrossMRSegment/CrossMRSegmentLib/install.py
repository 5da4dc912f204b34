"""Dependencies of CrossMR inside Slicer: PyTorch through the PyTorch extension, the rest with pip.

Nothing is installed at import time or in a constructor: the widget calls `ensureDependencies` when the
user presses Apply, on the main thread, and every install is confirmed by the user first.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import re
from pathlib import Path
from typing import Callable

REQUIREMENTS = Path(__file__).resolve().parents[1] / "Resources" / "requirements.txt"
TORCH_REQUIREMENT = ">=2.1"


def readRequirements(path: str | Path = REQUIREMENTS) -> list[str]:
    """Requirement lines of a requirements.txt (comments, blank lines and pip options skipped)."""
    lines = []
    for line in Path(path).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            lines.append(line)
    return lines


def _satisfied(requirement: str) -> bool:
    """True when the requirement is installed at an acceptable version (without importing it)."""
    try:
        from packaging.requirements import Requirement
    except ImportError:  # no `packaging`: check presence only
        name = re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0]
        try:
            importlib.metadata.version(name)
            return True
        except importlib.metadata.PackageNotFoundError:
            return False
    parsed = Requirement(requirement)
    if parsed.marker is not None and not parsed.marker.evaluate():
        return True
    try:
        installed = importlib.metadata.version(parsed.name)
    except importlib.metadata.PackageNotFoundError:
        return False
    return parsed.specifier.contains(installed, prereleases=True)


def missingRequirements(requirements: list[str] | None = None) -> list[str]:
    """The requirements (default: Resources/requirements.txt) that are not installed at a good version."""
    return [r for r in (readRequirements() if requirements is None else requirements) if not _satisfied(r)]


def torchInstalled() -> bool:
    """True when PyTorch is installed (checked without importing it)."""
    return importlib.util.find_spec("torch") is not None


def dependencyStatus() -> str:
    """One line for the GUI: what is missing, or that everything is installed."""
    missing = ([] if torchInstalled() else ["torch (PyTorch extension)"]) + missingRequirements()
    return "all dependencies installed" if not missing else "to be installed on first Apply: " + ", ".join(missing)


def ensureDependencies(confirm: Callable[[str], bool]) -> bool:
    """Install what is missing after asking; True when everything is available, False if the user declined.

    Raises `CrossMRLib.errors.InputError` when the PyTorch extension is missing (the user must install it
    from the Extensions Manager). Call on the main thread.
    """
    from CrossMRLib.errors import InputError

    if not torchInstalled():
        try:
            import PyTorchUtils
        except ImportError as exc:
            raise InputError("CrossMR needs PyTorch: install the 'PyTorch' extension in the Extensions Manager, "
                             "restart Slicer and press Apply again") from exc
        if PyTorchUtils.PyTorchUtilsLogic().installTorch(askConfirmation=True,
                                                         torchVersionRequirement=TORCH_REQUIREMENT) is None:
            return False
    missing = missingRequirements()
    if not missing:
        return True
    try:
        packaging = importlib.import_module("slicer.packaging")
        pipEnsure = getattr(packaging, "pip_ensure", None)
    except ImportError:
        pipEnsure = None
    if pipEnsure is not None:  # Slicer >= 5.11: asks the user, installs, offers a restart
        try:
            pipEnsure(missing, requester="CrossMR")
        except RuntimeError:  # the user declined
            return False
        return True
    if not confirm("CrossMR needs these Python packages, which will now be downloaded and installed "
                   f"(this can take a few minutes):\n\n{', '.join(missing)}\n\nInstall them?"):
        return False
    import slicer

    slicer.util.pip_install(missing)
    importlib.invalidate_caches()
    still = missingRequirements(missing)
    if still:
        raise RuntimeError(f"these packages could not be installed: {', '.join(still)}; see the Python console")
    return True
