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


# Regression: the scribble-free U-Net scored DSC 0 on both kidneys and the spleen (docs/benchmarks.md before
# #37) because it saw slices in storage order: the generated studies store voxels RAS, LPS or LAS at random,
# so the patient's right lay on either side of the image and left/right organs could not be told apart.

def storage_variants(image: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """The same (K, J, I) anatomy stored LAS (CHAOS), RAS, LPS and transposed, with its IJK-to-RAS matrix."""
    las = np.diag([-1.5, 1.5, 4.0, 1.0])
    ras = np.diag([1.5, 1.5, 4.0, 1.0])
    lps = np.diag([-1.5, -1.5, 4.0, 1.0])
    swapped = np.array([[0, -1.5, 0, 0], [1.5, 0, 0, 0], [0, 0, 4.0, 0], [0, 0, 0, 1.0]])  # i runs A-P, j L-R
    return [(image, las), (image[..., ::-1], ras), (image[:, ::-1], lps), (image.swapaxes(1, 2), swapped)]


def test_reorientation_matches_the_radiological_display_and_undoes_exactly():
    from CrossMRLib.display import radiological
    from train.baselines.orient import display_orientation

    stack = np.random.default_rng(0).random((3, 6, 8))
    for array, matrix in storage_variants(stack):
        turn = display_orientation(matrix)
        shown = turn.apply(array)
        np.testing.assert_array_equal(shown[1], radiological(array[1], matrix))
        np.testing.assert_array_equal(shown, display_orientation(np.diag([-1.5, 1.5, 4.0, 1.0])).apply(stack))
        np.testing.assert_array_equal(turn.undo(shown), array)


def test_training_volumes_are_the_same_whatever_the_storage_orientation():
    from CrossMRLib.model.data import Volume
    from train.baselines.unet_train import train_volume

    labels = np.zeros((2, 16, 16), np.uint8)
    labels[:, 8:12, 2:5], labels[:, 8:12, 11:14] = 2, 3  # right kidney on the image's left (LAS storage)
    image = labels.astype(np.float32) / 4
    made = []
    for (img, matrix), (lab, _) in zip(storage_variants(image), storage_variants(labels)):
        vol = Volume("v", {"t1w": img}, {"t1w": lab}, {"t1w": np.arange(2.0)}, (1.5, 1.5),
                     {"t1w": (matrix, img.shape[1:])})
        made.append(train_volume(vol, "t1w"))
    for other in made[1:]:
        np.testing.assert_array_equal(other.labels, made[0].labels)
        np.testing.assert_array_equal(other.images, made[0].images)
    with pytest.raises(ValueError, match="no geometry"):
        train_volume(Volume("v", {"t1w": image}, {"t1w": labels}, {"t1w": np.arange(2.0)}, (1.5, 1.5)), "t1w")


class IntensityNet(torch.nn.Module):
    """Stands in for a trained U-Net: class = intensity level, and it records what it was shown."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append(x[:, :1].clone())
        levels = torch.arange(5, dtype=x.dtype).view(1, 5, 1, 1) / 4
        return -(x[:, :1] - levels) ** 2


def test_unet_sees_every_series_in_display_orientation_and_answers_in_its_grid(tmp_path):
    from CrossMRLib.pairing import identity_pairing
    from CrossMRLib.series import Series
    from train.baselines.unet import UNetMethod, build_unet, save_unet

    config = UNetConfig(scribble_channels=False, patch=16, base_filters=4, max_filters=8)
    save_unet(build_unet(config), config, tmp_path / "unet.pt", {"steps": 0})
    labels = np.zeros((2, 16, 16), np.uint8)
    labels[:, 3:7, 2:6], labels[:, 9:13, 10:14], labels[:, 2:5, 11:15] = 1, 2, 4
    image = labels.astype(np.float32) / 4
    shown = []
    for (img, matrix), (lab, _) in zip(storage_variants(image), storage_variants(labels)):
        method = UNetMethod(tmp_path / "unet.pt")
        method.model = IntensityNet()
        series = Series(np.ascontiguousarray(img), matrix, "t1w", "t1w")
        out = method.segment_target(series, np.zeros(series.shape, np.uint8), series, identity_pairing(series))
        np.testing.assert_array_equal(out, lab)  # labels come back in the series' own storage order
        shown.append(torch.cat(method.model.seen).numpy())
    for other in shown[1:]:  # and the network saw the same picture every time (it failed before the fix)
        np.testing.assert_array_equal(other, shown[0])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_a_unet_trained_on_the_gpu_loads_and_runs_on_the_cpu(tmp_path):
    from train.baselines.unet import load_unet

    path = train_unet(config(train_device="cuda"), volumes(), tmp_path / "gpu", log=lambda _: None)
    model, loaded, _ = load_unet(path)
    assert loaded.train_device == "cuda" and all(p.device.type == "cpu" for p in model.parameters())
    assert model(torch.rand(1, loaded.in_channels, 32, 32)).shape[-2:] == (32, 32)
