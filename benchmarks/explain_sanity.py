"""Is the saliency honest? Model-randomisation check and "on the galaxy, not the sky" (issue 20, section 1).

Usage: python benchmarks/explain_sanity.py [IMAGES] [--model models/gz1-heldout] [--n 200] [--threads 2]

IMAGES: a GZ1 subject-image folder with labels.csv (default ../shared/data/gz1_images_423px
next to the repository). Takes N images the run held out of training (its seed and
val_fraction; core.inference.held_out), explains each one's predicted top raw answer with
core.explain.saliency (Grad-CAM on the last conv stage, mapped back to the 423 x 423 px
original) and prints one table row per network:

* the trained run;
* the same run with its two output heads re-initialised (the first step of Adebayo et al.
  2018's cascading randomisation);
* a copy with every weight re-initialised (their full model-randomisation test).

Columns: mean and spread of the Spearman rank correlation between the trained map and
this network's map (scipy.stats.spearmanr over the original pixels inside the model's frame,
where the maps can differ; 1 = same ranking,
should be clearly below 1 for the randomised copies), and the share of saliency mass
inside the galaxy mask (skimage threshold_otsu on the grey image; the connected component
at the centre, else the nearest within a quarter side) against the mask's share of the
image area. The "uniform over the model's frame" row is the map a model that looks
everywhere in its input equally would give: the bar a real map must clear.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent


def galaxy_mask(img) -> np.ndarray:
    """Bool (H, W): the Otsu-thresholded connected component at (or nearest) the image centre."""
    from skimage.filters import threshold_otsu
    from skimage.measure import label

    grey = np.asarray(img.convert("L"), dtype=np.float32) / 255.0
    labels = label(grey > threshold_otsu(grey), connectivity=2)
    h, w = labels.shape
    centre = labels[h // 2, w // 2]
    if not centre:
        ys, xs = np.nonzero(labels)
        if not len(ys):
            return np.zeros_like(labels, dtype=bool)
        d2 = (ys - h / 2) ** 2 + (xs - w / 2) ** 2
        best = int(np.argmin(d2))
        if d2[best] > (0.25 * min(h, w)) ** 2:
            return np.zeros_like(labels, dtype=bool)
        centre = labels[ys[best], xs[best]]
    return labels == centre


def randomised(model, heads_only: bool, seed: int):
    """A re-initialised copy of a GalaxyNet: the two heads only, or every layer (fresh build, no ImageNet)."""
    import torch

    from core.training.model import build_model

    torch.manual_seed(seed)
    if heads_only:
        net = copy.deepcopy(model)
        net.raw_head.reset_parameters()
        net.debiased_head.reset_parameters()
    else:
        net = build_model({"arch": model.arch, "pretrained": False})
        net.load_state_dict({**net.state_dict(), "mean": model.mean, "std": model.std})
    return net.eval()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("images", nargs="?", default=str(REPO.parent / "shared" / "data" / "gz1_images_423px"))
    parser.add_argument("--model", default=str(REPO / "models" / "gz1-heldout"))
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import pandas as pd
    import torch
    from scipy.stats import spearmanr

    from core.explain.geometry import to_original
    from core.explain.saliency import explain_image
    from core.images.reading import open_image
    from core.inference.held_out import held_out_mask
    from core.inference.predict import load_run
    from core.schema import RAW_COLUMNS

    torch.set_num_threads(args.threads)
    run = load_run(args.model)
    folder = Path(args.images)
    table = pd.read_csv(folder / "labels.csv", dtype=str)
    ids = table["OBJID"].tolist()
    held = held_out_mask(run.config, ids)
    pool = np.flatnonzero(held) if held is not None else np.arange(len(ids))
    pick = np.random.default_rng(args.seed).permutation(pool)[:args.n]
    nets = {"heads re-initialised": randomised(run.model, True, args.seed + 1),
            "all weights re-initialised": randomised(run.model, False, args.seed + 2)}
    names = ["trained run"] + list(nets) + ["uniform over the model's frame"]
    rho = {k: [] for k in names}
    mass = {k: [] for k in names}
    uniform = {k: 0 for k in names}
    beats = {k: 0 for k in names}
    areas = []
    t0 = time.perf_counter()
    for i in pick:
        img = open_image(folder / table["FILE"].iloc[i])
        top = RAW_COLUMNS[int(np.argmax(run.predict([img])[0][:6]))]
        mask = galaxy_mask(img)
        areas.append(mask.mean())
        trained = explain_image(run, img, top)
        maps = {"trained run": trained}
        maps.update({k: explain_image(run, img, top, model=net) for k, net in nets.items()})
        flat = to_original(np.ones((1, 1)), trained.box, *img.size)
        inside = flat > 0  # the model's frame: outside it every map is 0, which would inflate rho
        for name in names:
            values = flat / flat.sum() if name.startswith("uniform") else maps[name].values
            uniform[name] += bool(getattr(maps.get(name), "uniform", False))
            mass[name].append(float(values[mask].sum()))
            flat_map = name.startswith("uniform")  # constant inside the frame: no rank correlation
            rho[name].append(np.nan if flat_map else float(spearmanr(trained.values[inside], values[inside]).statistic))
            beats[name] += bool(values[mask].sum() > (flat[mask].sum() / flat.sum()))
    seconds = time.perf_counter() - t0
    area = float(np.mean(areas))
    print(f"{len(pick)} held-out GZ1 images of {folder} (model {run.run_dir}, {run.config.get('model', {}).get('arch')}, "
          f"answer = the model's top raw answer); {seconds:.0f} s, load average {os.getloadavg()[0]:.2f}")
    print("| network | Spearman with trained map, mean (sd) | saliency mass on the galaxy mask | "
          "mask area share | mass / area | images with more mass on the galaxy than a uniform frame | "
          "maps all zero (uniform) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name in names:
        r, m = np.array(rho[name]), np.array(mass[name])
        shown = "—" if np.isnan(r).all() else f"{np.nanmean(r):.3f} ({np.nanstd(r):.3f})"
        print(f"| {name} | {shown} | {m.mean():.3f} | {area:.3f} | "
              f"{m.mean() / area:.2f} | {'—' if name.startswith('uniform') else f'{beats[name] / len(pick):.2f}'} | "
              f"{uniform[name]} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
