"""Training batches drawn in DataLoader worker processes (`train.py --workers N`), for a GPU that a single
process drawing pairs cannot keep busy. Each worker has its own seeded `PairSampler`."""

from __future__ import annotations

from typing import Iterator

import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from .data import PairSampler, Volume


class PairStream(IterableDataset):
    """An endless stream of batches; worker w of a stream seeded s draws with seed s + w."""

    def __init__(self, volumes: list[Volume], size: int, batch: int, seed: int) -> None:
        super().__init__()
        self.volumes, self.size, self.batch, self.seed = volumes, size, batch, seed

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        info = get_worker_info()
        worker = info.id if info is not None else 0
        torch.set_num_threads(1)  # one core per worker; the augmentations are small tensor ops
        sampler = PairSampler(self.volumes, self.size, self.seed + worker)
        while True:
            yield sampler.batch(self.batch)


def batch_stream(volumes: list[Volume], size: int, batch: int, seed: int, workers: int,
                 pin_memory: bool) -> Iterator[dict[str, torch.Tensor]]:
    """Batches from `workers` processes (taken in turn, so a seed gives the same sequence of batches)."""
    stream = PairStream(volumes, size, batch, seed)
    loader = DataLoader(stream, batch_size=None, num_workers=workers, pin_memory=pin_memory, prefetch_factor=4,
                        persistent_workers=True)
    return iter(loader)
