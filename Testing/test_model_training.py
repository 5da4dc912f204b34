"""A short training run on small generated data lowers the loss; checkpoints resume."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from CrossMRLib.model.config import ModelConfig
from CrossMRLib.model.data import PairSampler, Volume
from CrossMRLib.model.losses import crossmr_loss
from CrossMRLib.model.network import CrossMRNet
from CrossMRLib.model.training import TrainSettings, train

ROOT = Path(__file__).resolve().parents[1]

TINY = ModelConfig(input_size=64, embed_dim=16, depths=(1, 1, 1, 1), hidden_dim=32, num_queries=3, num_points=4)


def blob_volume(seed: int, slices: int = 8, size: int = 64) -> Volume:
    """Four bright ellipses (organs 1..4) on a dark body, shifting slightly from slice to slice."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size] / size
    images = np.zeros((slices, size, size), np.float32)
    labels = np.zeros((slices, size, size), np.uint8)
    centres = [(0.45, 0.3), (0.65, 0.3), (0.65, 0.72), (0.4, 0.75)]
    radii = [(0.2, 0.16), (0.07, 0.06), (0.07, 0.06), (0.1, 0.08)]
    for k in range(slices):
        body = ((yy - 0.5) / 0.42) ** 2 + ((xx - 0.5) / 0.46) ** 2 < 1
        images[k][body] = 0.3
        for o, ((cy, cx), (ry, rx)) in enumerate(zip(centres, radii), start=1):
            if o in (2, 3) and k in (0, slices - 1):
                continue  # kidneys absent from the end slices
            cy += rng.normal(0, 0.01)
            inside = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 < 1
            labels[k][inside] = o
            images[k][inside] = 0.45 + 0.12 * o
        images[k] += rng.normal(0, 0.03, (size, size)).astype(np.float32)
    images = np.clip(images, 0, 1)
    return Volume(f"blobs_{seed}", {"t": images}, {"t": labels}, {"t": np.arange(slices) * 5.0}, (4.0, 4.0))


def fixed_loss(model: CrossMRNet, batch: dict) -> float:
    with torch.no_grad():
        preds, valid = model(batch["reference"], batch["scribbles"], batch["target"], torch.Generator().manual_seed(0))
        return float(crossmr_loss(preds, valid, batch["masks"])[0])


def test_short_training_lowers_the_loss_and_resumes(tmp_path):
    torch.set_num_threads(1)
    volumes = [blob_volume(1), blob_volume(2)]
    batch = PairSampler([blob_volume(3)], 64, seed=5).batch(8)
    torch.manual_seed(0)
    before = fixed_loss(CrossMRNet(TINY), batch)  # train() starts from the same seeded init
    settings = TrainSettings(out_dir=tmp_path, steps=40, batch=4, lr=2e-3, warmup_steps=5, log_every=10,
                             model=TINY)
    result = train(settings, volumes, log=lambda m: None)
    after = fixed_loss(result["model"].eval(), batch)
    assert result["steps"] == 40
    assert after < 0.8 * before, (before, after)
    settings.steps = 45
    again = train(settings, volumes, log=lambda m: None)  # resumes from last.pt: only 5 more steps
    assert again["steps"] == 45 and len(again["history"]) == 4


def test_a_step_budgeted_run_gives_the_same_weights_again(tmp_path):
    """The shipped weights are trained for a step budget so that their command reproduces them bit for bit."""
    torch.set_num_threads(1)
    volumes = [blob_volume(1), blob_volume(2)]

    def weights(name: str, seed: int = 0) -> dict:
        settings = TrainSettings(out_dir=tmp_path / name, steps=12, batch=4, lr=2e-3, warmup_steps=3, log_every=4,
                                 model=TINY, seed=seed)
        return train(settings, volumes, log=lambda m: None)["model"].state_dict()

    first, second, changed = weights("first"), weights("second"), weights("other-seed", seed=1)
    assert first.keys() == second.keys()
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert not all(torch.equal(first[k], changed[k]) for k in changed)


def test_sampler_teaches_absence_just_past_an_organs_end():
    """Pairs aimed past an organ's end have that organ on the reference slice (so it gets scribbled) and
    not on the target: the case where a user expects the organ to come out empty (lung bases, pelvis)."""
    vol = blob_volume(4, slices=16)
    for lab in vol.labels.values():
        lab[:3] = 0
        lab[-3:] = 0  # every organ ends inside the volume
    vol.organ_slices["t"] = np.arange(3, 13)
    sampler = PairSampler([vol], 64, seed=3)
    labels = vol.labels["t"]
    for _ in range(100):
        k_ref, k_tgt = sampler._beyond_end(vol, "t", "t")
        assert 1 <= abs(k_tgt - k_ref) <= 7
        ended = [o for o in range(1, 5) if (labels[k_ref] == o).any() and not (labels[k_tgt] == o).any()]
        assert ended, (k_ref, k_tgt)


def test_an_ema_run_exports_the_weight_average_and_resumes_it(tmp_path):
    """--ema exports the average (not the last step, which goes beside it), and a resumed run continues the
    average instead of starting it again."""
    from CrossMRLib.model.training import last_step_path
    from CrossMRLib.model.weights import load_weights

    torch.set_num_threads(1)
    volumes = [blob_volume(1), blob_volume(2)]
    export = tmp_path / "model.pt"
    settings = TrainSettings(out_dir=tmp_path / "run", steps=6, batch=4, lr=2e-3, warmup_steps=2, log_every=3,
                             model=TINY, ema_decay=0.9)
    first = train(settings, volumes, log=lambda m: None, export=export)
    settings.steps = 10
    result = train(settings, volumes, log=lambda m: None, export=export)
    average, last = result["average"].state_dict(), result["model"].state_dict()
    state = torch.load(tmp_path / "run" / "last.pt", weights_only=False)
    assert state["ema"]["updates"] == 10  # 6 + 4 resumed, not 4
    assert first["average"] is not result["average"]
    floats = [k for k in average if average[k].is_floating_point()]
    assert any(not torch.allclose(average[k], last[k]) for k in floats)  # an average, not a copy
    exported, _ = load_weights(export)
    beside, _ = load_weights(last_step_path(export))
    for k in floats:
        assert torch.equal(exported.state_dict()[k].float(), average[k].half().float()), k
        assert torch.equal(beside.state_dict()[k].float(), last[k].half().float()), k


def test_the_weight_average_moves_by_one_minus_the_decay_after_its_warm_up():
    from CrossMRLib.model.ema import WeightAverage

    model = torch.nn.Linear(2, 1)
    torch.nn.init.zeros_(model.weight)
    average = WeightAverage(model, decay=0.5)
    with torch.no_grad():
        model.weight.fill_(1.0)
    average.update(model)  # first update: decay min(0.5, 1/10) -> mostly the new weights
    assert torch.allclose(average.model.weight, torch.full((1, 2), 0.9))
    for _ in range(20):
        average.update(model)
    with torch.no_grad():
        model.weight.fill_(3.0)
    before = average.model.weight.clone()
    average.update(model)  # warm-up over: decay 0.5
    assert torch.allclose(average.model.weight, 0.5 * before + 1.5)
    assert not average.model.weight.requires_grad


def test_bf16_training_lowers_the_loss_and_keeps_float32_weights(tmp_path):
    """--bf16 (autocast forward, float32 loss and optimiser): the loss still falls and the weights stay float32."""
    torch.set_num_threads(1)
    volumes = [blob_volume(1), blob_volume(2)]
    batch = PairSampler([blob_volume(3)], 64, seed=5).batch(8)
    torch.manual_seed(0)
    before = fixed_loss(CrossMRNet(TINY), batch)
    settings = TrainSettings(out_dir=tmp_path, steps=40, batch=4, lr=2e-3, warmup_steps=5, log_every=10,
                             model=TINY, bf16=True)
    result = train(settings, volumes, log=lambda m: None)
    assert all(v.dtype == torch.float32 for v in result["model"].state_dict().values() if v.is_floating_point())
    after = fixed_loss(result["model"].eval(), batch)
    assert np.isfinite(after) and after < 0.8 * before, (before, after)


def test_bf16_option_is_refused_with_one_line_on_a_cpu_without_native_bfloat16(monkeypatch, capsys):
    """train.py --bf16 on a CPU that only emulates bfloat16 (10 to 20 times slower steps): a one-line error
    naming the fix; on a CPU with AVX512-BF16 or AMX (or with --device cuda) the option is taken."""
    import importlib.util

    import CrossMRLib.model.training as training

    spec = importlib.util.spec_from_file_location("crossmr_train_script", ROOT / "train" / "train.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    argv = ["--steps", "1", "--bf16", "--out", "runs/x"]
    monkeypatch.setattr(script, "cpu_has_native_bf16", lambda: False)
    try:
        script.parse(argv)
    except SystemExit as exc:
        assert exc.code == 2
    else:
        raise AssertionError("--bf16 was accepted on a CPU without native bfloat16")
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert "no native bfloat16" in last and "drop --bf16" in last, last
    assert script.parse([*argv, "--device", "cuda"]).bf16
    monkeypatch.setattr(script, "cpu_has_native_bf16", lambda: True)
    assert script.parse(argv).bf16
    assert isinstance(training.cpu_has_native_bf16(), bool)


def test_resuming_an_ema_run_from_a_run_without_it_stops_with_one_line(tmp_path):
    """train.py --ema on a run folder written without --ema: a one-line error naming the fix, no traceback."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    base = [sys.executable, str(ROOT / "train" / "train.py"), "--no-chaos", "--phantoms", "1", "--size", "64",
            "--threads", "1", "--batch", "2", "--cache", str(tmp_path / "cache"), "--out", str(tmp_path / "run")]
    first = subprocess.run([*base, "--steps", "1"], env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr[-2000:]
    again = subprocess.run([*base, "--steps", "2", "--ema", "0.9"], env=env, capture_output=True, text=True,
                           timeout=300)
    assert again.returncode != 0
    assert "Traceback" not in again.stderr
    assert again.stderr.strip().splitlines()[-1].startswith("train.py: ")
    assert "written without --ema" in again.stderr


def test_augmentation_draws_the_same_pairs_without_monai_metadata_and_leaves_its_setting_alone(monkeypatch):
    """Drawing pairs switches MONAI's MetaTensor bookkeeping off only while a transform runs: the same pairs
    as with it on, and the process-wide setting is as it was afterwards."""
    import monai.data
    from CrossMRLib.model import augment

    def draw() -> list[dict]:
        return [PairSampler([blob_volume(0)], 64, 5).batch(4) for _ in range(3)]

    plain = draw()
    monkeypatch.setattr(augment, "set_track_meta", lambda value: None)  # keep the bookkeeping on throughout
    tracked = draw()
    monkeypatch.undo()
    assert all(torch.equal(a[k], b[k]) for a, b in zip(plain, tracked) for k in a)
    assert monai.data.get_track_meta() is True


def test_some_targets_lie_far_from_every_organ():
    """A series also holds slices far above or below the organs (where a user's organ must come out empty): the
    sampler draws such targets too (ANY_SLICE_SHARE), not only slices near an organ or just past its end."""
    blob = blob_volume(4, slices=30)
    labels = blob.labels["t"].copy()
    labels[:12] = 0
    labels[15:] = 0
    vol = Volume("far", {"t": blob.images["t"]}, {"t": labels}, {"t": blob.positions["t"]}, blob.spacing)
    sampler = PairSampler([vol], 64, seed=3)
    targets = [sampler._slices(vol, "t", "t")[1] for _ in range(2000)]
    far = np.mean([(k < 6) or (k > 20) for k in targets])  # over 5 slices past every organ: only drawn on purpose
    assert 0.02 < far < 0.1, far
