"""Inference steps users get by default: predictions made in the reference's frame come back onto the target's
own pixels, and smoothing across slices drops one-slice flickers but keeps organs that run through the series."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import torch
import torch.nn.functional as F

from CrossMRLib.model.inference import iter_slice_outputs, smoothed_labels


class EchoNet:
    """A stand-in network whose mask logits are the (stride-2) input image itself: a correct pass maps
    the image's square back onto the same target pixels whatever the frames."""

    def eval(self) -> None:
        pass

    def encode(self, images: torch.Tensor, project_mask: bool = True) -> torch.Tensor:
        return images

    def decode(self, images: torch.Tensor, tokens, final_only: bool = False) -> list[dict]:
        logits = 40.0 * (F.avg_pool2d(images, 2) - 0.5)  # (B, 1, S/2, S/2); square -> +20, outside -20
        return [{"masks": logits[:, :, None], "scores": torch.full((len(images), 1, 1), 5.0)}]


def _outputs(to_reference=None, to_target=None) -> torch.Tensor:
    images = np.zeros((2, 64, 64), np.float32)
    images[:, 20:44, 16:40] = 1.0
    cache = SimpleNamespace(gather=lambda rows: None)
    batches = list(iter_slice_outputs(EchoNet(), cache, images, np.zeros((2, 1), np.int64), (128, 128),
                                      to_reference=to_reference, to_target=to_target))
    return batches[0][2][:, 0]


def test_predictions_in_the_reference_frame_come_back_onto_the_target_pixels():
    still = _outputs() > 0.5
    assert 0.1 < still.float().mean() < 0.2  # the square, up-sampled onto the (128, 128) target grid
    flip = np.array([[[-1.0, 0, 0], [0, 1, 0]]] * 2)  # series whose columns run the other way
    assert ((_outputs(flip, flip) > 0.5) != still).float().mean() < 0.002
    shift = np.array([[[1.0, 0, 0.25], [0, 1, 0]]] * 2)  # and one moved sideways: there and back again
    back = np.array([[[1.0, 0, -0.25], [0, 1, 0]]] * 2)
    moved = _outputs(shift, back) > 0.5
    assert (moved[:, :, 40:88] != still[:, :, 40:88]).float().mean() < 0.01  # edges of the field of view aside


def _stack(values: list[float]) -> tuple[torch.Tensor, torch.Tensor]:
    probs = torch.zeros(len(values), 1, 4, 4)
    for k, v in enumerate(values):
        probs[k, 0, 1:3, 1:3] = v
    return probs, torch.ones(len(values), 1)


def _labels(values: list[float], batch: int, presence: list[float] | None = None, threshold: float = 0.5) -> np.ndarray:
    probs, scores = _stack(values)
    if presence is not None:
        scores = torch.tensor(presence)[:, None]
    outputs = [(a, min(a + batch, len(values)), probs[a:a + batch], scores[a:a + batch])
               for a in range(0, len(values), batch)]
    out = np.zeros((len(values), 4, 4), np.uint8)
    for a, b, labels in smoothed_labels(outputs, len(values), threshold):
        out[a:b] = labels
    return out[:, 1, 1]


def test_smoothing_drops_a_lone_uncertain_slice_and_keeps_a_running_organ():
    assert _labels([0, 0, 0.6, 0, 0], batch=5).tolist() == [0, 0, 0, 0, 0]
    assert _labels([0.9, 0.9, 0.9, 0.9, 0.6], batch=5).tolist() == [1, 1, 1, 1, 1]
    assert _labels([0, 0.9, 0.9, 0.9, 0], batch=5).tolist() == [0, 1, 1, 1, 0]  # ends stay where they are


def test_smoothing_gives_the_same_labels_however_the_slices_are_batched():
    values = [0, 0.55, 0.7, 0.95, 0.6, 0.4, 0.9, 0.52, 0]
    whole = _labels(values, batch=len(values))
    for batch in (1, 2, 4):
        assert np.array_equal(_labels(values, batch=batch), whole), batch


def test_presence_below_the_threshold_empties_the_slice_before_smoothing():
    values = [0.9, 0.9, 0.9, 0.9]
    assert _labels(values, 4, presence=[0.95, 0.95, 0.6, 0.6], threshold=0.8).tolist() == [1, 1, 0, 0]
