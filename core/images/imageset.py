"""``imageset.json``: what an image folder's images are, written by the downloader, read by anyone.

The downloader records what it knows about the cutouts it fetched: the pixel scale
(arcsec per pixel), the size (pixels), the service and its base URL. Keys written
by someone else (e.g. ``crop_fraction``, read by :mod:`core.images.preprocess`) are
kept. When a job asks for a different scale or size than earlier images in the
folder, ``mixed`` records it, since the folder then holds both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.atomic import write_json_atomic
from core.images.cutouts import SOURCE_LABELS
from core.images.folder import list_cutouts
from core.json_files import JsonObjectError, read_json_object

IMAGESET_NAME = "imageset.json"
#: The keys the downloader owns (others in the file are left as they are).
DOWNLOADER_KEYS = ("scale_arcsec_per_px", "width_px", "height_px", "source", "base_url")


def read_imageset(folder: str | Path) -> dict[str, Any]:
    """The folder's ``imageset.json`` as a dict ({} when missing, unreadable or not a JSON object).

    The file is optional and advisory (written by the downloader or by hand), so a bad one counts as none.
    """
    try:
        return read_json_object(Path(folder) / IMAGESET_NAME, what="image-set description")
    except JsonObjectError:
        return {}


def write_imageset(folder: str | Path, config) -> Path:
    """Record a download's :class:`core.images.download_config.DownloadConfig` in ``imageset.json``."""
    cutout = config.cutout()
    known = read_imageset(folder)
    new = {"scale_arcsec_per_px": float(cutout.scale), "width_px": cutout.width, "height_px": cutout.height,
           "source": cutout.source, "base_url": cutout.resolved_base_url()}
    before = {k: known.get(k) for k in ("scale_arcsec_per_px", "width_px", "height_px")}
    if any(v is not None for v in before.values()) and list_cutouts(folder) \
            and before != {k: new[k] for k in before}:
        known["mixed"] = (f"earlier images in this folder were requested at {before['scale_arcsec_per_px']} "
                          f"arcsec/px, {before['width_px']}x{before['height_px']} px")
    known.update(new)
    known["description"] = (f"{SOURCE_LABELS.get(cutout.source, cutout.source)} cutouts, "
                            f"{cutout.width}x{cutout.height} px at {float(cutout.scale):g} arcsec/px")
    return write_json_atomic(Path(folder) / IMAGESET_NAME, known)
