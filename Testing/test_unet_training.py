"""The benchmark U-Nets train reproducibly: a step budget gives the same weights run after run, resumed or not."""

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from train.baselines.unet import UNetConfig  # noqa: E402
from train.baselines.unet_train import TrainVolume, train_unet  # noqa: E402

STEPS = 6


def volumes() -> list[TrainVolume]:
    """Two small volumes with four blob organs on a noisy background."""
    rng = np.random.default_rng(3)
    out = []
    for v in range(2):
        labels = np.zeros((4, 32, 32), np.uint8)
        for organ, (r, c) in enumerate([(8, 8), (8, 22), (22, 8), (22, 22)], start=1):
            labels[1:3, r - 4 + v:r + 4, c - 4:c + 4 - v] = organ
        images = (0.2 + 0.15 * labels + 0.05 * rng.standard_normal(labels.shape)).clip(0, 1).astype(np.float32)
        out.append(TrainVolume(f"blob{v}", images, labels, (1.5, 1.5)))
    return out


def config(**kw) -> UNetConfig:
    return UNetConfig(scribble_channels=True, patch=32, base_filters=4, max_filters=8, batch=2,
                      max_steps=STEPS, **kw)


def weights(path: Path) -> dict:
    data = torch.load(path, map_location="cpu", weights_only=False)
    assert data["meta"]["steps"] == STEPS
    return data["state"]


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


class Stop(Exception):
    pass


def test_a_step_budget_trains_the_same_network_twice_and_through_a_resume(tmp_path):
    torch.set_num_threads(1)
    data = volumes()
    first = weights(train_unet(config(), data, tmp_path / "a", log=lambda _: None))
    second = weights(train_unet(config(), data, tmp_path / "b", log=lambda _: None))
    assert same(first, second)

    def interrupt(fraction: float) -> None:  # the user stops the benchmark half-way
        if fraction >= 0.5:
            raise Stop

    with pytest.raises(Stop):
        train_unet(config(), data, tmp_path / "c", log=lambda _: None, progress=interrupt, checkpoint_minutes=0)
    assert (tmp_path / "c" / "last.pt").exists() and not (tmp_path / "c" / "unet.pt").exists()
    logs = []
    resumed = weights(train_unet(config(), data, tmp_path / "c", log=logs.append))
    assert any("resumed at step 3" in line for line in logs)
    assert same(first, resumed)

    other_seed = weights(train_unet(config(seed=1), data, tmp_path / "d", log=lambda _: None))
    assert not same(first, other_seed)  # the check can fail: a different stream gives a different network
