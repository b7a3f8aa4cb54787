"""Rebuild data/demo from the shared Galaxy Zoo data (provenance script; needs the shared data folder).

Usage: python data/demo/build_demo.py /path/to/shared/data

* gz1/: a class-balanced subset (up to 60 per GZ1 class, seeded) of gz1_images_423px,
  downsized from 423x423 to 192x192 (whole frame kept, JPEG quality 90), with
  labels.csv = OBJID, CLASS, CLASS_NAME, FILE copied from the source labels.
* spin/: 240 spin-labelled cutouts of sdss_dr12_cutouts_120px_0p2arcsec (120 with
  P_CW > P_ACW, 120 with P_ACW > P_CW, seeded), files copied unchanged, with
  labels.csv = the matching index.csv rows.
* ../sample/mapped/: every galaxy of the shared copy that has a GZ1 (DR7) OBJID, a real sky position and an
  image: the gz1_images_423px galaxies that are in Darg et al. (2010) (position = Darg ra/dec) or in
  the 695-row Table-2 sample (position = its RA/DEC), downsized like gz1/. catalog.csv = OBJID, RA,
  DEC (decimal degrees) is the built-in catalogue these images belong to; labels.csv = the source
  labels.csv rows unchanged (CLASS is the source's class, used as a class-derived target).
* each folder gets an imageset.json saying what its images are (size, and the pixel scale where
  known). It declares no crop: the trainer and the model frame each image by its galaxy.
"""

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from core.config import REPO_ROOT
from core.images.imageset import IMAGESET_NAME

SEED = 0
PER_CLASS = 60
PER_SPIN = 120
SIZE = 192


def fresh_folder(folder: Path) -> Path:
    """Empty ``folder`` (rebuilding replaces the whole subset) and return it."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    return folder


def write_imageset(folder: Path, description: str, **known) -> None:
    """Say what the folder's images are (core.images.imageset keys); no crop, framing finds the galaxy."""
    (folder / IMAGESET_NAME).write_text(json.dumps({"description": description, **known}, indent=2) + "\n")


def mapped_positions(shared: Path, labels: pd.DataFrame) -> pd.DataFrame:
    """OBJID, RA, DEC (decimal degrees) of the labelled images whose position is published somewhere here.

    Darg et al. (2010) pairs give ra1/dec1 and ra2/dec2 for DR7 objids; the 695-row Table-2 sample gives
    sexagesimal RA/DEC (converted to degrees, J2000). Nothing is matched by guess: the OBJID must be equal.
    """
    from core.catalog.reader import load_catalog

    darg = pd.read_csv(shared / "gz1_labels" / "gz1_darg2010_mergers.csv.gz", dtype={"object1": str, "object2": str})
    pairs = [darg[[f"object{i}", f"ra{i}", f"dec{i}"]].set_axis(["OBJID", "RA", "DEC"], axis=1) for i in (1, 2)]
    sample = load_catalog(REPO_ROOT / "data" / "sample" / "gz1_table2_sample695.csv").table[["OBJID", "RA", "DEC"]]
    known = pd.concat([*pairs, sample]).drop_duplicates("OBJID")
    return known[known.OBJID.isin(labels.OBJID)].sort_values("OBJID").reset_index(drop=True)


def build_mapped(shared: Path, out: Path, labels: pd.DataFrame) -> pd.DataFrame:
    """sample/mapped/: the images with a known position, their catalogue (catalog.csv) and source labels."""
    positions = mapped_positions(shared, labels)
    rows = labels[labels.OBJID.isin(positions.OBJID)].sort_values("OBJID")
    out = fresh_folder(out)
    for f in rows.FILE:
        with Image.open(shared / "gz1_images_423px" / f) as img:
            img.convert("RGB").resize((SIZE, SIZE), Image.Resampling.LANCZOS).save(out / f, quality=90)
    positions.to_csv(out / "catalog.csv", index=False, float_format="%.6f")
    rows.to_csv(out / "labels.csv", index=False)
    write_imageset(out, "GZ1 subject images of the galaxies in catalog.csv (scaled to each galaxy's Petrosian "
                   f"radius, so no fixed pixel scale), downsized to {SIZE} px", width_px=SIZE, height_px=SIZE)
    return rows


def main(shared: Path) -> None:
    here = Path(__file__).resolve().parent
    rng = np.random.default_rng(SEED)
    gz1_src = shared / "gz1_images_423px"
    labels = pd.read_csv(gz1_src / "labels.csv", dtype={"OBJID": str})
    picks = []
    for _name, group in labels.groupby("CLASS_NAME", sort=True):
        picks.append(group.iloc[rng.permutation(len(group))[:PER_CLASS]])
    chosen = pd.concat(picks).sort_values("OBJID")
    out = fresh_folder(here / "gz1")
    for f in chosen.FILE:
        with Image.open(gz1_src / f) as img:
            img.convert("RGB").resize((SIZE, SIZE), Image.Resampling.LANCZOS).save(out / f, quality=90)
    chosen[["OBJID", "CLASS", "CLASS_NAME", "FILE"]].to_csv(out / "labels.csv", index=False)
    write_imageset(out, "GZ1 subject images (scaled to each galaxy's Petrosian radius, so no fixed pixel "
                   f"scale), downsized to {SIZE} px", width_px=SIZE, height_px=SIZE)

    spin_src = shared / "sdss_dr12_cutouts_120px_0p2arcsec"
    index = pd.read_csv(spin_src / "index.csv", dtype=str)
    cw = pd.to_numeric(index.GZ1_P_CW, errors="coerce")
    acw = pd.to_numeric(index.GZ1_P_ACW, errors="coerce")
    rows = []
    for sel in (cw > acw, acw > cw):
        group = index[sel.fillna(False)]
        rows.append(group.iloc[rng.permutation(len(group))[:PER_SPIN]])
    spin = pd.concat(rows).sort_values("FILE")
    out = fresh_folder(here / "spin")
    for f in spin.FILE:
        shutil.copy2(spin_src / f, out / f)
    spin.to_csv(out / "labels.csv", index=False)
    write_imageset(out, "SDSS DR12 cutouts, 120x120 px at 0.2 arcsec/px", scale_arcsec_per_px=0.2,
                   width_px=120, height_px=120, source="SDSS DR12 SkyServer ImgCutout")
    mapped = build_mapped(shared, here.parent / "sample" / "mapped", labels)
    print(f"mapped: {len(mapped)} images {mapped.CLASS_NAME.value_counts().to_dict()}")
    print(f"gz1: {len(chosen)} images {chosen.CLASS_NAME.value_counts().to_dict()}; spin: {len(spin)} images")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else REPO_ROOT.parent / "shared" / "data")
