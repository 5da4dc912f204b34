"""Weights files: fp16 round trip, sha256 check, clear errors for missing/corrupt files."""

from __future__ import annotations

import pytest
import torch

from CrossMRLib.errors import InputError
from CrossMRLib.model.config import ModelConfig
from CrossMRLib.model.network import CrossMRNet
from CrossMRLib.model.weights import expected_sha256, file_sha256, load_weights, save_weights, sidecar

TINY = ModelConfig(input_size=64, embed_dim=16, depths=(1, 1, 1, 1), hidden_dim=32, num_queries=3, num_points=4)


@pytest.fixture()
def saved(tmp_path):
    torch.manual_seed(0)
    model = CrossMRNet(TINY).eval()
    path = tmp_path / "w.pt"
    sha = save_weights(model, path, {"note": "test"})
    return model, path, sha


def test_round_trip_fp16_with_sidecar(saved):
    model, path, sha = saved
    assert sha == file_sha256(path) == expected_sha256(path)
    loaded, meta = load_weights(path)
    assert meta == {"note": "test"} and loaded.config == model.config and not loaded.training
    for (name, a), b in zip(model.state_dict().items(), loaded.state_dict().values()):
        assert torch.allclose(a.float(), b, atol=2e-3, rtol=2e-3), name  # fp16 storage
    ref, tgt = torch.rand(1, 1, 64, 64), torch.rand(1, 1, 64, 64)
    scr = torch.zeros(1, 4, 64, 64, dtype=torch.bool)
    scr[0, 0, 30:33, 20:40] = True
    with torch.no_grad():
        a = model(ref, scr, tgt)[0][-1]["masks"]
        b = loaded(ref, scr, tgt)[0][-1]["masks"]
    assert torch.allclose(a, b, atol=0.05)


def test_missing_file_is_a_clear_input_error(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_weights(tmp_path / "nope.pt")


def test_corrupt_file_fails_the_checksum(saved):
    _, path, _ = saved
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match="corrupt"):
        load_weights(path)


def test_missing_sidecar_and_unreadable_file(saved, tmp_path):
    _, path, _ = saved
    sidecar(path).unlink()
    with pytest.raises(InputError, match="sha256"):
        load_weights(path)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a torch file")
    with pytest.raises(InputError, match="cannot be read"):
        load_weights(junk, sha256=file_sha256(junk))
