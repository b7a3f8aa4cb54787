"""Frame each image by its central galaxy, not by the folder it came from.

:func:`find_galaxy` looks for the galaxy at (or nearest) the image centre and
measures its size; :func:`frame_box` turns that into a square crop box of
``FRAME_MULTIPLE`` times the galaxy's semi-major axis, centred on the galaxy;
:func:`frame_image` cuts that box (padding with the sky colour where it runs
off the image) and resizes it to the model input. The same galaxy therefore
reaches the network at the same size whether it came as a loose 423 px GZ1
subject image, a tight 0.2"/px cutout or a photo cropped by hand.

Method (all on a grey copy reduced to at most ``WORK_SIDE`` px, values 0..1):

1. Gaussian smoothing (sigma 1 working px);
2. background = sigma-clipped median of a border band; noise = pixel-to-pixel
   scatter of that band (1.4826 MAD of neighbour differences / sqrt 2, floored
   at 1/255: JPEG skies are often flat), which a smooth galaxy filling the
   frame does not inflate;
3. threshold at background + max(3 noise, ``MIN_CONTRAST``), label connected
   components (8-connectivity), take the one holding the centre, else the
   nearest one within a quarter of the side;
4. size: the part of that component brighter than ``ISOPHOTE`` of the way
   from the background to its peak (a peak-relative isophote, so it does not
   depend on depth or on how much sky surrounds the galaxy); its second
   moments give the semi-major axis a = 2 sqrt(largest eigenvalue) (exact for
   a uniform ellipse) and its centre.

When no component stands out (blank frame, pure noise) the whole image is
used and :attr:`FrameInfo.fallback` is True with the reason.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from PIL import Image
from skimage.filters import gaussian
from skimage.measure import label

#: Longest side (px) of the grey working copy the galaxy is measured on.
WORK_SIDE = 128
#: Bumped whenever the framing method changes, so cached framed pixels are rebuilt.
FRAMING_VERSION = 2
#: Fraction of the way from background to peak that defines the measured isophote.
ISOPHOTE = 0.25
#: Frame side = FRAME_MULTIPLE x semi-major axis of the ISOPHOTE region.
FRAME_MULTIPLE = 4.0
#: Smallest peak-over-background contrast (0..1 grey) that counts as a galaxy.
MIN_CONTRAST = 0.06
#: Smallest peak-over-background significance, in units of the border noise.
MIN_SIGNIFICANCE = 5.0
#: Smallest component (working px) that can be the galaxy.
MIN_AREA = 6
#: Largest frame side, in units of the image's shorter side (a galaxy cut far too tight).
MAX_FRAME_TO_IMAGE = 3.0


def framing_key() -> str:
    """Every setting that shapes a frame, as one string (part of the framed-pixel cache key).

    Read at call time, so a trial that replaces a constant in its process gets its own cache.
    """
    return (f"v{FRAMING_VERSION}-work{WORK_SIDE}-iso{ISOPHOTE:g}-frame{FRAME_MULTIPLE:g}-contrast{MIN_CONTRAST:g}"
            f"-sig{MIN_SIGNIFICANCE:g}-area{MIN_AREA}-max{MAX_FRAME_TO_IMAGE:g}")


@dataclass(frozen=True)
class FrameInfo:
    """Where the frame came from, in pixels of the *original* image.

    ``center_x``/``center_y``: frame centre (x to the right, y down);
    ``side``: frame side; ``radius``: measured semi-major axis of the galaxy
    (0 on fallback); ``fallback``: True when no galaxy stood out and the whole
    image was used; ``reason``: why (empty otherwise); ``padded``: the frame
    runs off the image and was filled with the sky colour; ``background`` and
    ``contrast``: border sky level and peak above it, grey 0..1.
    """

    center_x: float
    center_y: float
    side: float
    radius: float
    fallback: bool
    reason: str = ""
    padded: bool = False
    background: float = 0.0
    contrast: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        """One plain sentence on how the frame was chosen (for the pages)."""
        if self.fallback:
            return f"No galaxy stood out ({self.reason}), so the whole image is used."
        text = (f"Framed by the galaxy: a {self.side:.0f} px square ({FRAME_MULTIPLE:g} x its {self.radius:.0f} px "
                f"semi-major axis) around ({self.center_x:.0f}, {self.center_y:.0f})")
        return text + (", padded with sky where it runs off the picture." if self.padded else ".")


def _clipped_stats(values: np.ndarray, n_iter: int = 3, k: float = 3.0) -> tuple[float, float]:
    """Sigma-clipped (median, 1.4826 x MAD) of a 1-D array."""
    v = values
    med, sig = float(np.median(v)), 0.0
    for _ in range(n_iter):
        med = float(np.median(v))
        sig = 1.4826 * float(np.median(np.abs(v - med)))
        keep = np.abs(v - med) <= k * max(sig, 1.0 / 255)
        if keep.all() or keep.sum() < 10:
            break
        v = v[keep]
    return med, sig


def _pixel_noise(grey: np.ndarray, band: int) -> float:
    """Pixel-to-pixel noise (grey 0..1) of the unsmoothed top and bottom bands, floored at 1/255.

    From differences of neighbouring pixels (1.4826 MAD / sqrt 2), so the smooth light of a
    galaxy that fills the frame does not count as noise.
    """
    rows = np.concatenate([grey[:band], grey[-band:]])
    diff = np.diff(rows, axis=1).ravel()
    mad = float(np.median(np.abs(diff - np.median(diff))))
    return max(1.4826 * mad / np.sqrt(2.0), 1.0 / 255)


def _grey_work_copy(img: Image.Image) -> tuple[np.ndarray, int]:
    """Grey float copy of ``img`` (0..1) reduced by an integer factor to <= WORK_SIDE px; (array, factor)."""
    grey = img.convert("L")
    factor = max(1, -(-max(grey.size) // WORK_SIDE))
    if factor > 1:
        grey = grey.reduce(factor)
    return np.asarray(grey, dtype=np.float32) / 255.0, factor


def _pick_component(labels: np.ndarray, n: int) -> int:
    """Label of the component at the centre, else the nearest within a quarter side; 0 if none."""
    h, w = labels.shape
    cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
    at_centre = labels[int(round(cy)), int(round(cx))]
    if at_centre:
        return int(at_centre)
    ys, xs = np.nonzero(labels)
    if len(ys) == 0:
        return 0
    d2 = (ys - cy) ** 2 + (xs - cx) ** 2
    best = int(np.argmin(d2))
    return int(labels[ys[best], xs[best]]) if d2[best] <= (0.25 * min(h, w)) ** 2 else 0


def _fallback(img: Image.Image, reason: str, bg: float = 0.0, contrast: float = 0.0) -> FrameInfo:
    w, h = img.size
    return FrameInfo(center_x=w / 2.0, center_y=h / 2.0, side=float(min(w, h)), radius=0.0,
                     fallback=True, reason=reason, background=bg, contrast=contrast)


def find_galaxy(img: Image.Image) -> FrameInfo:
    """Locate and size the central galaxy of ``img``; see the module docstring for the method."""
    grey, factor = _grey_work_copy(img)
    h, w = grey.shape
    if min(h, w) < 8:
        return _fallback(img, "image smaller than 8 px")
    smooth = gaussian(grey, sigma=1.0, preserve_range=True)
    band = max(2, min(h, w) // 16)
    border = np.concatenate([smooth[:band].ravel(), smooth[-band:].ravel(),
                             smooth[band:-band, :band].ravel(), smooth[band:-band, -band:].ravel()])
    bg, _ = _clipped_stats(border)
    noise = _pixel_noise(grey, band)
    components = label(smooth > bg + max(3 * noise, MIN_CONTRAST), connectivity=2)
    n = int(components.max())
    if n:
        sizes = np.bincount(components.ravel())
        small = sizes < MIN_AREA
        small[0] = False
        components[small[components]] = 0
    chosen = _pick_component(components, n)
    if not chosen:
        return _fallback(img, "nothing stands out from the background near the centre", bg)
    region = components == chosen
    peak = float(smooth[region].max())
    contrast = peak - bg
    if contrast < MIN_CONTRAST or contrast < MIN_SIGNIFICANCE * noise:
        return _fallback(img, "the central source is too faint", bg, contrast)
    core = region & (smooth >= bg + ISOPHOTE * contrast)
    core_labels = label(core, connectivity=2)
    py, px = np.unravel_index(np.argmax(np.where(region, smooth, -np.inf)), smooth.shape)
    core = core_labels == core_labels[py, px]
    ys, xs = np.nonzero(core)
    cy, cx = float(ys.mean()), float(xs.mean())
    if len(ys) > 1:
        cov = np.cov(np.stack([xs, ys]).astype(np.float64))
        major = 2.0 * float(np.sqrt(max(np.linalg.eigvalsh(cov)[-1], 0.0)))
    else:
        major = 0.0
    major = max(major, 1.0)
    side = min(FRAME_MULTIPLE * major * factor, MAX_FRAME_TO_IMAGE * min(img.size))
    # Working px -> original px: pixel i of the reduced copy covers [i f, (i + 1) f).
    return FrameInfo(center_x=(cx + 0.5) * factor, center_y=(cy + 0.5) * factor, side=side,
                     radius=major * factor, fallback=False, background=bg, contrast=contrast)


def _sky_colour(img: Image.Image) -> tuple[int, int, int]:
    """Median RGB of the image's one-pixel border (the colour used to pad frames that run off the image)."""
    a = np.asarray(img)
    edge = np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])
    return tuple(int(v) for v in np.median(edge, axis=0))


def frame_image(img: Image.Image, size: int) -> tuple[np.ndarray, FrameInfo]:
    """Frame ``img`` by its central galaxy and resize to ``size`` px: (uint8 (size, size, 3) RGB, FrameInfo)."""
    if img.mode != "RGB":
        img = img.convert("RGB")
    info = find_galaxy(img)
    w, h = img.size
    half = info.side / 2.0
    left, top = info.center_x - half, info.center_y - half
    right, bottom = info.center_x + half, info.center_y + half
    if left >= -0.5 and top >= -0.5 and right <= w + 0.5 and bottom <= h + 0.5:
        box = (max(0.0, left), max(0.0, top), min(float(w), right), min(float(h), bottom))
        out = img.resize((size, size), Image.Resampling.BILINEAR, box=box, reducing_gap=2.0)
        return np.asarray(out, dtype=np.uint8).copy(), info
    # The frame runs off the image: paste the image onto a sky-coloured canvas first.
    side = max(1, int(round(info.side)))
    canvas = Image.new("RGB", (side, side), _sky_colour(img))
    canvas.paste(img, (int(round(-left)), int(round(-top))))
    out = canvas.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=2.0)
    info = FrameInfo(**{**info.as_dict(), "padded": True})
    return np.asarray(out, dtype=np.uint8).copy(), info
