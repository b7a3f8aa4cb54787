"""One training-recipe trial on an inner validation split of the training part (issue 10, docs/MODEL_TRIALS.md).

Usage: python benchmarks/recipe_trials.py NAME [DATA] [--arch effnet_lite0] [--size 64] [--epochs 8]
       [--lr 2e-3] [--balance 0.5] [--zoom 0.15] [--shift 0.05] [--cut 0.4] [--blocks N] [--spin-weight 1]
       [--encoder lite0] [--encoder-lr 1] [--mirror-pair] [--frame-multiple 4] [--max-frame 3] [--crop-fractions GZ1,CUTOUTS]
       [--flag-spirals N] [--mixup ALPHA] [--seed 0] [--threads 1]
       [--log FILE] [--save-preds FILE.npz]

DATA holds gz1_images_423px and sdss_dr12_cutouts_120px_0p2arcsec (default ../shared/data next
to the repository). The held-out fifth of the shipped twin (SHA-256("0:ID") < 0.2) is never
used: of the remaining IDs, those with SHA-256("1:ID") < 0.2 are scored and the rest trained on,
with the same pieces as ``python -m core train`` (framed pixels from the disk cache,
augment_batch, vote_loss, AdamW with a one-cycle schedule). Scores: top-answer accuracy, macro
recall and GZ1 spin accuracy on the inner GZ1 images re-cut to their central 100/60/30 %
(framed by the galaxy, no crop given), and spin accuracy on the inner spin cutouts; each with
and without TTA, plus the per-class recall at 100 %. Prints one JSON line (and appends it to
--log if given); --save-preds keeps every inner prediction and target for later analysis
(ensembles, confusion matrices) without retraining. Epoch progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from core.images.crop import is_crop_fraction
from core.images.preprocess import cached_arrays, prepare_image
from core.labels.join import load_labelled_set
from core.schema import RAW_COLUMNS
from core.scoring import score
from core.training import encoders
from core.training.augment import DIHEDRAL_GROUP, AugmentSettings, augment_batch, dihedral, swap_spin
from core.training.losses import class_weights, vote_loss, vote_weights
from core.training.model import EFFNET_BLOCKS, GalaxyNet, fractions_from_logits, uint8_to_input
from core.training.train import is_validation

REPO = Path(__file__).resolve().parent.parent
SETS = (("gz1_images_423px", "labels.csv"), ("sdss_dr12_cutouts_120px_0p2arcsec", "index.csv"))


def load(data: Path, size: int, crops: tuple[float | None, float | None] = (None, None)) -> dict:
    """Framed pixels (or declared centre crops, one per set), targets and split masks of both sets, concatenated."""
    joins = [load_labelled_set(data / folder / csv, data / folder) for folder, csv in SETS]
    ids = np.concatenate([j.labels.ids.astype(str) for j in joins])
    held = is_validation(ids, 0, 0.2)
    inner = ~held & is_validation(ids, 1, 0.2)
    return {"x": np.concatenate([cached_arrays(j.files, size, crop) for j, crop in zip(joins, crops, strict=True)]),
            "t": np.concatenate([j.labels.targets for j in joins]),
            "cd": np.concatenate([j.labels.class_derived for j in joins]),
            "nvote": np.concatenate([j.labels.nvote for j in joins]),
            "src": np.concatenate([np.full(len(j), k) for k, j in enumerate(joins)]),
            "files": [f for j in joins for f in j.files], "train": ~held & ~inner, "inner": inner}


def add_flag_spirals(d: dict, data: Path, size: int, n: int, seed: int) -> dict:
    """Append ``n`` spin-less cutouts of the training part as "spiral from the SPIRAL flag" rows (trial T26).

    Their only label is the folder's GZ1 SPIRAL flag = 1 (a class, not votes): P_EL, P_DK and P_MG
    are set to 0 and P_CW, P_ACW, P_EDGE left unknown, so :func:`vote_loss` scores them as
    -log(P_CW + P_ACW + P_EDGE), the coarsened cross-entropy of "a spiral of some kind". They are
    flagged class-derived, trained on only, never scored; the held-out and inner rules apply to
    their image IDs as to every other.
    """
    import pandas as pd

    folder = data / SETS[1][0]
    index = pd.read_csv(folder / SETS[1][1], dtype={"FILE": str})
    spinless = index[index["GZ1_P_CW"].isna() & (index["GZ1_SPIRAL_FLAG"] == 1)]
    files = [folder / f for f in spinless["FILE"] if (folder / f).exists()]
    ids = np.array([f.stem for f in files])
    part = ~is_validation(ids, 0, 0.2) & ~is_validation(ids, 1, 0.2)
    pick = np.random.default_rng(seed).permutation(np.flatnonzero(part))[:n]
    files = [files[i] for i in sorted(pick)]
    t = np.full((len(files), d["t"].shape[1]), np.nan)
    t[:, [RAW_COLUMNS.index(c) for c in ("P_EL", "P_DK", "P_MG")]] = 0.0
    print(f"flag spirals: {len(files)} of {len(spinless)} spin-less cutouts added to training", file=sys.stderr)
    return {"x": np.concatenate([d["x"], cached_arrays(files, size, None)]), "t": np.concatenate([d["t"], t]),
            "cd": np.concatenate([d["cd"], np.ones(len(files), bool)]),
            "nvote": np.concatenate([d["nvote"], np.full(len(files), np.nan)]),
            "src": np.concatenate([d["src"], np.full(len(files), 2)]), "files": d["files"] + files,
            "train": np.concatenate([d["train"], np.ones(len(files), bool)]),
            "inner": np.concatenate([d["inner"], np.zeros(len(files), bool)])}


def crop_pair(text: str) -> tuple[float, float]:
    """argparse type of --crop-fractions: two centre-crop fractions in (0, 1], GZ1 images first, then cutouts."""
    try:
        pair = tuple(float(v) for v in text.split(","))
    except ValueError:
        pair = ()
    if len(pair) != 2 or not all(is_crop_fraction(v) for v in pair):
        raise argparse.ArgumentTypeError(f"expected two fractions in (0, 1] such as 0.45,1.0, got {text!r}")
    return pair


class MirrorPair(torch.nn.Module):
    """A net made exactly mirror-equivariant: logits of x and of its mirror (CW/ACW swapped back), averaged.

    The clockwise-minus-anticlockwise logit is then antisymmetric under a flip by construction
    (trial T15); it costs two encoder passes per image.
    """

    def __init__(self, net: GalaxyNet):
        super().__init__()
        self.net = net
        self.backbone = net.backbone
        mirrored = {"P_CW": "P_ACW", "P_ACW": "P_CW"}
        self.swap = [RAW_COLUMNS.index(mirrored.get(c, c)) for c in RAW_COLUMNS]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raw, deb = self.net(torch.cat([x, torch.flip(x, dims=[3])]))
        n = len(x)
        return (raw[:n] + raw[n:][:, self.swap]) / 2, (deb[:n] + deb[n:]) / 2


def train(model: GalaxyNet, d: dict, args) -> None:
    tr = np.flatnonzero(d["train"])
    images = d["x"][tr]
    targets = torch.as_tensor(d["t"][tr], dtype=torch.float32)
    masks = ~torch.isnan(targets)
    weights = torch.as_tensor(vote_weights(d["nvote"][tr]) * class_weights(d["t"][tr], args.balance),
                              dtype=torch.float32)
    steps = math.ceil(len(tr) / 64)
    encoder = list(model.backbone.parameters())
    heads = [p for n, p in model.named_parameters() if "backbone." not in n]
    peaks = [args.lr * args.encoder_lr, args.lr]
    opt = torch.optim.AdamW([{"params": encoder, "lr": peaks[0]}, {"params": heads, "lr": peaks[1]}],
                            weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=peaks, epochs=args.epochs, steps_per_epoch=steps,
                                                pct_start=0.3)
    aug = AugmentSettings(max_shift=args.shift, max_zoom=args.zoom, max_cut=args.cut)
    for epoch in range(args.epochs):
        gen = torch.Generator().manual_seed(1000 * args.seed + epoch)
        order = torch.randperm(len(tr), generator=gen)
        model.train()
        for b in range(steps):
            idx = order[b * 64:(b + 1) * 64]
            x, t, m = augment_batch(uint8_to_input(images[idx.numpy()]), targets[idx], masks[idx], aug, gen)
            w = weights[idx]
            if args.mixup > 0:
                # mixup (trial T27): blend each image with another of the batch and score the blend
                # against both labels, lam and 1 - lam (the expectation form, valid with masks).
                lam = float(torch.distributions.Beta(args.mixup, args.mixup).sample())
                perm = torch.randperm(len(x), generator=gen)
                out = model(lam * x + (1 - lam) * x[perm])
                loss = (lam * vote_loss(*out, t, m, w, spin_weight=args.spin_weight)
                        + (1 - lam) * vote_loss(*out, t[perm], m[perm], w[perm], spin_weight=args.spin_weight))
            else:
                loss = vote_loss(*model(x), t, m, w, spin_weight=args.spin_weight)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        print(f"{args.name}: epoch {epoch + 1}/{args.epochs} done, loss {loss.item():.4f}", file=sys.stderr, flush=True)


@torch.inference_mode()
def predict(model: GalaxyNet, images: np.ndarray, tta: bool) -> np.ndarray:
    model.eval()
    views = DIHEDRAL_GROUP if tta else ((0, False),)
    out = []
    for s in range(0, len(images), 256):
        x = uint8_to_input(images[s:s + 256])
        acc = sum(swap_spin(f) if flip else f
                  for k, flip in views for f in [fractions_from_logits(*model(dihedral(x, k, flip)))])
        out.append((acc / len(views)).numpy())
    return np.concatenate(out)


def recut(files: list[Path], fraction: float, size: int, crop: float | None = None) -> np.ndarray:
    """Each file cut to its central ``fraction`` in memory, then framed by the galaxy (or given ``crop``)."""
    out = np.empty((len(files), size, size, 3), np.uint8)
    for n, path in enumerate(files):
        with Image.open(path) as raw:
            img = raw.convert("RGB")
        w, h = img.size
        s = min(w, h) * fraction
        out[n] = prepare_image(img.crop((round((w - s) / 2), round((h - s) / 2), round((w + s) / 2),
                                         round((h + s) / 2))), size, crop)
    return out


def evaluate(model: GalaxyNet, d: dict, size: int, preds: dict, crop: float | None = None) -> dict:
    """Scores on the inner split; every prediction is also stored in ``preds`` (key -> (N, 9) array)."""
    gz = np.flatnonzero(d["inner"] & (d["src"] == 0))
    sp = np.flatnonzero(d["inner"] & (d["src"] == 1))
    res: dict = {"n": {"gz1": len(gz), "cutouts": len(sp), "train": int(d["train"].sum())}}
    preds.update(target_gz=d["t"][gz], cd_gz=d["cd"][gz], target_spin=d["t"][sp], cd_spin=d["cd"][sp])
    for cut in (1.0, 0.6, 0.3):
        images = d["x"][gz] if cut == 1.0 else recut([d["files"][i] for i in gz], cut, size, crop)
        for tta in (False, True):
            key = f"gz{cut}{'tta' if tta else ''}"
            preds[key] = predict(model, images, tta)
            r = score(preds[key], d["t"][gz], d["cd"][gz])
            res[key] = [round(r["accuracy"], 4), round(r["macro_recall"], 4), round(r["spin_accuracy"] or 0, 4)]
            res["n"]["gz1_spin"] = r["n_spin"]
            if cut == 1.0 and not tta:
                res["per_class_recall"] = {k: (round(v, 3) if v is not None else None)
                                           for k, v in r["per_class_recall"].items()}
    for tta in (False, True):
        key = "spin" + ("tta" if tta else "")
        preds[key] = predict(model, d["x"][sp], tta)
        res[key] = round(score(preds[key], d["t"][sp], d["cd"][sp])["spin_accuracy"], 4)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("name")
    ap.add_argument("data", nargs="?", default=str(REPO.parent / "shared" / "data"))
    ap.add_argument("--arch", default="effnet_lite0")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--balance", type=float, default=0.5)
    ap.add_argument("--zoom", type=float, default=0.15)
    ap.add_argument("--shift", type=float, default=0.05)
    ap.add_argument("--cut", type=float, default=0.4)
    ap.add_argument("--encoder", choices=tuple(encoders.VARIANTS), default="lite0",
                    help="EfficientNet-Lite size for --arch effnet_lite0 (default: the shipped lite0; lite1 and "
                         "lite2 need their weight wheels, see core/training/encoders.py)")
    ap.add_argument("--blocks", type=int, default=None,
                    help="EfficientNet-Lite blocks to keep (default: through the 112-channel, stride-16 stage, "
                         f"as shipped: {EFFNET_BLOCKS} of lite0's 16, 15 of lite1's and lite2's 21)")
    ap.add_argument("--spin-weight", type=float, default=1.0, help="weight of the spin-share term of the loss")
    ap.add_argument("--encoder-lr", type=float, default=1.0,
                    help="encoder's peak learning rate as a multiple of --lr (heads keep --lr)")
    ap.add_argument("--mirror-pair", action="store_true",
                    help="average each image's logits with its mirror's (CW/ACW swapped): exact mirror symmetry")
    ap.add_argument("--frame-multiple", type=float, default=None,
                    help="frame side in galaxy semi-major axes (default: core's FRAME_MULTIPLE); trial only: "
                         "it replaces the constant in this process, and the framed-pixel cache is keyed by it")
    ap.add_argument("--max-frame", type=float, default=None,
                    help="largest frame side in units of the image's shorter side (default: core's "
                         "MAX_FRAME_TO_IMAGE); trial only: it replaces the constant in this process, and the "
                         "framed-pixel cache is keyed by it")
    ap.add_argument("--crop-fractions", type=crop_pair, default=(None, None), metavar="GZ1,CUTOUTS",
                    help="declared centre crops instead of framing, e.g. 0.45,1.0 (the pre-framing recipe); "
                         "the GZ1 re-cuts then get the same declared crop, as a folder constant would")
    ap.add_argument("--flag-spirals", type=int, default=0, metavar="N",
                    help="add N spin-less cutouts of the training part, labelled only by their GZ1 SPIRAL flag "
                         "(a class: -log P_CS), to the training images")
    ap.add_argument("--mixup", type=float, default=0.0, metavar="ALPHA",
                    help="mixup with blend weights drawn from Beta(ALPHA, ALPHA); 0 = off")
    ap.add_argument("--seed", type=int, default=0, help="first weights, shuffling and augmentation (not the split)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--log", default=None, help="append the JSON line to this file")
    ap.add_argument("--save-preds", default=None, help="write every inner prediction and target to this .npz")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    if args.frame_multiple is not None:
        from core.images import framing

        framing.FRAME_MULTIPLE = args.frame_multiple
    if args.max_frame is not None:
        from core.images import framing

        framing.MAX_FRAME_TO_IMAGE = args.max_frame
    crops = args.crop_fractions
    d = load(Path(args.data), args.size, crops)
    if args.flag_spirals:
        d = add_flag_spirals(d, Path(args.data), args.size, args.flag_spirals, args.seed)
    if args.blocks is None:
        args.blocks = encoders.VARIANTS[args.encoder].blocks_through(5)
    model = GalaxyNet(args.arch, pretrained=True, effnet_blocks=args.blocks, effnet_variant=args.encoder)
    print(f"{args.name}: {model.init_note}", file=sys.stderr, flush=True)
    if args.mirror_pair:
        model = MirrorPair(model)
    t0 = time.time()
    train(model, d, args)
    train_min = round((time.time() - t0) / 60, 1)
    preds: dict = {}
    res = {"name": args.name, "args": vars(args), "train_min": train_min, **evaluate(model, d, args.size, preds, crops[0])}
    if args.save_preds:
        np.savez_compressed(args.save_preds, **preds)
    print(json.dumps(res), flush=True)
    if args.log:
        with open(args.log, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(res) + "\n")


if __name__ == "__main__":
    main()
