"""CrossMR's own FocalNet (CrossMRLib/model/focalnet.py) is timm's: same parameter names, same initialisation
for a seed, same outputs; so weights trained either way load and run the same."""

from __future__ import annotations

import pytest
import torch

from CrossMRLib.model.focalnet import FocalNet

timm_focalnet = pytest.importorskip("timm.models.focalnet", reason="timm comes with the test extras")


def _timm(embed_dim: int, depths: tuple[int, ...]) -> torch.nn.Module:
    net = timm_focalnet.FocalNet(in_chans=1, num_classes=0, embed_dim=embed_dim, depths=depths, drop_path_rate=0.0)
    net.head, net.norm = torch.nn.Identity(), torch.nn.Identity()
    return net.eval()


@pytest.mark.parametrize("embed_dim, depths", [(16, (1, 1, 2, 1)), (8, (2, 1, 1, 1))])
def test_same_parameters_initialisation_and_outputs_as_timm(embed_dim, depths):
    torch.manual_seed(3)
    ours = FocalNet(in_chans=1, embed_dim=embed_dim, depths=depths).eval()
    torch.manual_seed(3)
    theirs = _timm(embed_dim, depths)
    mine, other = ours.state_dict(), theirs.state_dict()
    assert list(mine) == list(other)
    assert all(torch.equal(mine[k], other[k]) for k in mine)  # the same draws, in the same order
    with torch.no_grad():
        for p in theirs.parameters():  # trained-looking weights, not the near-zero initial ones
            p.add_(torch.randn_like(p) * 0.2)
        ours.load_state_dict(theirs.state_dict())
        x = torch.rand(2, 1, 64, 96)
        got = ours.forward_intermediates(x)
        want = theirs.forward_intermediates(x, intermediates_only=True)
    assert [g.shape for g in got] == [w.shape for w in want]
    assert all(torch.allclose(g, w, atol=1e-5) for g, w in zip(got, want))
