"""Training with pairs drawn in worker processes and phantoms generated in parallel (`train.py --workers`),
the set-up of a GPU run; and the one-line stop when `--device cuda` finds no GPU."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from CrossMRLib.errors import InputError
from CrossMRLib.model.stream import batch_stream
from CrossMRLib.model.training import TrainSettings, train
from test_model_training import TINY, blob_volume

ROOT = Path(__file__).resolve().parents[1]


def test_worker_processes_draw_different_pairs_and_a_seed_repeats_them():
    volumes = [blob_volume(1), blob_volume(2)]
    first = batch_stream(volumes, 64, 3, seed=5, workers=2, pin_memory=False)
    again = batch_stream(volumes, 64, 3, seed=5, workers=2, pin_memory=False)
    a = [next(first) for _ in range(4)]
    b = [next(again) for _ in range(4)]
    for x, y in zip(a, b):
        assert all(torch.equal(x[k], y[k]) for k in x)
    assert not torch.equal(a[0]["target"], a[1]["target"])  # worker 0 and worker 1 draw their own pairs
    assert a[0]["reference"].shape == (3, 1, 64, 64) and a[0]["masks"].shape == (3, 4, 64, 64)


def test_a_run_with_worker_processes_trains_and_gives_the_same_weights_again(tmp_path):
    def run(folder: Path) -> dict:
        settings = TrainSettings(out_dir=folder, steps=4, batch=2, warmup_steps=2, workers=2, log_every=2,
                                 model=TINY)
        return train(settings, [blob_volume(1), blob_volume(2)], log=lambda _: None)

    one, two = run(tmp_path / "a"), run(tmp_path / "b")
    assert one["steps"] == two["steps"] == 4
    for (name, p), q in zip(one["model"].state_dict().items(), two["model"].state_dict().values()):
        assert torch.equal(p, q), name


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
def test_training_on_a_missing_gpu_stops_with_a_message_naming_the_fix(tmp_path):
    settings = TrainSettings(out_dir=tmp_path, steps=1, batch=2, device="cuda", model=TINY)
    with pytest.raises(InputError, match="sees no CUDA GPU: drop --device"):
        train(settings, [blob_volume(1)], log=lambda _: None)


def test_phantoms_generate_in_parallel_after_torch_ran_multithreaded(tmp_path):
    """A forked child of a process whose torch ran on 2 threads hangs in its first parallel op: the phantom
    pool must finish, and give what serial generation gives."""
    script = textwrap.dedent(f"""
        import sys
        sys.path[:0] = [{str(ROOT)!r}]
        import numpy as np, torch
        import CrossMRLib.model.sources as T
        if __name__ == "__main__":
            torch.set_num_threads(2)
            torch.nn.functional.interpolate(torch.rand(8, 1, 256, 256), size=(200, 200), mode="bilinear")
            pooled = T.load_phantoms(2, 64, None, 2)
            serial = [T.phantom_volume(T.PHANTOM_TRAIN_SEED0 + i, 64, None) for i in range(2)]
            same = all(np.array_equal(p.images[c], s.images[c]) and np.array_equal(p.labels[c], s.labels[c])
                       and np.array_equal(p.tissues[c], s.tissues[c])
                       for p, s in zip(pooled, serial) for c in s.images)
            print("same" if same else "different")
    """)
    path = tmp_path / "pool.py"
    path.write_text(script)
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    done = subprocess.run([sys.executable, str(path)], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "same"
