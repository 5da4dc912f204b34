"""DistributedDataParallel path: 2 CPU processes (gloo) train a few steps; loss falls, ranks agree."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]

WORKER = textwrap.dedent('''
    import json, sys, torch
    sys.path[:0] = [sys.argv[1], sys.argv[1] + "/Testing"]
    torch.set_num_threads(1)
    import torch.distributed as dist
    from CrossMRLib.model.data import PairSampler
    from CrossMRLib.model.network import CrossMRNet
    from CrossMRLib.model.training import TrainSettings, init_distributed, train
    from test_model_training import TINY, blob_volume, fixed_loss
    out = sys.argv[2]
    assert init_distributed()
    rank = dist.get_rank()
    batch = PairSampler([blob_volume(3)], 64, seed=5).batch(8)
    torch.manual_seed(0)
    before = fixed_loss(CrossMRNet(TINY), batch)
    settings = TrainSettings(out_dir=out + "/run", steps=25, batch=4, lr=2e-3, warmup_steps=5, log_every=5,
                             model=TINY)
    result = train(settings, [blob_volume(1), blob_volume(2)], log=lambda m: None)
    after = fixed_loss(result["model"].eval(), batch)
    torch.save(result["model"].state_dict(), f"{out}/rank{rank}.pt")
    json.dump({"before": before, "after": after, "world": dist.get_world_size()}, open(f"{out}/loss{rank}.json", "w"))
    dist.barrier()
    dist.destroy_process_group()
''')


@pytest.mark.slow
def test_two_process_gloo_training(tmp_path):
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent))
    if torchrun is None:
        pytest.skip("torchrun not installed beside this Python")
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([torchrun, "--nproc_per_node", "2", "--master_port", "29531", str(script), str(ROOT),
                           str(tmp_path)], env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    losses = [json.loads((tmp_path / f"loss{r}.json").read_text()) for r in (0, 1)]
    assert losses[0]["world"] == 2
    assert losses[0]["after"] < 0.85 * losses[0]["before"], losses[0]
    a, b = (torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1))
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a), "ranks ended with different weights"
