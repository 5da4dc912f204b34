"""What the benchmark U-Nets train on and how (`train/benchmark.py`): their settings (step budget, precision,
device), their training data (CrossMR's subjects and generated studies, in CrossMR's proportions), the
training volumes, the generated studies made once before training, and the settings of U-Nets copied from
another run."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import torch

from CrossMRLib.errors import InputError
from CrossMRLib.model.data import TRAIN_SUBJECTS, VAL_SUBJECTS
from CrossMRLib.model.sources import PHANTOM_TRAIN_SEED0
from CrossMRLib.model.training import cpu_has_native_bf16
from train.baselines import cases as cases_mod
from train.baselines.unet import UNetConfig
from train.never_seen import real_image_subjects

DEFAULT_UNET_PHANTOMS = 24
SMOKE_UNET = dict(patch=64, base_filters=8, max_filters=64, batch=4, max_steps=12)


def unet_configs(args: argparse.Namespace, crossmr_meta: dict) -> dict[str, UNetConfig]:
    if args.smoke:
        base = dict(SMOKE_UNET)
    elif args.unet_minutes:
        base = {"minutes": float(args.unet_minutes), "max_steps": None}
    else:
        base = {"max_steps": int(args.unet_steps)}
    device = args.unet_device
    if device == "cuda" and not args.unet_from and not torch.cuda.is_available():
        raise InputError("--unet-device cuda: torch sees no CUDA GPU on this machine; leave --unet-device out to "
                         "train the U-Nets on the CPU")
    # bfloat16 only where it is computed natively (emulated, a CPU step takes ~30x longer); CUDA GPUs since
    # 2020 (Ampere: A100, H100) compute it
    base["bf16"] = device == "cuda" or cpu_has_native_bf16()
    base["train_device"] = device
    return {"unet": UNetConfig(scribble_channels=False, **base),
            "unet-scribble": UNetConfig(scribble_channels=True, **base)}


def unet_phantom_seeds(args: argparse.Namespace, crossmr_meta: dict, chaos: bool) -> list[int]:
    if args.smoke:
        return [] if chaos else [PHANTOM_TRAIN_SEED0]
    seeds = crossmr_meta.get("phantom_seeds") or []
    if args.unet_phantoms is None and len(seeds) == 2:  # CrossMR's range [first, last]
        chosen = list(range(int(seeds[0]), int(seeds[1]) + 1))
    else:
        count = DEFAULT_UNET_PHANTOMS if args.unet_phantoms is None else args.unet_phantoms
        chosen = list(range(PHANTOM_TRAIN_SEED0, PHANTOM_TRAIN_SEED0 + count))
    if set(chosen) & set(cases_mod.PHANTOM_SEEDS):
        raise InputError(f"generated training seeds {sorted(set(chosen) & set(cases_mod.PHANTOM_SEEDS))} are "
                         "benchmark studies; train on seeds 1000+")
    return chosen


def unet_training_data(args: argparse.Namespace, crossmr_meta: dict, chaos: bool) -> dict:
    """CrossMR's training subjects and generated seeds (from its weights), which the U-Nets train on too, and
    how many times each CHAOS volume is listed among the training volumes (`chaos_repeat`): as many as in
    CrossMR's training, whose volume list held each CHAOS subject round(generated / CHAOS) times (at least
    once), so that both draw CHAOS slices equally often (45 % of draws for 10 subjects and 24 generated
    studies; listed once each, the U-Nets drew them 29 % of the time)."""
    subjects = (real_image_subjects(crossmr_meta) or list(TRAIN_SUBJECTS)) if chaos else []
    subjects = subjects[:1] if args.smoke else subjects
    if set(subjects) & set(VAL_SUBJECTS):
        raise InputError(f"the CrossMR weights were trained on CHAOS subjects "
                         f"{' '.join(sorted(set(subjects) & set(VAL_SUBJECTS)))}, which the benchmark scores (the "
                         "shipped weights saw all 15); pass --weights with weights trained on the training subjects "
                         "alone (train/train.py without --chaos-subjects all)")
    phantoms = unet_phantom_seeds(args, crossmr_meta, chaos)
    repeat = max(1, round(len(phantoms) / len(subjects))) if subjects else 0
    return {"chaos": subjects, "phantoms": phantoms, "chaos_repeat": repeat}


def unet_volumes(args, config: UNetConfig, data: dict, cache: Path):
    """Reference-contrast training volumes: CHAOS training subjects (T2-SPIR, each listed `chaos_repeat`
    times), generated T1w."""
    from CrossMRLib.model.data import load_chaos, phantom_volume
    from train.baselines.unet_train import train_volume

    volumes = []
    if data["chaos"]:
        chaos = [train_volume(v, "t2spir") for v in load_chaos(tuple(data["chaos"]), config.patch, args.chaos)]
        volumes += chaos * data["chaos_repeat"]
    for seed in data["phantoms"]:
        volumes.append(train_volume(phantom_volume(seed, config.patch, cache), "t1w"))
    return volumes


def copied_config(args, method: str, config: UNetConfig, data_key: str) -> UNetConfig:
    """`config` with the training precision and device of the U-Net `--unet-from` holds for it (a U-Net
    trained on another machine or a GPU); `config` itself when the source has none of them."""
    for device in (config.train_device, "cpu", "cuda"):
        for bf16 in (config.bf16, not config.bf16):
            other = dataclasses.replace(config, train_device=device, bf16=bf16)
            if (args.unet_from / "unet" / f"{method}-{other.key()}{data_key}" / "unet.pt").is_file():
                return other
    return config


def generate_phantoms(seeds: list[int], size: int, jobs: int, cache: Path) -> None:
    """Generate the U-Nets' uncached training studies in `jobs` processes, each study once (training workers
    started together would each generate all of them, ~13 s a study)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from CrossMRLib.model.data import phantom_volume

    todo = [seed for seed in seeds if not (cache / f"phantom_{seed}_{size}.npz").exists()]
    if not todo:
        return
    # spawned, not forked (a child forked after torch ran multi-threaded can hang); results are dropped as they
    # come: the studies are cached on disk, where the training workers read them
    with ProcessPoolExecutor(min(jobs, len(todo)), mp_context=multiprocessing.get_context("spawn")) as pool:
        for _ in pool.map(phantom_volume, todo, [size] * len(todo), [cache] * len(todo)):
            pass
