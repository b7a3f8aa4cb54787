"""How good are the embeddings for "galaxies like this one"? (issue 20, section 2)

Usage: python benchmarks/embedding_quality.py [IMAGES] [--model models/gz1-heldout] [--views 1 4] [--limit N]

IMAGES: a GZ1 subject-image folder with labels.csv (default ../shared/data/gz1_images_423px
next to the repository). Only the images the run held out of training are used (its seed and
val_fraction; core.inference.held_out). Their labels are the GZ1 6-way leaf class
(CLASS_NAME: a class-derived label, the source's most specific class, not a vote fraction).
Each image is embedded as ``python -m core embed`` does (framed by the galaxy,
core.explain.features, for each ``--views`` setting) and searched with the exact cosine search
of ``python -m core similar`` (core.explain.neighbours). Printed per views setting:

* kNN label agreement: how often the majority class of a galaxy's 10 nearest other held-out
  galaxies is its own class (ties go to the class met first, nearest first); beside it the
  share of the commonest class (always answering it) and the chance agreement sum(p_c^2);
* rotation recall: a copy of each image turned by 90, 180 or 270 degrees (PIL, before
  framing) is embedded and searched against the originals; the share whose original is
  among its 5 nearest.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent

ROTATIONS = {90: 2, 180: 3, 270: 4}  # degrees anticlockwise -> PIL.Image.Transpose value (ROTATE_90 = 2 ...)


def majority(labels: list[str]) -> str:
    """Most common label; a tie goes to the tied label met first (nearest first)."""
    counts = Counter(labels)
    top = max(counts.values())
    return next(lab for lab in labels if counts[lab] == top)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("images", nargs="?", default=str(REPO.parent / "shared" / "data" / "gz1_images_423px"))
    parser.add_argument("--model", default=str(REPO / "models" / "gz1-heldout"))
    parser.add_argument("--views", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--limit", type=int, default=0, help="use only the first N held-out images (0: all)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)

    import pandas as pd
    import torch
    from PIL import Image

    from core.explain.features import embed_prepared
    from core.explain.neighbours import NeighbourIndex
    from core.images.reading import open_image
    from core.inference.held_out import held_out_mask
    from core.inference.predict import crop_for_images, load_run

    torch.set_num_threads(args.threads)
    run = load_run(args.model)
    folder = Path(args.images)
    table = pd.read_csv(folder / "labels.csv", dtype=str)
    held = held_out_mask(run.config, table["OBJID"].tolist())
    if held is None:
        print(f"{args.model} held nothing out of training: these figures would be on its training images",
              file=sys.stderr)
        return 2
    table = table[held].reset_index(drop=True)
    if args.limit:
        table = table.head(args.limit)
    crop = crop_for_images(run, folder)
    t0 = time.perf_counter()
    originals, rotated = [], {deg: [] for deg in ROTATIONS}
    for name in table["FILE"]:
        img = open_image(folder / name)
        originals.append(img)
        for deg, op in ROTATIONS.items():
            rotated[deg].append(img.transpose(Image.Transpose(op)))
    prep = run.prepare(originals, crop_fraction=crop)
    prep_rot = {deg: run.prepare(imgs, crop_fraction=crop) for deg, imgs in rotated.items()}
    labels = table["CLASS_NAME"].tolist()
    shares = np.array(list(Counter(labels).values())) / len(labels)
    rows = []
    for views in args.views:
        emb = embed_prepared(run.model, prep, views=views)
        index = NeighbourIndex(emb)
        pos, _ = index.search(emb, 10, exclude=list(range(len(emb))))
        agree = np.mean([majority([labels[j] for j in row]) == labels[i] for i, row in enumerate(pos)])
        recall = {}
        for deg, arr in prep_rot.items():
            found, _ = index.search(embed_prepared(run.model, arr, views=views), 5)
            recall[deg] = float(np.mean([i in row for i, row in enumerate(found)]))
        rows.append((views, agree, recall))
    seconds = time.perf_counter() - t0
    print(f"{len(table)} held-out GZ1 images of {folder} (class-derived labels: CLASS_NAME), model {run.run_dir} "
          f"({run.model.raw_head.in_features} features); {seconds:.0f} s, load average {os.getloadavg()[0]:.2f}")
    print(f"baselines: commonest class {shares.max():.3f}, chance agreement sum(p^2) {(shares ** 2).sum():.3f}")
    print("| views | 10-NN majority class = own class | rotated 90 deg: original in 5 nearest | 180 deg | 270 deg "
          "| mean over the three |")
    print("|---:|---:|---:|---:|---:|---:|")
    for views, agree, recall in rows:
        print(f"| {views} | {agree:.3f} | {recall[90]:.3f} | {recall[180]:.3f} | {recall[270]:.3f} | "
              f"{np.mean(list(recall.values())):.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
