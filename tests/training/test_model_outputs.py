"""Model outputs are valid vote fractions by construction; the loss maths matches its docstring."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.labels.targets import one_hot_targets
from core.schema import VOTE_COLUMNS
from core.training.losses import class_weights, vote_loss, vote_weights
from core.training.model import GalaxyNet, build_model, fractions_from_logits, uint8_to_input

COL = {c: i for i, c in enumerate(VOTE_COLUMNS)}


@pytest.mark.parametrize("arch,size", [("small", 32), ("resnet18", 32)])
def test_outputs_sum_to_one_and_cs_is_derived(arch, size):
    torch.manual_seed(0)
    model = build_model({"arch": arch, "width": 8}).eval()
    x = torch.rand(5, 3, size, size) * 3 - 1  # even odd inputs give valid fractions
    with torch.no_grad():
        f = fractions_from_logits(*model(x)).numpy()
    assert f.shape == (5, 9)
    assert np.allclose(f[:, :6].sum(axis=1), 1.0, atol=1e-6)
    assert (f >= 0).all() and (f <= 1).all()
    assert np.allclose(f[:, COL["P_CS"]], f[:, COL["P_CW"]] + f[:, COL["P_ACW"]] + f[:, COL["P_EDGE"]], atol=1e-6)


def test_resnet18_without_local_weights_says_why():
    model = GalaxyNet("resnet18", pretrained=True)
    assert "ImageNet" in model.init_note


def test_unknown_architecture_is_refused():
    with pytest.raises(ValueError, match="resnet50"):
        GalaxyNet("resnet50")


def test_uint8_to_input_layout():
    batch = np.zeros((2, 4, 6, 3), dtype=np.uint8)
    batch[..., 0] = 255
    x = uint8_to_input(batch)
    assert x.shape == (2, 3, 4, 6) and float(x[:, 0].min()) == 1.0 and float(x[:, 1].max()) == 0.0


def test_hard_class_loss_is_cross_entropy():
    torch.manual_seed(1)
    z, d = torch.randn(6, 6), torch.randn(6, 2)
    t = torch.tensor(one_hot_targets(np.arange(6)), dtype=torch.float32)
    loss = vote_loss(z, d, t, ~torch.isnan(t), spin_weight=0.0)
    assert torch.isclose(loss, torch.nn.functional.cross_entropy(z, torch.arange(6)))


def test_partial_loss_lumps_unknown_answers():
    """Only P_CW, P_ACW known: CE over {CW, ACW, other}, plus the spin-share term."""
    z = torch.tensor([[0.3, 1.2, -0.4, 0.1, -1.0, 0.5]])
    t = torch.full((1, 9), float("nan"))
    t[0, COL["P_CW"]], t[0, COL["P_ACW"]] = 0.7, 0.1
    m = ~torch.isnan(t)
    p = torch.softmax(z, 1)[0]
    coarse = -(0.7 * p[1].log() + 0.1 * p[2].log() + 0.2 * (1 - p[1] - p[2]).log())
    assert torch.isclose(vote_loss(z, torch.zeros(1, 2), t, m, spin_weight=0.0), coarse)
    s = p[1] / (p[1] + p[2])
    q = 0.7 / 0.8
    share = -0.8 * (q * s.log() + (1 - q) * (1 - s).log())
    assert torch.isclose(vote_loss(z, torch.zeros(1, 2), t, m, spin_weight=1.0), coarse + share, atol=1e-6)


def test_debiased_head_only_learns_where_known():
    z = torch.zeros(2, 6)
    d = torch.tensor([[2.0, -1.0], [5.0, 5.0]])
    t = torch.full((2, 9), float("nan"))
    t[:, :6] = torch.tensor(one_hot_targets(np.array([0, 0])), dtype=torch.float32)[:, :6]
    t[0, COL["P_EL_DEBIASED"]] = 0.8
    m = ~torch.isnan(t)
    base = vote_loss(z, torch.zeros(2, 2), t, m, debiased_weight=0.0)
    with_deb = vote_loss(z, d, t, m, debiased_weight=1.0)
    expected = torch.nn.functional.binary_cross_entropy_with_logits(torch.tensor(2.0), torch.tensor(0.8))
    assert torch.isclose(with_deb - base, expected)


def test_weights():
    assert np.allclose(vote_weights(np.array([np.nan, 30, 3, 300])), [1, 1, 0.25, 2])
    t = one_hot_targets(np.array([0, 0, 0, 1]))
    w = class_weights(t, 1.0)
    assert np.isclose(w.mean(), 1) and w[3] == pytest.approx(3 * w[0])
    assert np.array_equal(class_weights(t, 0.0), np.ones(4))
