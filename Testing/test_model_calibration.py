"""Per-organ presence thresholds: calibration picks the threshold that drops false slices past an organ's
end, the thresholds travel with the weights, and inference honours them."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import torch

from CrossMRLib.methods.crossmr_model import CrossMRModelMethod
from CrossMRLib.model.calibration import calibrate_presence
from CrossMRLib.model.config import ModelConfig
from CrossMRLib.model.network import CrossMRNet
from CrossMRLib.model.weights import save_weights
from CrossMRLib.pairing import identity_pairing
from CrossMRLib.series import Series, make_ijk_to_ras

TINY = ModelConfig(input_size=64, embed_dim=16, depths=(1, 1, 1, 1), hidden_dim=32, num_queries=3, num_points=4)


class OneOrganNet:
    """A stand-in for the method: the organ fills a square on every slice, but it truly ends at slice 3;
    the network is confident (0.95) where the organ is and less so (0.72) on the two slices past its end."""

    model = SimpleNamespace(config=SimpleNamespace(num_organs=1))

    def slice_outputs(self, reference, scribbles, target, pairing):
        probs = torch.zeros(6, 1, 8, 8)
        probs[:, 0, 2:6, 2:6] = 0.9
        presence = torch.tensor([[0.95]] * 4 + [[0.72]] * 2)
        yield 0, 6, probs, presence

    def clean(self, labels, reference, scribbles, target, pairing):
        return labels


def test_calibration_picks_the_lowest_threshold_that_drops_slices_past_the_end():
    truth = np.zeros((6, 8, 8), np.uint8)
    truth[:4, 2:6, 2:6] = 1
    target = SimpleNamespace(shape=truth.shape)
    result = calibrate_presence(OneOrganNet(), cases=[(None, None, target, truth, None)] * 2)
    assert result["presence_thresholds"] == [0.75]
    assert result["mean_dice"]["0.5"] == [0.8]  # six predicted slices, four true: 2*4/(6+4)
    assert result["mean_dice"]["0.75"] == [1.0]


def test_presence_thresholds_travel_with_the_weights_and_drive_inference(tmp_path):
    torch.manual_seed(0)
    net = CrossMRNet(TINY)
    plain, strict = tmp_path / "plain.pt", tmp_path / "strict.pt"
    rng = np.random.default_rng(0)
    series = Series(rng.random((4, 40, 40)).astype(np.float32) * 100, make_ijk_to_ras((1.5, 1.5, 5.0), (0, 0, 0)), "s")
    scribbles = np.zeros(series.shape, np.uint8)
    scribbles[0, 10:14, 10:30] = 1  # slices 1..3 rely on the presence score
    with torch.no_grad():  # make the untrained network sure of itself: every query scores high
        for name, param in net.named_parameters():
            if "score" in name and name.endswith("bias"):
                param.fill_(3.0)  # presence about 0.95
    save_weights(net, plain)
    save_weights(net, strict, {"presence_thresholds": [0.999] * 4})
    default = CrossMRModelMethod(weights=plain, threads=1, clean_up=False)
    calibrated = CrossMRModelMethod(weights=strict, threads=1, clean_up=False)
    assert default.presence_thresholds == [0.5] * 4
    assert calibrated.presence_thresholds == [0.999] * 4
    pairing = identity_pairing(series)
    assert (default.segment_target(series, scribbles, series, pairing)[1:] == 1).any()
    strict_labels = calibrated.segment_target(series, scribbles, series, pairing)
    assert not strict_labels[1:].any()  # below the threshold: absent
    assert (strict_labels[0][scribbles[0] > 0] == 1).all()  # the strokes themselves are never dropped
