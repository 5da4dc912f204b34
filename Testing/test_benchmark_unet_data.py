"""How the benchmark U-Nets train: CHAOS slices drawn as often as CrossMR's training drew them, bfloat16 only
where the CPU computes it, a GPU only when asked for, each training study generated once."""

import dataclasses
import importlib.util
from pathlib import Path

import numpy as np

from CrossMRLib.model.data import TRAIN_SUBJECTS, Volume
from train.baselines import unet_plan
from train.baselines.unet import UNetConfig

ROOT = Path(__file__).resolve().parents[1]


def benchmark_module():
    spec = importlib.util.spec_from_file_location("crossmr_benchmark_data", ROOT / "train" / "benchmark.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tiny_volume(name: str, contrast: str) -> Volume:
    labels = np.zeros((2, 8, 8), np.uint8)
    labels[:, 2:5, 2:5] = 1
    return Volume(name, {contrast: labels / 2.0}, {contrast: labels}, {contrast: np.arange(2.0)}, (1.5, 1.5),
                  {contrast: (np.diag([-1.5, 1.5, 4.0, 1.0]), (8, 8))})


def test_unet_training_volumes_hold_chaos_in_crossmrs_proportion(monkeypatch):
    bench = benchmark_module()
    args = bench.parse([])
    shipped = {"chaos_train_subjects": list(TRAIN_SUBJECTS), "phantom_seeds": [1000, 1023]}  # the shipped weights' meta
    data = bench.unet_training_data(args, shipped, chaos=True)
    assert data["chaos"] == list(TRAIN_SUBJECTS) and len(data["phantoms"]) == 24
    # CrossMR's training listed each of the 10 subjects round(24 / 10) = 2 times beside the 24 generated studies
    assert data["chaos_repeat"] == 2

    import CrossMRLib.model.data as data_mod
    monkeypatch.setattr(data_mod, "load_chaos", lambda subjects, size, root: [tiny_volume(s, "t2spir") for s in subjects])
    monkeypatch.setattr(data_mod, "phantom_volume", lambda seed, size, cache: tiny_volume(f"gen{seed}", "t1w"))
    volumes = bench.unet_volumes(args, UNetConfig(), data, Path("cache"))
    chaos_draws = sum(v.name in TRAIN_SUBJECTS for v in volumes)
    assert len(volumes) == 44 and chaos_draws == 20  # 45 % of the uniform draws are CHAOS slices
    assert {v.name for v in volumes if v.name in TRAIN_SUBJECTS} == set(TRAIN_SUBJECTS)

    without_chaos = bench.unet_training_data(args, shipped, chaos=False)
    assert without_chaos["chaos"] == [] and without_chaos["chaos_repeat"] == 0
    assert all(v.name.startswith("gen") for v in bench.unet_volumes(args, UNetConfig(), without_chaos, Path("cache")))


def test_weights_trained_on_the_scored_subjects_are_refused_with_what_to_pass():
    """The shipped weights saw all 15 CHAOS subjects: a benchmark with them would score CrossMR on its own
    training images (and train the U-Nets there too), so it asks for weights trained on the training subjects."""
    import pytest

    from CrossMRLib.errors import InputError
    from CrossMRLib.model.data import CHAOS_SUBJECTS

    bench = benchmark_module()
    args = bench.parse([])
    all15 = {"chaos_image_subjects": list(CHAOS_SUBJECTS), "phantom_seeds": [1000, 1023]}
    with pytest.raises(InputError, match="trained on CHAOS subjects 33 34 37 38 39.*pass --weights"):
        bench.unet_training_data(args, all15, chaos=True)
    ten = {"chaos_image_subjects": list(TRAIN_SUBJECTS), "phantom_seeds": [1000, 1023]}
    assert bench.unet_training_data(args, ten, chaos=True)["chaos"] == list(TRAIN_SUBJECTS)


def test_unets_train_in_bfloat16_only_on_cpus_that_compute_it_natively(monkeypatch):
    """Emulated bfloat16 made a U-Net step about 30 times slower than float32 on an AVX2-only CPU (days for the
    benchmark's budget); the precision is part of the cached network's key."""
    bench = benchmark_module()
    args = bench.parse([])
    monkeypatch.setattr(unet_plan, "cpu_has_native_bf16", lambda: False)
    plain = bench.unet_configs(args, {})
    assert not any(c.bf16 for c in plain.values())
    monkeypatch.setattr(unet_plan, "cpu_has_native_bf16", lambda: True)
    native = bench.unet_configs(args, {})
    assert all(c.bf16 for c in native.values())
    assert plain["unet"].key() != native["unet"].key() and plain["unet"].max_steps == native["unet"].max_steps


def test_unets_train_on_the_gpu_only_when_asked_and_present(monkeypatch):
    import pytest
    import torch

    from CrossMRLib.errors import InputError

    bench = benchmark_module()
    assert {c.train_device for c in bench.unet_configs(bench.parse([]), {}).values()} == {"cpu"}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(InputError, match="--unet-device cuda: torch sees no CUDA GPU.*leave --unet-device out"):
        bench.unet_configs(bench.parse(["--unet-device", "cuda"]), {})
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    gpu = bench.unet_configs(bench.parse(["--unet-device", "cuda"]), {})
    assert all(c.train_device == "cuda" and c.bf16 for c in gpu.values())
    assert gpu["unet"].key() != bench.unet_configs(bench.parse([]), {})["unet"].key()  # a different network


def test_a_second_run_finds_unets_trained_on_a_gpu_or_another_cpu(tmp_path, monkeypatch):
    """`--unet-from` takes the precision and device from the copied U-Nets (a GPU run, then a CPU-only
    machine for the timed benchmark), not from the machine it runs on."""
    import torch

    bench = benchmark_module()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    args = bench.parse(["--unet-from", str(tmp_path), "--unet-device", "cuda"])  # no GPU needed to copy
    here = bench.unet_configs(bench.parse([]), {})["unet"]  # what this CPU would train
    assert bench.copied_config(args, "unet", here, "abc123") == here  # nothing there: unchanged (copy refuses)
    trained = dataclasses.replace(here, train_device="cuda", bf16=True)
    folder = tmp_path / "unet" / f"unet-{trained.key()}abc123"
    folder.mkdir(parents=True)
    (folder / "unet.pt").write_bytes(b"weights")
    assert bench.copied_config(args, "unet", here, "abc123") == trained


def test_training_studies_are_generated_once_before_the_training_workers_start(tmp_path, monkeypatch):
    bench = benchmark_module()
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "phantom_1000_32.npz").write_bytes(b"cached")  # already there: left alone
    import CrossMRLib.model.data as data_mod

    made = []

    class InlinePool:  # the pool's work in this process, so the test sees every call
        def __init__(self, workers, mp_context=None):
            assert workers == 2
        def __enter__(self):
            return self
        def __exit__(self, *exc):
            return False
        def map(self, fn, *args):
            return map(fn, *args)

    monkeypatch.setattr("concurrent.futures.ProcessPoolExecutor", InlinePool)
    monkeypatch.setattr(data_mod, "phantom_volume", lambda seed, size, cache: made.append((seed, size, cache)))
    bench.generate_phantoms([1000, 1001, 1002], 32, jobs=2, cache=tmp_path / "cache")
    assert made == [(1001, 32, tmp_path / "cache"), (1002, 32, tmp_path / "cache")]
