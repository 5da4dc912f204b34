"""Training data: CHAOS T2-SPIR volumes and generated five-contrast studies, turned into slice pairs.

A pair is (reference slice + organ scribbles, target slice + organ masks). The target is the same slice
(dense use), a neighbouring one, or one several slices away (sparse use: one scribbled slice per organ
segments the whole volume), possibly beyond an organ's extent so the model learns "absent", or any slice of the
series (slices far above or below the organs, where every organ is absent).

Sources: real CHAOS T2-SPIR images; generated studies (their physics-based images, or, for RANDOMISED_SHARE of
their pairs, two independent random contrasts rendered from their tissue maps); and CHAOS organ label maps in
a synthetic body (`CrossMRLib.synth`), always rendered. Only `load_chaos` reads a real image. How often each
volume is drawn is its `weight` (`CrossMRLib.model.sources` sets the recipe's shares).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..organs import MAX_LABEL
from ..preprocess import normalize_intensity, resize_slices
from ..scribbles.synth import stroke_in_mask
from ..synth import RandomContrast, body_tissues, render
from .augment import PairAugmenter, warp
from .geometry import frame_theta, is_identity, resample

CHAOS_SUBJECTS = ("01", "02", "03", "08", "10", "15", "21", "22", "31", "32", "33", "34", "37", "38", "39")
TRAIN_SUBJECTS = ("01", "02", "03", "08", "10", "15", "21", "22", "31", "32")  # fixed subject-level split
VAL_SUBJECTS = ("33", "34", "37", "38", "39")
CONTRASTS = ("t1w", "t2w", "dwi", "inphase", "opposed")
RANDOMISED_SHARE = 0.1  # pairs of a generated study drawn as random contrasts of its tissue maps
BEYOND_END_SHARE = 0.15  # pairs whose target lies just past a scribbled organ's end (organ absent there)
ANY_SLICE_SHARE = 0.1  # pairs whose target is any slice of the series, however far from the organs


def chaos_root() -> Path:
    """Default CHAOS location: ../shared/data/chaos_t2spir beside the repository."""
    return Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "chaos_t2spir"


@dataclass
class Volume:
    """One study at model size: per contrast images (K, S, S) in [0, 1], labels, slice positions (mm), and
    where known the tissue codes (K, S, S) that random contrasts are rendered from. A volume without images
    (organ label maps in a synthetic body) is only ever rendered."""

    name: str
    images: dict[str, np.ndarray]
    labels: dict[str, np.ndarray]
    positions: dict[str, np.ndarray]
    spacing: tuple[float, float]  # (row, column) mm of a model-size pixel
    geometry: dict[str, tuple[np.ndarray, tuple[int, int]]] = field(default_factory=dict)  # ijk_to_ras, (J, I)
    organ_slices: dict[str, np.ndarray] = field(default_factory=dict)
    tissues: dict[str, np.ndarray] = field(default_factory=dict)  # tissue codes per contrast: random contrasts
    weight: float = 1.0  # how often the sampler draws this volume, relative to the others

    def __post_init__(self) -> None:
        for c, lab in self.labels.items():
            self.organ_slices[c] = np.flatnonzero(lab.reshape(len(lab), -1).any(1))


def model_spacing(series, size: int) -> tuple[float, float]:
    """(row, column) mm of a pixel once the series' slices are resized to `size` x `size`."""
    sp = series.spacing
    return float(sp[1]) * series.shape[1] / size, float(sp[0]) * series.shape[2] / size


def volume_from_series(name: str, images: dict, labels: dict, size: int) -> Volume:
    """Build a model-size `Volume` from Series per contrast (positions along the first series' normal)."""
    first = next(iter(images.values()))
    normal = first.slice_normal
    imgs, labs, pos = {}, {}, {}
    for c, series in images.items():
        imgs[c] = resize_slices(normalize_intensity(series.array), (size, size), "bilinear").astype(np.float32)
        labs[c] = resize_slices(np.asarray(labels[c].array, dtype=np.uint8), (size, size), "nearest")
        pos[c] = series.slice_centres() @ normal
    spacing = model_spacing(first, size)
    geometry = {c: (s.ijk_to_ras.copy(), (int(s.shape[1]), int(s.shape[2]))) for c, s in images.items()}
    return Volume(name, imgs, labs, pos, spacing, geometry)


def load_chaos(subjects: tuple[str, ...] = TRAIN_SUBJECTS, size: int = 128, root: Path | None = None) -> list[Volume]:
    """CHAOS T2-SPIR subjects as single-contrast volumes ("t2spir")."""
    from ..io.readers import read_series

    root = Path(root) if root else chaos_root()
    out = []
    for s in subjects:
        folder = root / f"patient_{s}" / "T2SPIR"
        image = read_series(folder / "image.nii.gz")
        label = read_series(folder / "label.nii.gz")
        label = label.with_array(np.rint(label.array).astype(np.uint8))
        out.append(volume_from_series(f"chaos_{s}", {"t2spir": image}, {"t2spir": label}, size))
    return out


def load_chaos_masks(subjects: tuple[str, ...], size: int = 128, root: Path | None = None,
                     bodies: int = 1) -> list[Volume]:
    """CHAOS organ label maps (never the images), each in `bodies` different synthetic bodies: image-free
    volumes whose pairs are always rendered with random contrasts."""
    from ..io.readers import read_series

    root = Path(root) if root else chaos_root()
    out = []
    for s in subjects:
        label = read_series(root / f"patient_{s}" / "T2SPIR" / "label.nii.gz")
        labels = resize_slices(np.rint(label.array).astype(np.uint8), (size, size), "nearest")
        spacing = model_spacing(label, size)
        positions = label.slice_centres() @ label.slice_normal
        slice_mm = float(np.median(np.abs(np.diff(positions)))) if len(positions) > 1 else float(label.spacing[2])
        for body in range(bodies):
            tissues = body_tissues(labels, spacing, slice_mm, seed=int(s) * 100 + body)
            out.append(Volume(f"chaos_masks_{s}_{body}", {}, {"synth": labels}, {"synth": positions}, spacing,
                              tissues={"synth": tissues}))
    return out


def phantom_volume(seed: int, size: int = 128, cache_dir: Path | None = None) -> Volume:
    """A generated five-contrast study (cached as .npz under `cache_dir` when given)."""
    path = Path(cache_dir) / f"phantom_{seed}_{size}.npz" if cache_dir else None
    if path is not None and path.exists():
        data = np.load(path)
        contrasts = [c for c in CONTRASTS if f"img_{c}" in data]
        if all(f"tis_{c}" in data for c in contrasts):  # older caches lack the tissue maps: regenerate
            return Volume(f"phantom_{seed}", {c: data[f"img_{c}"].astype(np.float32) for c in contrasts},
                          {c: data[f"lab_{c}"] for c in contrasts}, {c: data[f"pos_{c}"] for c in contrasts},
                          tuple(float(v) for v in data["spacing"]),
                          {c: (data[f"ijk_{c}"], tuple(int(v) for v in data[f"shape_{c}"])) for c in contrasts},
                          tissues={c: data[f"tis_{c}"] for c in contrasts})
    from ..phantom import generate_study

    study = generate_study(seed)
    contrasts = [c for c in CONTRASTS if c in study.images]
    vol = volume_from_series(f"phantom_{seed}", {c: study.images[c] for c in contrasts},
                             {c: study.labels[c] for c in contrasts}, size)
    vol.tissues = {c: resize_slices(study.tissues[c].array, (size, size), "nearest") for c in contrasts}
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {f"img_{c}": vol.images[c].astype(np.float16) for c in contrasts}
        arrays |= {f"lab_{c}": vol.labels[c] for c in contrasts} | {f"pos_{c}": vol.positions[c] for c in contrasts}
        arrays |= {f"ijk_{c}": vol.geometry[c][0] for c in contrasts}
        arrays |= {f"shape_{c}": np.array(vol.geometry[c][1]) for c in contrasts}
        arrays |= {f"tis_{c}": vol.tissues[c] for c in contrasts}
        partial = path.with_name(f"{path.stem}.{os.getpid()}.partial.npz")  # concurrent writers never collide
        np.savez_compressed(partial, spacing=np.array(vol.spacing), **arrays)
        os.replace(partial, path)
    vol.images = {c: v.astype(np.float16).astype(np.float32) for c, v in vol.images.items()}
    return vol


class PairSampler:
    """Draws augmented training pairs from volumes; seeded, so a run can be reproduced."""

    def __init__(self, volumes: list[Volume], size: int = 128, seed: int = 0, strength: float = 1.0) -> None:
        self.volumes, self.size = volumes, size
        weights = np.array([vol.weight for vol in volumes], dtype=np.float64)
        if len(volumes) and (weights <= 0).any():
            raise ValueError("every training volume needs a positive weight")
        self.draw_p = None if len(set(weights.tolist())) <= 1 else weights / weights.sum()
        self.rng = np.random.default_rng(seed)
        self.augment = PairAugmenter(seed, strength)

    def draw_volume(self) -> int:
        """Index of the next pair's volume, drawn in proportion to the volumes' weights."""
        if self.draw_p is None:
            return int(self.rng.integers(len(self.volumes)))
        return int(self.rng.choice(len(self.volumes), p=self.draw_p))

    def _contrasts(self, vol: Volume) -> tuple[str, str]:
        names = list(vol.labels)
        return names[self.rng.integers(len(names))], names[self.rng.integers(len(names))]

    def _images(self, vol: Volume, ref_c: str, tgt_c: str, k_ref: int, k_tgt: int) -> tuple[np.ndarray, np.ndarray]:
        """Reference and target images: two independent random contrasts of the tissue maps (image-free
        volumes, and RANDOMISED_SHARE of generated pairs), else the volume's images, augmented."""
        if vol.tissues and (not vol.images or self.rng.random() < RANDOMISED_SHARE):
            return (render(vol.tissues[ref_c], k_ref, RandomContrast(self.rng), self.rng),
                    render(vol.tissues[tgt_c], k_tgt, RandomContrast(self.rng), self.rng))
        ref_img = self.augment.reference_intensity(vol.images[ref_c][k_ref])
        tgt_img = vol.images[tgt_c][k_tgt]
        if ref_c == tgt_c or self.rng.random() < 0.5:
            tgt_img = self.augment.target_intensity(tgt_img, vol.labels[tgt_c][k_tgt])
        return ref_img, tgt_img

    def _slices(self, vol: Volume, ref_c: str, tgt_c: str) -> tuple[int, int]:
        u = self.rng.random()
        if u < BEYOND_END_SHARE:
            return self._beyond_end(vol, ref_c, tgt_c)
        k_ref = int(self.rng.choice(vol.organ_slices[ref_c]))
        if u < BEYOND_END_SHARE + ANY_SLICE_SHARE:  # a series also holds slices far above or below the organs
            return k_ref, int(self.rng.integers(len(vol.labels[tgt_c])))
        paired = int(np.argmin(np.abs(vol.positions[tgt_c] - vol.positions[ref_c][k_ref])))
        u = self.rng.random()
        if u < 0.5:
            k_tgt = paired
        elif u < 0.72:
            k_tgt = paired + int(self.rng.choice([-1, 1]))
        else:
            k_tgt = paired + int(self.rng.choice([-1, 1]) * self.rng.integers(2, 9))
        organ = vol.organ_slices[tgt_c]  # stay near the organs: blank edge slices teach nothing
        low, high = max(int(organ[0]) - 3, 0), min(int(organ[-1]) + 3, len(vol.labels[tgt_c]) - 1)
        return k_ref, int(np.clip(k_tgt, low, high))

    def _beyond_end(self, vol: Volume, ref_c: str, tgt_c: str) -> tuple[int, int]:
        """A reference slice near one organ's first or last slice and a target 1-5 slices past that end,
        where the organ is absent: the case that leaks organs into the lung bases or the pelvis."""
        labels = vol.labels[ref_c]
        organs = [o for o in range(1, MAX_LABEL + 1) if (labels == o).any()]
        organ = organs[self.rng.integers(len(organs))]
        slices = np.flatnonzero((labels == organ).reshape(len(labels), -1).any(1))
        step = int(self.rng.choice([-1, 1]))
        end = int(slices[0] if step < 0 else slices[-1])
        inside = slices[np.abs(slices - end) <= 2]
        k_ref = int(self.rng.choice(inside))
        at_end = vol.positions[ref_c][end]
        spacing = float(np.median(np.abs(np.diff(vol.positions[ref_c])))) if len(labels) > 1 else 1.0
        direction = np.sign(vol.positions[ref_c][min(end + 1, len(labels) - 1)] - vol.positions[ref_c][max(end - 1, 0)])
        goal = at_end + step * direction * spacing * self.rng.integers(1, 6)
        k_tgt = int(np.argmin(np.abs(vol.positions[tgt_c] - goal)))
        return k_ref, k_tgt

    def pair(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """One pair: reference (1, S, S), scribbles (O, S, S) bool, target (1, S, S), masks (O, S, S)."""
        vol = self.volumes[self.draw_volume()]
        ref_c, tgt_c = self._contrasts(vol)
        k_ref, k_tgt = self._slices(vol, ref_c, tgt_c)
        ref_lab, tgt_lab = vol.labels[ref_c][k_ref], vol.labels[tgt_c][k_tgt]
        ref_img, tgt_img = self._images(vol, ref_c, tgt_c, k_ref, k_tgt)
        ref_t, ref_l = torch.from_numpy(ref_img)[None], torch.from_numpy(ref_lab.astype(np.int64))
        tgt_t, tgt_l = torch.from_numpy(tgt_img)[None], torch.from_numpy(tgt_lab.astype(np.int64))
        if ref_c != tgt_c and vol.geometry:  # other series: bring the target into the reference's frame
            theta = frame_theta(*vol.geometry[ref_c], k_ref, *vol.geometry[tgt_c])
            if not is_identity(theta):
                size = (self.size, self.size)
                tgt_t = resample(tgt_t[None], theta[None], size)[0]
                tgt_l = resample(tgt_l[None, None].float(), theta[None], size, "nearest")[0, 0].long()
        if self.rng.random() < 0.7:
            affine, fx, fy, field = self.augment.geometry(ref_t, ref_l, shared=True)
            ref_t, ref_l = warp(ref_t, ref_l, affine, fx, fy, field)
            tgt_t, tgt_l = warp(tgt_t, tgt_l, affine, fx, fy, field)
        if self.rng.random() < 0.7:
            affine, _, _, _ = self.augment.geometry(tgt_t, tgt_l, shared=False)
            tgt_t, tgt_l = warp(tgt_t, tgt_l, affine)
        scribbles = torch.zeros(MAX_LABEL, self.size, self.size, dtype=torch.bool)
        ref_np = ref_l.numpy()
        present = [o for o in range(1, MAX_LABEL + 1) if (ref_np == o).sum() >= 3]
        keep = [o for o in present if self.rng.random() < 0.85] or present[:1]
        for o in keep:
            stroke = stroke_in_mask(ref_np == o, self.rng, vol.spacing)
            scribbles[o - 1] = torch.from_numpy(stroke)
        masks = torch.stack([(tgt_l == o) for o in range(1, MAX_LABEL + 1)]).float()
        return ref_t, scribbles, tgt_t, masks

    def batch(self, size: int) -> dict[str, torch.Tensor]:
        """A batch of `size` pairs as stacked tensors."""
        parts = [self.pair() for _ in range(size)]
        return {"reference": torch.stack([p[0] for p in parts]), "scribbles": torch.stack([p[1] for p in parts]),
                "target": torch.stack([p[2] for p in parts]), "masks": torch.stack([p[3] for p in parts])}
