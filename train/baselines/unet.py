"""A 2D U-Net with nnU-Net's 2D topology (MONAI DynUNet, not the nnU-Net framework): the U-Net rows.

Topology as nnU-Net plans it for a square 2D patch: 3x3 convolutions, a stride-1 first stage, then
stride-2 stages until the feature map is 4 pixels wide (7 stages for 256), features 32 doubling per
stage up to 512, instance norm, leaky ReLU, deep supervision on every decoder level but the coarsest.
`scribble_channels=True` adds one input channel per organ holding the scribbles ("nnUNet-Scribble");
at inference those are the reference scribbles carried onto the target slice by physical position.
Slices are normalised like CrossMR's inputs (0.5-99.5 percentile clip to [0, 1] per volume), put in
radiological display orientation (`orient.py`: series store their voxels in any in-plane orientation, and
without it the scribble-free U-Net cannot tell left from right), and resized to the patch size and back,
instead of nnU-Net's resampling to a median spacing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from CrossMRLib.errors import Cancelled, InputError
from CrossMRLib.grids import carry_labels
from CrossMRLib.model.inference import prepare_scribbles
from CrossMRLib.organs import MAX_LABEL
from CrossMRLib.pairing import SlicePairing
from CrossMRLib.preprocess import normalize_intensity, resize_slices, restore_slices
from CrossMRLib.series import Series

from .orient import display_orientation

MIN_FEATURE_MAP = 4  # nnU-Net stops pooling at this size
UNET_VERSION = 4  # 4: bfloat16 autocast where chosen (3: float32 AdamW; 2: SGD; 1 saw raw storage order); part of the cache key
PLAIN_ROW = "U-Net (MONAI DynUNet, nnU-Net 2D topology)"
SCRIBBLE_ROW = "U-Net + scribble channels (MONAI DynUNet, nnU-Net 2D topology)"


@dataclass
class UNetConfig:
    """Network and training settings of one U-Net row (stored with its weights)."""

    scribble_channels: bool = False
    patch: int = 256
    base_filters: int = 32
    max_filters: int = 512
    batch: int = 8
    lr: float = 1e-3  # AdamW, poly decay (nnU-Net's SGD learned only the liver in this budget: unet_train.py)
    weight_decay: float = 1e-4
    max_steps: int | None = 1100  # the step budget: same steps, same network, run after run
    minutes: float | None = None  # a wall-clock budget instead (not reproducible: steps depend on load)
    seed: int = 0
    bf16: bool = False  # forward pass under bfloat16 autocast: only where computed natively (`benchmark.py`)
    train_device: str = "cpu"  # where it trains ("cuda": a GPU); it always runs on the CPU in the benchmark

    @property
    def in_channels(self) -> int:
        return 1 + (MAX_LABEL if self.scribble_channels else 0)

    @property
    def row_name(self) -> str:
        return SCRIBBLE_ROW if self.scribble_channels else PLAIN_ROW

    def key(self) -> str:
        """Short hash of the settings: a different setting trains (and caches) a different network."""
        settings = {**asdict(self), "version": UNET_VERSION}
        return hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:10]


def topology(patch: int) -> list[int]:
    """Per-stage strides: 1, then 2 while the feature map stays >= MIN_FEATURE_MAP pixels."""
    if patch < 2 * MIN_FEATURE_MAP:
        raise InputError(f"U-Net patch {patch} is too small; use at least {2 * MIN_FEATURE_MAP}")
    strides, size = [1], patch
    while size // 2 >= MIN_FEATURE_MAP and size % 2 == 0 and len(strides) < 7:
        strides.append(2)
        size //= 2
    return strides


def build_unet(config: UNetConfig) -> "DynUNet":
    """The DynUNet of `config` (deep supervision on all decoder levels except the coarsest)."""
    from monai.networks.nets import DynUNet

    strides = topology(config.patch)
    filters = [min(config.base_filters * 2 ** i, config.max_filters) for i in range(len(strides))]
    return DynUNet(spatial_dims=2, in_channels=config.in_channels, out_channels=MAX_LABEL + 1,
                   kernel_size=[3] * len(strides), strides=strides, upsample_kernel_size=strides[1:],
                   filters=filters, norm_name=("INSTANCE", {"affine": True}),
                   act_name=("leakyrelu", {"negative_slope": 0.01, "inplace": True}),
                   deep_supervision=True, deep_supr_num=max(len(strides) - 2, 1), res_block=False)


def scribble_planes(seeds: np.ndarray, size: int) -> np.ndarray:
    """(K, J, I) organ labels -> (K, MAX_LABEL, size, size) float32, one channel per organ, resized as
    CrossMR resizes its scribbles (a patch pixel is set when any scribble pixel falls in it)."""
    return prepare_scribbles(np.asarray(seeds), MAX_LABEL, size).float().numpy()


def save_unet(model: "DynUNet", config: UNetConfig, path: Path, meta: dict) -> None:
    """Weights + config + training meta in one torch file (written atomically)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    state = {name: value.cpu() for name, value in model.state_dict().items()}  # trained on a GPU or not
    torch.save({"config": asdict(config), "state": state, "meta": meta}, tmp)
    tmp.replace(path)


def load_unet(path: Path) -> tuple["DynUNet", UNetConfig, dict]:
    """Network in eval mode, its config and training meta."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"U-Net weights not found at {path}; train them first (train/benchmark.py does)")
    data = torch.load(path, map_location="cpu", weights_only=True)
    config = UNetConfig(**data["config"])
    model = build_unet(config)
    model.load_state_dict(data["state"])
    return model.eval(), config, dict(data.get("meta", {}))


def weights_digest(path: Path) -> str:
    """sha256 (16 hex digits) of a U-Net's weights alone, not its training meta: the same network gives the
    same digest whether it was retrained or copied."""
    state = torch.load(Path(path), map_location="cpu", weights_only=True)["state"]
    digest = hashlib.sha256()
    for name in sorted(state):
        digest.update(name.encode())
        digest.update(state[name].contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


class UNetMethod:
    """The trained U-Net as an engine method: each target slice segmented on its own."""

    def __init__(self, weights: Path, slices_per_batch: int = 8) -> None:
        self.model, self.config, self.meta = load_unet(weights)
        self.name = self.config.row_name
        self.weights_sha256 = None
        self.slices_per_batch = int(slices_per_batch)

    def segment_target(self, reference: Series, scribbles: np.ndarray, target: Series, pairing: SlicePairing,
                       cancel=None) -> np.ndarray:
        size = (self.config.patch, self.config.patch)
        turn = display_orientation(target.ijk_to_ras)
        image = resize_slices(turn.apply(normalize_intensity(target.array)), size, "bilinear")[:, None]
        if self.config.scribble_channels:
            seeds = carry_labels(np.asarray(scribbles, dtype=np.uint8), reference, target, pairing)
            image = np.concatenate([image, scribble_planes(turn.apply(seeds), self.config.patch)], axis=1)
        labels = np.zeros((target.num_slices, *size), dtype=np.uint8)
        with torch.inference_mode():
            for start in range(0, target.num_slices, self.slices_per_batch):
                if cancel is not None and cancel():
                    raise Cancelled()
                batch = torch.from_numpy(np.ascontiguousarray(image[start:start + self.slices_per_batch]))
                labels[start:start + len(batch)] = self.model(batch).argmax(1).numpy().astype(np.uint8)
        shown = turn.apply(np.zeros(target.shape[1:], dtype=np.uint8)[None]).shape[1:]
        return turn.undo(restore_slices(labels, shown, "nearest")).astype(np.uint8)
