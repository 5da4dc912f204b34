"""The "real contrast never seen in training" row of train/evaluate.py: weights trained with
`train/train.py --no-chaos`, loaded and checked before the long evaluation starts."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from CrossMRLib.errors import InputError  # noqa: E402
from CrossMRLib.methods.crossmr_model import CrossMRModelMethod  # noqa: E402


def shown(path: Path) -> str:
    """`path` relative to the repository when it lies inside it."""
    path = Path(path).resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def real_image_subjects(meta: dict) -> list[str]:
    """CHAOS subjects whose images trained the weights (older weights record them as chaos_train_subjects)."""
    return list(meta.get("chaos_image_subjects", meta.get("chaos_train_subjects", [])))


def label_map_subjects(meta: dict) -> list[str]:
    """CHAOS subjects whose organ label maps trained the weights (as images, or inside synthetic bodies)."""
    return list(meta.get("chaos_label_subjects", real_image_subjects(meta)))


def load_never_seen(path: Path, refine: bool = True) -> tuple[CrossMRModelMethod | None, dict]:
    """(method, report entry). The method is None when the file does not exist (the entry says so). The file
    must match its `.sha256` sidecar (as the shipped weights) and must not have been trained on CHAOS images;
    otherwise `InputError`."""
    path = Path(path)
    if not path.is_file():
        return None, {"weights": shown(path), "measured": False, "reason": f"{shown(path)} does not exist"}
    method = CrossMRModelMethod(weights=path, refine=refine, device="cpu")
    seen = real_image_subjects(method.meta)
    if seen:
        raise InputError(f"{shown(path)} was trained on CHAOS subjects {', '.join(seen)}, so it has seen the real "
                         "contrast; train it with `train/train.py --no-chaos` or pass --no-never-seen")
    return method, {"weights": shown(path), "measured": True, "sha256": method.weights_sha256,
                    "command": method.meta.get("command", ""),
                    "chaos_label_subjects": label_map_subjects(method.meta),
                    "source_shares": method.meta.get("source_shares")}


def skipped(reason: str, path: Path) -> dict:
    """The report entry of a never-seen row that was not measured."""
    return {"weights": shown(path), "measured": False, "reason": reason}
