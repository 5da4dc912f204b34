"""Where the model runs: `--device auto|cpu|cuda` (torch is imported only when a device is resolved)."""

from __future__ import annotations

from .errors import InputError

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(name: str = "auto"):
    """"auto": the first CUDA GPU when torch sees one, else the CPU; "cpu"; "cuda" (an `InputError` when
    there is none). Returns a `torch.device`."""
    import torch

    if name not in DEVICES:
        raise InputError(f"unknown device {name!r}; choose one of {', '.join(DEVICES)}")
    if name == "cuda" and not torch.cuda.is_available():
        raise InputError("device cuda was asked for but torch sees no CUDA GPU on this machine; use --device cpu "
                         "(or auto), or install a CUDA build of torch")
    return torch.device("cuda" if name != "cpu" and torch.cuda.is_available() else "cpu")
