"""Where SDSS cutouts come from: the SkyServer ``getjpeg`` URLs and their settings.

Two services are supported, each with its own URL style:

* ``dr18`` — the current SkyServer web service,
  ``https://skyserver.sdss.org/dr18/SkyServerWS/ImgCutout/getjpeg?ra=..&dec=..&scale=..&width=..&height=..``
* ``dr7`` — the DR7 service the original Galaxy Zoo tool used,
  ``http://skyservice.pha.jhu.edu/DR7/ImgCutout/getjpeg.aspx?ra=..&dec=..&scale=..&width=..&height=..&opt=``

Conventions: ``ra`` and ``dec`` are decimal degrees (J2000); ``scale`` is
arcseconds per pixel (SDSS native pixels are 0.396"); ``width``/``height`` are
pixels, 64–2048 as SkyServer accepts. A different ``base_url`` (a mirror, or
the test stand-in) keeps the URL style of its ``source``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from urllib.parse import urlencode, urlsplit

from core.config import get_settings

#: Base URL of each supported service.
SOURCE_BASE_URLS: dict[str, str] = {
    "dr18": "https://skyserver.sdss.org/dr18/SkyServerWS/ImgCutout/getjpeg",
    "dr7": "http://skyservice.pha.jhu.edu/DR7/ImgCutout/getjpeg.aspx",
}
#: Human-readable description of each source, for menus and --help.
SOURCE_LABELS: dict[str, str] = {
    "dr18": "SDSS SkyServer DR18 (current)",
    "dr7": "SDSS DR7 ImgCutout (used by the original GZ1 tool)",
}

SDSS_NATIVE_SCALE = 0.396  #: arcsec per pixel of the SDSS imaging camera
MIN_SIZE, MAX_SIZE = 64, 2048  #: pixel limits SkyServer accepts for width and height
MIN_SCALE, MAX_SCALE = 0.015, 60.0  #: arcsec/px; outside this range SkyServer answers an error image
DEFAULT_SIZE = 256


class CutoutSettingsError(ValueError):
    """A cutout setting is out of range; the message names the setting."""


@dataclass(frozen=True)
class CutoutSettings:
    """What to request for each galaxy.

    ``scale`` is arcsec/pixel, ``width``/``height`` are pixels; the field of
    view is ``scale * width`` arcseconds. ``base_url`` None means the source's
    default (or ``$GZ_CUTOUT_BASE_URL`` when that is set, see :mod:`core.config`).
    """

    source: str = "dr18"
    scale: float = SDSS_NATIVE_SCALE
    width: int = DEFAULT_SIZE
    height: int = DEFAULT_SIZE
    base_url: str | None = None
    opt: str = ""  #: DR7 overlay options ("" = plain image; e.g. "G" grid, "L" label)

    def validated(self) -> CutoutSettings:
        """Return self if every setting is usable, else raise :class:`CutoutSettingsError`."""
        if self.source not in SOURCE_BASE_URLS:
            raise CutoutSettingsError(
                f"source must be one of {', '.join(SOURCE_BASE_URLS)}, got {self.source!r}")
        for name in ("width", "height"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not MIN_SIZE <= value <= MAX_SIZE:
                raise CutoutSettingsError(
                    f"{name} must be a whole number of pixels from {MIN_SIZE} to {MAX_SIZE}, got {value!r}")
        try:
            scale = float(self.scale)
        except (TypeError, ValueError):
            raise CutoutSettingsError(f"scale must be a number of arcsec/pixel, got {self.scale!r}") from None
        if not (math.isfinite(scale) and MIN_SCALE <= scale <= MAX_SCALE):
            raise CutoutSettingsError(
                f"scale must be from {MIN_SCALE} to {MAX_SCALE} arcsec/pixel, got {self.scale!r}")
        url = self.resolved_base_url()
        if not url.startswith(("http://", "https://")) or " " in url:
            raise CutoutSettingsError(f"base URL must start with http:// or https://, got {url!r}")
        if not isinstance(self.opt, str) or not self.opt.isalnum() and self.opt != "":
            raise CutoutSettingsError(f"opt must be letters only (DR7 overlay codes), got {self.opt!r}")
        return self

    def resolved_base_url(self) -> str:
        """The base URL requests go to: explicit setting, then ``$GZ_CUTOUT_BASE_URL``
        (``Settings.cutout_base_url``), then the source's own URL."""
        return (self.base_url or get_settings().cutout_base_url or SOURCE_BASE_URLS.get(self.source, "")).strip()

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels, as PIL reports image sizes."""
        return (self.width, self.height)

    @property
    def field_arcsec(self) -> tuple[float, float]:
        """Field of view (width, height) in arcseconds."""
        return (self.scale * self.width, self.scale * self.height)

    def url(self, ra: float, dec: float) -> str:
        """The ``getjpeg`` URL for a position in decimal degrees."""
        return cutout_url(ra, dec, self)

    def with_(self, **changes: object) -> CutoutSettings:
        return replace(self, **changes)

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["base_url"] = self.resolved_base_url()
        return data


def check_position(ra: float, dec: float) -> None:
    """Raise ValueError unless 0 <= ra < 360 and -90 <= dec <= 90 (decimal degrees)."""
    if not (math.isfinite(ra) and 0.0 <= ra < 360.0):
        raise ValueError(f"RA must be in [0, 360) degrees, got {ra!r}")
    if not (math.isfinite(dec) and -90.0 <= dec <= 90.0):
        raise ValueError(f"DEC must be in [-90, 90] degrees, got {dec!r}")


def cutout_url(ra: float, dec: float, settings: CutoutSettings) -> str:
    """Build the request URL in the style of ``settings.source`` (positions in decimal degrees)."""
    ra, dec = float(ra), float(dec)
    check_position(ra, dec)
    params: dict[str, str] = {
        # 7 decimals of a degree is 0.36 mas: far finer than a pixel, short enough for logs.
        "ra": f"{ra:.7f}",
        "dec": f"{dec:.7f}",
        "scale": f"{float(settings.scale):.4g}",
        "width": str(settings.width),
        "height": str(settings.height),
    }
    if settings.source == "dr7":
        params["opt"] = settings.opt
    return f"{settings.resolved_base_url()}?{urlencode(params)}"


class CutoutHostNotAllowed(CutoutSettingsError):
    """A cutout URL whose host is not on the dashboard's allow-list."""


def allowed_cutout_hosts() -> tuple[str, ...]:
    """``host`` or ``host:port`` entries cutout requests from the dashboard may go to.

    SDSS's own hosts (those of :data:`SOURCE_BASE_URLS`), the host of
    ``$GZ_CUTOUT_BASE_URL`` (set by whoever runs the server) and ``$GZ_CUTOUT_HOSTS``.
    An entry without a port allows that host on any port.
    """
    settings = get_settings()
    hosts = [urlsplit(url).hostname or "" for url in SOURCE_BASE_URLS.values()]
    if settings.cutout_base_url:
        parts = urlsplit(settings.cutout_base_url)
        hosts.append(f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname or "")
    hosts += list(settings.cutout_hosts)
    return tuple(dict.fromkeys(h.lower() for h in hosts if h))


def check_cutout_host(url: str) -> None:
    """Raise :class:`CutoutHostNotAllowed` unless ``url``'s host (and port) is allowed.

    Used for requests started from the dashboard; the CLI, run by the machine's own
    user, is not confined.
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    allowed = allowed_cutout_hosts()
    if host and (host in allowed or (port is not None and f"{host}:{port}" in allowed)):
        return
    shown = f"{host}:{port}" if port is not None else host or url
    raise CutoutHostNotAllowed(
        f"cutout host {shown!r} is not allowed from the dashboard (allowed: {', '.join(allowed)}); "
        "the server's operator can add it to GZ_CUTOUT_HOSTS")
