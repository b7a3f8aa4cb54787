"""Training throughput (images/s) of the default model vs the original tool's setup, on this CPU.

Usage: python benchmarks/bench_train.py [--seconds 15] [--threads N]

* default: the model, input size and batch of ``TrainConfig``'s defaults (the shipped
  recipe, EfficientNet-Lite0), with the full training step (uint8 -> float,
  rotation/shift/zoom/flip/cut augmentation, masked vote loss, AdamW);
* small CNN: the same with ``--model small``, the fast option (issue 5 asked for at least
  5x the original's training speed; it was the default until issue 10's recipe);
* original: a randomly initialised torchvision ResNet-50 at 45x45, batch 96,
  plain forward/backward/step (what the seed tool trained).

Both run in this process, one after the other, each for ``--seconds`` after
two warm-up steps, on synthetic images (pixel values do not change the cost).
Timings on a shared machine are noisy: run it when nothing else is busy.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np  # noqa: E402
import torch  # noqa: E402

from core.config import get_settings  # noqa: E402
from core.labels.targets import one_hot_targets  # noqa: E402
from core.training.augment import augment_batch  # noqa: E402
from core.training.losses import vote_loss  # noqa: E402
from core.training.model import build_model, count_parameters, uint8_to_input  # noqa: E402
from core.training.train_config import TrainConfig  # noqa: E402


def _time(step, batch: int, seconds: float) -> tuple[float, int]:
    for _ in range(2):
        step()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        step()
        n += batch
    return n / (time.perf_counter() - t0), n


def bench_default(config: TrainConfig, seconds: float) -> tuple[float, int, int]:
    """Training images/s of ``config``'s model, input size, batch and augmentation (synthetic pixels)."""
    size, batch = config.image_size, config.batch_size
    model = build_model(config.model_section())
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (batch, size, size, 3), dtype=np.uint8)
    targets = torch.as_tensor(one_hot_targets(rng.integers(0, 6, batch)), dtype=torch.float32)
    masks = ~torch.isnan(targets)
    gen = torch.Generator().manual_seed(0)
    settings = config.augment
    model.train()

    def step():
        x, t, m = augment_batch(uint8_to_input(images), targets, masks, settings, gen)
        raw, deb = model(x)
        loss = vote_loss(raw, deb, t, m)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    rate, n = _time(step, batch, seconds)
    return rate, n, count_parameters(model)


def bench_original(size: int, batch: int, seconds: float) -> tuple[float, int, int]:
    from torchvision.models import resnet50

    model = resnet50(weights=None, num_classes=37)  # the Galaxy Zoo challenge's 37 outputs
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.rand(batch, 3, size, size)
    y = torch.rand(batch, 37)
    model.train()

    def step():
        loss = torch.nn.functional.mse_loss(torch.sigmoid(model(x)), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    rate, n = _time(step, batch, seconds)
    return rate, n, sum(p.numel() for p in model.parameters())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    threads = args.threads or get_settings().torch_threads
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    config = TrainConfig()  # the defaults every run starts from
    small = TrainConfig(arch="small")
    rows = [
        (f"default: {config.arch}, {config.image_size} px, batch {config.batch_size}, augmented",
         *bench_default(config, args.seconds)),
        (f"--model small, {small.image_size} px, batch {small.batch_size}, augmented",
         *bench_default(small, args.seconds)),
        ("original: ResNet-50 (random init), 45 px, batch 96", *bench_original(45, 96, args.seconds)),
    ]
    print(f"torch {torch.__version__}, {threads} threads, {args.seconds:.0f} s per setup\n")
    print(f"{'setup':<52}{'params':>12}{'images':>9}{'images/s':>10}")
    for name, rate, n, params in rows:
        print(f"{name:<52}{params:>12,}{n:>9}{rate:>10.0f}")
    print(f"\nspeed-up over the original: default {rows[0][1] / rows[2][1]:.1f}x, "
          f"small CNN {rows[1][1] / rows[2][1]:.1f}x  (issue 5's target >= 5x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
