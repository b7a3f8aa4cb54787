"""Prediction speed on this machine's CPU: warm single-image latency and batched throughput.

Single image: the Predict page's upload path (``core.inference.batch.predict_one`` on the
file's bytes: checked decode, preprocessing, forward pass), with the model already
loaded as the page's ``st.cache_resource`` holds it; p50 and p95 over many calls.
Batched: ``core.inference.batch.predict_set`` over an image folder (decode + preprocess +
forward, what ``python -m core predict --images`` and the page's set view do), and the
forward pass alone on already prepared images. Targets (issue 6): p50 < 50 ms,
>= 300 images/s.

Usage: python benchmarks/bench_predict.py [--model models/RUN] [--images DIR] [--repeats N]
Without --model it uses models/demo when present, otherwise a freshly initialised
default model (same architecture and input size as a default training run), and says so.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from core.config import get_settings  # noqa: E402
from core.images.folder import list_image_files  # noqa: E402
from core.images.reading import open_image  # noqa: E402
from core.inference.batch import predict_one, predict_set  # noqa: E402
from core.inference.galaxy_sets import set_from_folder  # noqa: E402
from core.inference.predict import load_run  # noqa: E402
from core.inference.runs import default_run  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def fresh_default_run(folder: Path) -> Path:
    """A run folder holding an untrained default model (TrainConfig defaults: EfficientNet-Lite0, 64 px)."""
    from core.training import checkpoint as ckpt
    from core.training.model import build_model, count_parameters
    from core.training.train import TrainConfig

    cfg = TrainConfig(sources=[])
    model_cfg = cfg.model_section() | {"pretrained": False}
    torch.manual_seed(0)
    model = build_model(model_cfg)
    ckpt.write_config(folder, {"run_id": "fresh-default", "model": model_cfg, "image_size": cfg.image_size,
                               "crop_fraction": 1.0, "n_params": count_parameters(model)})
    ckpt.save_model(folder, model.state_dict())
    return folder


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="run folder (default: models/demo, else a fresh default model)")
    parser.add_argument("--images", help="image folder for the batch test (default: data/demo/gz1)")
    parser.add_argument("--repeats", type=int, default=200, help="timed single-image calls (default 200)")
    args = parser.parse_args()

    settings = get_settings()
    torch.set_num_threads(settings.torch_threads)
    tmp = tempfile.TemporaryDirectory()
    if args.model:
        run_dir, which = Path(args.model), f"{args.model}"
    elif (default_run(settings) / "model.pt").exists():
        run_dir = default_run(settings)
        which = "models/demo (shipped demo model)" if settings.is_shipped(run_dir) else f"{run_dir} (your demo run)"
    else:
        run_dir = fresh_default_run(Path(tmp.name) / "fresh")
        which = "freshly initialised default model (models/demo not present)"
    model = load_run(run_dir)

    images_dir = Path(args.images) if args.images else settings.demo_dir / "gz1"
    files = list_image_files(images_dir)
    if not files:
        print(f"no images in {images_dir}", file=sys.stderr)
        return 1
    sample = files[0].read_bytes()
    with Image.open(files[0]) as first:
        with_size = first.size

    # Single image, warm: the page's upload path on the same bytes each time.
    for _ in range(10):
        predict_one(model, sample, files[0].name)
    lat = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        predict_one(model, sample, files[0].name)
        lat.append((time.perf_counter() - t0) * 1000)
    lat_tta = []
    for _ in range(max(20, args.repeats // 5)):
        t0 = time.perf_counter()
        predict_one(model, sample, files[0].name, tta=True)
        lat_tta.append((time.perf_counter() - t0) * 1000)

    # Batched, end to end from files (decode + check + preprocess + forward).
    gset = set_from_folder(images_dir)
    predict_set(model, gset.head(64))  # warm-up
    t0 = time.perf_counter()
    result = predict_set(model, gset, batch_size=64)
    end_to_end = len(gset) / (time.perf_counter() - t0)
    assert result.ok.all(), result.failed[:3]

    # Forward pass only, on prepared images (what throughput the model itself allows).
    prepared = model.prepare([open_image(f) for f in files[:256]])
    reps = max(1, 2048 // len(prepared))
    model.predict_prepared(prepared[:64])
    t0 = time.perf_counter()
    for _ in range(reps):
        model.predict_prepared(prepared, batch_size=64)
    forward_only = reps * len(prepared) / (time.perf_counter() - t0)

    print(f"model        {which}: {model.recorded.arch}, "
          f"{model.image_size} px input, {model.n_params:,} parameters")
    print(f"machine      {torch.get_num_threads()} torch threads, torch {torch.__version__}")
    print(f"images       {len(files)} files in {images_dir} (first is {with_size[0]}x{with_size[1]})")
    print()
    print(f"{'measure':<52}{'value':>12}  target")
    print(f"{'single image, page path, p50':<52}{statistics.median(lat):>9.1f} ms  < 50 ms")
    print(f"{'single image, page path, p95':<52}{percentile(lat, 95):>9.1f} ms")
    print(f"{'single image with TTA (8 views), p50':<52}{statistics.median(lat_tta):>9.1f} ms")
    print(f"{'batched, files -> fractions (decode+prep+forward)':<52}{end_to_end:>7.0f} img/s  >= 300 img/s")
    print(f"{'batched, forward pass only (prepared images)':<52}{forward_only:>7.0f} img/s")
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
