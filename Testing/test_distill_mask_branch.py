"""The separable mask branch: distilled from trained weights, saved and loaded as what it is."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

from CrossMRLib.model.config import ModelConfig
from CrossMRLib.model.data import PairSampler
from CrossMRLib.model.network import CrossMRNet
from CrossMRLib.model.weights import load_weights, save_weights

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "train"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from distill_mask_branch import distil, mask_features, student_from  # noqa: E402
from test_model_training import TINY, blob_volume  # noqa: E402


def _teacher() -> CrossMRNet:
    torch.manual_seed(0)
    return CrossMRNet(TINY).eval()


def test_the_student_keeps_every_teacher_weight_but_the_mask_branch():
    teacher = _teacher()
    student = student_from(teacher)
    assert student.config.mask_branch == "separable"
    mine, theirs = student.state_dict(), teacher.state_dict()
    kept = [k for k in theirs if k in mine and mine[k].shape == theirs[k].shape
            and not k.startswith(("fpn.shallow.1.", "fpn.mask_out.0."))]
    assert all(torch.equal(mine[k], theirs[k]) for k in kept)
    trainable = {n for n, p in student.named_parameters() if p.requires_grad}
    assert trainable and all(n.startswith(("fpn.shallow.1.", "fpn.mask_out.0.")) for n in trainable)
    images = torch.rand(2, 1, 64, 64)
    with torch.no_grad():  # the pyramid levels (tokens, attention) are the teacher's exactly
        for a, b in zip(student.encode(images).levels, teacher.encode(images).levels):
            assert torch.equal(a, b)


def test_distilling_brings_the_mask_features_towards_the_teachers():
    teacher = _teacher()
    sampler = PairSampler([blob_volume(0)], 64, seed=1)
    images = PairSampler([blob_volume(1)], 64, seed=2).batch(6)["target"]

    def error(student: CrossMRNet) -> float:
        with torch.no_grad():
            stages = teacher.encoder(images)
            want = mask_features(teacher, images, stages)
            return float(((mask_features(student, images, stages) - want) ** 2).mean() / want.var())

    before = error(student_from(teacher))
    student, _ = distil(teacher, sampler, steps=60, batch=4, lr=3e-3, log=lambda m: None)
    assert error(student) < 0.5 * before


def test_weights_rebuild_the_mask_branch_they_were_trained_with(tmp_path):
    separable = CrossMRNet(ModelConfig.from_dict({**TINY.to_dict(), "mask_branch": "separable"}))
    save_weights(separable, tmp_path / "sep.pt")
    loaded, _ = load_weights(tmp_path / "sep.pt")
    assert loaded.config.mask_branch == "separable"
    old = TINY.to_dict()
    old.pop("mask_branch")  # weights written before the choice existed: the full branch
    assert ModelConfig.from_dict(old).mask_branch == "full"
    x = torch.from_numpy(np.random.default_rng(0).random((1, 1, 64, 64), np.float32))
    with torch.no_grad():
        assert torch.allclose(loaded.encode(x).mask, separable.encode(x).mask, atol=2e-2)
