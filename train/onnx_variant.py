"""ONNX Runtime as a CPU runtime for the network, for `bench_inference.py`'s side-by-side comparison.

`export_onnx` writes the three pieces the inference calls (target encoding without the mask projection,
reference encoding, the final-only decoder) as ONNX files with a dynamic batch; `OnnxNet` runs them in
ONNX Runtime sessions behind the `encode` / `tokens` / `decode` interface of `CrossMRNet` that
`CrossMRLib.model.inference` uses (the visual sampler, a few small ops per scribbled reference slice, stays
in torch). Measured, not shipped: see the benchmark's table.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Iterator

import torch
from torch import nn

from CrossMRLib.model.decoder import OrganDecoder
from CrossMRLib.model.network import CrossMRNet, Features
from CrossMRLib.model.sampler import choose_points

LEVELS = ("level0", "level1", "level2")
TOKENS = ("tokens0", "tokens1", "tokens2")


@contextlib.contextmanager
def _exportable_blocked() -> Iterator[None]:
    """`OrganDecoder._blocked` without the boolean index assignment, which exports to a boolean `Where` that
    ONNX Runtime's CPU provider lacks: the same mask (rows blocked everywhere are let through)."""
    original = OrganDecoder._blocked

    def blocked(self: OrganDecoder, small: torch.Tensor) -> torch.Tensor:
        mask = small.flatten(2) < 0.0
        return (mask & ~mask.all(-1, keepdim=True)).repeat_interleave(self.heads, dim=0)

    OrganDecoder._blocked = blocked
    try:
        yield
    finally:
        OrganDecoder._blocked = original


class _Target(nn.Module):
    def __init__(self, model: CrossMRNet) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        feats = self.model.encode(images, project_mask=False)
        return (*feats.levels, feats.mask)


class _Reference(_Target):
    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(self.model.encode(images, mask_rows=None).levels)


class _Decode(_Target):
    def forward(self, l0: torch.Tensor, l1: torch.Tensor, l2: torch.Tensor, mask: torch.Tensor, t0: torch.Tensor,
                t1: torch.Tensor, t2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pred = self.model.decode(Features([l0, l1, l2], mask, False), [t0, t1, t2], final_only=True)[-1]
        return pred["masks"], pred["scores"]


@torch.no_grad()
def export_onnx(model: CrossMRNet, folder: Path) -> dict[str, float]:
    """Write target.onnx, reference.onnx and decode.onnx (float32, batch axis dynamic) into `folder` with the
    TorchScript exporter (offline; no onnxscript); returns the export seconds per file."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model = model.float().eval()
    size, organs = model.config.input_size, model.config.num_organs
    images = torch.rand(2, 1, size, size)
    scribbles = torch.zeros(2, organs, size, size, dtype=torch.bool)
    scribbles[:, :, size // 3:size // 3 + 6, size // 3:size // 2] = True
    target = _Target(model)(images)
    coords, _ = choose_points(scribbles, model.config.num_points)
    tokens = model.sampler(list(_Reference(model)(images)), scribbles, coords)
    pieces = [("target", _Target(model), (images,), ["images"], [*LEVELS, "mask"]),
              ("reference", _Reference(model), (images,), ["images"], list(LEVELS)),
              ("decode", _Decode(model), (*target, *tokens), [*LEVELS, "mask", *TOKENS], ["masks", "scores"])]
    seconds = {}
    with _exportable_blocked():
        for name, module, args, inputs, outputs in pieces:
            tick = time.perf_counter()
            torch.onnx.export(module, args, str(folder / f"{name}.onnx"), dynamo=False, opset_version=17,
                              input_names=inputs, output_names=outputs,
                              dynamic_axes={n: {0: "batch"} for n in inputs + outputs})
            seconds[name] = time.perf_counter() - tick
    return seconds


class OnnxNet:
    """The `CrossMRNet` calls of the inference (`encode`, `tokens`, `decode(final_only=True)`), run by ONNX
    Runtime sessions on the CPU with `threads` intra-op threads; no parameters, so inference sees the CPU."""

    def __init__(self, model: CrossMRNet, folder: Path, threads: int) -> None:
        import onnxruntime as ort

        self.config, self.sampler = model.config, model.sampler
        options = ort.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = int(threads), 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.sessions = {name: ort.InferenceSession(str(Path(folder) / f"{name}.onnx"), options,
                                                    providers=["CPUExecutionProvider"])
                         for name in ("target", "reference", "decode")}

    def eval(self) -> "OnnxNet":
        return self

    def parameters(self) -> Iterator[torch.Tensor]:
        return iter(())

    def encode(self, images: torch.Tensor, mask_rows: slice | None = slice(None), project_mask: bool = True
               ) -> Features:
        """Target slices (mask features left unprojected, as inference asks) or, with mask_rows=None,
        reference slices."""
        feeds = {"images": images.float().contiguous().numpy()}
        if mask_rows is None:
            return Features([torch.from_numpy(a) for a in self.sessions["reference"].run(None, feeds)], None)
        if project_mask or mask_rows != slice(None):
            raise ValueError("OnnxNet encodes targets for inference only (project_mask=False, all rows)")
        *levels, mask = self.sessions["target"].run(None, feeds)
        return Features([torch.from_numpy(a) for a in levels], torch.from_numpy(mask), False)

    def tokens(self, reference: Features, scribbles: torch.Tensor,
               generator: torch.Generator | None = None) -> tuple[list[torch.Tensor], torch.Tensor]:
        """As `CrossMRNet.tokens` (the sampler runs in torch)."""
        coords, valid = choose_points(scribbles, self.config.num_points, generator)
        return self.sampler(reference.levels, scribbles, coords), valid

    def decode(self, target: Features, tokens: list[torch.Tensor], final_only: bool = True) -> list[dict]:
        """The final prediction {"masks", "scores"} (the only one inference uses)."""
        if not final_only or target.mask_projected:
            raise ValueError("OnnxNet decodes for inference only (final_only=True, unprojected mask features)")
        feeds = {name: t.float().contiguous().numpy() for name, t in zip(LEVELS, target.levels)}
        feeds["mask"] = target.mask.float().contiguous().numpy()
        feeds.update({name: t.float().contiguous().numpy() for name, t in zip(TOKENS, tokens)})
        masks, scores = self.sessions["decode"].run(None, feeds)
        return [{"masks": torch.from_numpy(masks), "scores": torch.from_numpy(scores)}]
