"""Contact sheet for the demo: each contrast, a few slices (radiological view), predicted and true contours."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def render_demo_sheet(study, predictions: dict[str, np.ndarray], scribbles: np.ndarray, path: Path,
                      slices_per_series: int = 3) -> Path:
    """Write a PNG grid: rows = series, columns = slices through the organs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..display import radiological
    from ..organs import ORGANS
    from ..phantom import SERIES_NAMES

    fig, axes = plt.subplots(len(SERIES_NAMES), slices_per_series, figsize=(2.4 * slices_per_series, 2.4 * len(SERIES_NAMES)))
    for row, name in enumerate(SERIES_NAMES):
        matrix = study.images[name].ijk_to_ras
        image, truth, pred = study.images[name].array, study.labels[name].array, predictions[name]
        organ_slices = np.flatnonzero(truth.reshape(truth.shape[0], -1).any(axis=1))
        picks = np.linspace(organ_slices.min(), organ_slices.max(), slices_per_series + 2)[1:-1].round().astype(int) \
            if organ_slices.size else np.linspace(0, truth.shape[0] - 1, slices_per_series).round().astype(int)
        for col, k in enumerate(picks):
            ax = axes[row, col]
            ax.imshow(radiological(image[k], matrix), cmap="gray")
            for organ in ORGANS:
                colour = np.array(organ.color) / 255.0
                if (truth[k] == organ.label).any():
                    ax.contour(radiological(truth[k] == organ.label, matrix), levels=[0.5], colors=[colour], linestyles="dashed", linewidths=0.8)
                if (pred[k] == organ.label).any():
                    ax.contour(radiological(pred[k] == organ.label, matrix), levels=[0.5], colors=[colour], linewidths=1.2)
            if name == "t1w" and scribbles[k].any():
                ax.imshow(np.ma.masked_equal(radiological(scribbles[k], matrix), 0), cmap="autumn", alpha=0.9, interpolation="nearest")
            ax.set_xticks([]), ax.set_yticks([])
            ax.set_title(f"{name} slice {k}", fontsize=7)
    fig.suptitle("CrossMR demo: solid = predicted, dashed = truth", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
