"""Contact sheet of phantom studies: five contrasts x a few axial levels, with organ label contours.

Slices are shown in radiological convention (anterior up, patient's right on the viewer's left),
whatever the series' storage orientation, and picked at the same RAS z in every series.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from ..display import radiological
from ..organs import ORGANS
from ..series import Series
from .study import SERIES_NAMES, PhantomStudy


def display_slice(series: Series, z_mm: float) -> tuple[np.ndarray, int]:
    """Axial slice nearest to RAS z, reoriented to radiological display; returns (2D array, k)."""
    centres = series.slice_centres()
    k = int(np.argmin(np.abs(centres[:, 2] - z_mm)))
    return radiological(series.array[k], series.ijk_to_ras), k


def levels(study: PhantomStudy, count: int = 3) -> list[float]:
    """RAS z of `count` informative levels: upper liver, kidney hila/pancreas, lower kidneys."""
    lab = study.labels["t2w"]
    z = lab.slice_centres()[:, 2]
    present = {l: z[(lab.array == l).any(axis=(1, 2))] for l in (1, 2, 3, 4)}
    top = float(present[1].max()) - 25 if len(present[1]) else float(z.max()) - 30
    kid = np.concatenate([present[2], present[3]]) if len(present[2]) + len(present[3]) else z
    mid, low = float(np.median(kid)) + 15, float(kid.min()) + 20
    picks = [top, 0.5 * (top + mid), mid, low][: max(count, 1)] if count >= 4 else [top, mid, low][:count]
    return picks


def contact_sheet(studies: list[PhantomStudy], path: str | Path, count: int = 3, dpi: int = 56,
                  names: tuple[str, ...] = SERIES_NAMES) -> Path:
    """Write a PNG grid: one row per (study, level), one column per contrast, with label contours."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [(s, z) for s in studies for z in levels(s, count)]
    fig, axes = plt.subplots(len(rows), len(names), figsize=(2.3 * len(names), 1.85 * len(rows)), squeeze=False,
                             facecolor="black")
    colours = {o.label: o.color_float for o in ORGANS}
    for r, (study, z) in enumerate(rows):
        for c, name in enumerate(names):
            ax = axes[r, c]
            ax.set_facecolor("black")
            image, _ = display_slice(study.images[name], z)
            lab, _ = display_slice(study.labels[name], z)
            body = image[image > np.percentile(image, 50)]
            lo, hi = np.percentile(body, 1) * 0.3, np.percentile(body, 99.3)
            aspect = study.images[name].spacing[1] / study.images[name].spacing[0]
            ax.imshow(image, cmap="gray", vmin=lo, vmax=hi, interpolation="bilinear", aspect=aspect)
            for label, colour in colours.items():
                if (lab == label).any():
                    ax.contour(lab == label, levels=[0.5], colors=[colour], linewidths=0.6)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(name, color="white", fontsize=9)
            if c == 0:
                ax.set_ylabel(f"seed {study.seed}\nz {z:.0f} mm", color="white", fontsize=8)
    fig.subplots_adjust(left=0.06, right=0.995, top=0.97, bottom=0.005, wspace=0.02, hspace=0.02)
    path = Path(path)
    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=dpi, facecolor="black", format="png")
    plt.close(fig)
    from PIL import Image  # matplotlib's own dependency

    buffer.seek(0)
    with Image.open(buffer) as image:  # 128-colour palette: a fraction of the RGBA size
        image.convert("RGB").quantize(colors=128).save(path, optimize=True)
    return path
