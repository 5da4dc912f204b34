"""Shipped weights: fp16 state dict + network config in one torch file, checked against its sha256."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import torch

from ..errors import InputError
from .config import ModelConfig
from .network import CrossMRNet

WEIGHTS_FILE = "crossmr_model.pt"


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sidecar(path: Path) -> Path:
    """`<weights>.sha256`: the expected checksum shipped beside the weights."""
    return Path(str(path) + ".sha256")


def save_weights(model: CrossMRNet, path: Path, meta: dict | None = None) -> str:
    """Write fp16 weights + config (+ JSON-like meta) and the sha256 sidecar; returns the sha256."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: (v.half() if v.is_floating_point() else v).cpu().contiguous() for k, v in model.state_dict().items()}
    buffer = io.BytesIO()
    torch.save({"format": "crossmr-weights-1", "config": model.config.to_dict(), "state": state,
                "meta": dict(meta or {})}, buffer)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(buffer.getvalue())
    tmp.replace(path)
    sha = file_sha256(path)
    sidecar(path).write_text(f"{sha}  {path.name}\n")
    return sha


def expected_sha256(path: Path) -> str | None:
    """The checksum recorded in the sidecar, or None when there is no sidecar."""
    side = sidecar(Path(path))
    if not side.exists():
        return None
    text = side.read_text().split()
    return text[0].lower() if text else None


def load_weights(path: Path, sha256: str | None = None) -> tuple[CrossMRNet, dict]:
    """Load weights into a float32 network in eval mode; returns (network, meta).

    The file must match `sha256` (default: its sidecar). Missing, corrupt or mismatching files raise
    `InputError` naming the file and the fix.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"model weights not found at {path}; reinstall CrossMR or pass --weights with a "
                         f"valid weights file")
    want = sha256 or expected_sha256(path)
    if want is None:
        raise InputError(f"no sha256 for the model weights {path} (missing {sidecar(path).name}); "
                         f"reinstall CrossMR or put the checksum file beside the weights")
    got = file_sha256(path)
    if got != want.lower():
        raise InputError(f"model weights {path} are corrupt (sha256 {got[:12]}... expected {want[:12]}...); "
                         f"reinstall CrossMR or download the weights again")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
        model = CrossMRNet(ModelConfig.from_dict(data["config"]))
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in data["state"].items()})
    except Exception as exc:  # unreadable or incompatible file
        raise InputError(f"model weights {path} cannot be read ({type(exc).__name__}); reinstall CrossMR or "
                         f"pass --weights with a CrossMR weights file") from None
    return model.eval(), dict(data.get("meta", {}))
