"""Every setting of a cutout download, defined once.

:class:`DownloadConfig` is the single block of defaults (nanoGPT's idea): each
field carries its help text in its metadata, and from it are derived the
``python -m core download`` flags (:func:`add_arguments`), the Images page's
defaults, the argv of a detached job (:meth:`DownloadConfig.to_argv`) and the
settings stored with a job (:meth:`DownloadConfig.to_dict` /
:meth:`DownloadConfig.from_dict`). Times are seconds; sizes are pixels; the
scale is arcsec per pixel.

The defaults bound one galaxy to :attr:`DownloadConfig.worst_case_s` (55 s: 3 tries of at
most 15 s each, plus two retry delays of at most 5 s), however slowly a host trickles
bytes; a 120-px cutout is a few KB, which SkyServer sends in well under a second.
"""

from __future__ import annotations

import argparse
import math
import random
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from typing import Any

from core.config import get_settings
from core.images.cutouts import (
    DEFAULT_SIZE,
    MAX_SIZE,
    MIN_SIZE,
    SDSS_NATIVE_SCALE,
    SOURCE_BASE_URLS,
    CutoutSettings,
)
from core.wording import count


def _opt(help_text: str, cli: bool = True, **extra: Any) -> dict[str, Any]:
    """Field metadata: the ``--help`` text, whether it is a CLI flag, extra argparse keywords."""
    return {"help": help_text, "cli": cli, "argparse": extra}


def _default_workers() -> int:
    return get_settings().download_workers


@dataclass(frozen=True)
class DownloadConfig:
    """How to fetch cutouts: what to request, how patiently and how politely."""

    source: str = field(default="dr18", metadata=_opt(
        "cutout service and URL style: dr18 (current SkyServer) or dr7 (original GZ1 tool)",
        choices=sorted(SOURCE_BASE_URLS)))
    base_url: str | None = field(default=None, metadata=_opt(
        "replace the service's base URL, keeping its URL style (also $GZ_CUTOUT_BASE_URL)"))
    scale: float = field(default=SDSS_NATIVE_SCALE, metadata=_opt(
        f"arcsec per pixel (SDSS native {SDSS_NATIVE_SCALE})"))
    size: int = field(default=DEFAULT_SIZE, metadata=_opt(
        f"width and height in pixels, {MIN_SIZE}-{MAX_SIZE}"))
    width: int | None = field(default=None, metadata=_opt("width in pixels (overrides --size)"))
    height: int | None = field(default=None, metadata=_opt("height in pixels (overrides --size)"))
    workers: int = field(default_factory=_default_workers, metadata=_opt(
        "parallel requests ($GZ_DOWNLOAD_WORKERS; please stay polite)"))
    connect_timeout: float = field(default=10.0, metadata=_opt("seconds to wait for a connection"))
    timeout: float = field(default=15.0, metadata=_opt(
        "read timeout: longest silence allowed while waiting for an answer, seconds"))
    deadline: float = field(default=15.0, metadata=_opt(
        "total seconds one request may take, connection to last byte, however slowly bytes arrive"))
    retries: int = field(default=2, metadata=_opt(
        "extra tries after timeouts, connection errors, 5xx and damaged answers, with backoff"))
    backoff: float = field(default=1.0, metadata=_opt(
        "first retry delay in seconds, doubled each further retry, with jitter"))
    min_interval: float = field(default=0.0, metadata=_opt(
        "minimum seconds between request starts across all workers"))
    # Tuning that needs no flag: stored with the job all the same.
    backoff_max: float = field(default=5.0, metadata=_opt(
        "longest retry delay, seconds (a server's Retry-After is honoured up to this)", cli=False))
    jitter: float = field(default=0.5, metadata=_opt(
        "each delay is multiplied by a random factor in [1 - jitter, 1 + jitter]", cli=False))
    state_interval: float = field(default=0.5, metadata=_opt("how often state.json is rewritten", cli=False))
    cancel_grace: float = field(default=2.0, metadata=_opt(
        "how long a cancelled job waits for requests in flight", cli=False))

    # --- derived values ------------------------------------------------------------------
    @property
    def max_attempts(self) -> int:
        """Total tries per galaxy, including the first."""
        return self.retries + 1

    @property
    def worst_case_s(self) -> float:
        """The longest one galaxy can take, in seconds, from its first request to its outcome.

        ``max_attempts`` tries of at most ``max(deadline, connect_timeout)`` each (the deadline
        runs from the start of a try; a connection still being made when it passes is cut once
        made, so a try ends by whichever is later) plus the longest delay before each retry
        (backoff doubled per retry, capped at ``backoff_max``, times ``1 + jitter``; a server's
        Retry-After may stretch a delay to ``backoff_max``). Not counted: waiting for a turn
        (``min_interval``, the cluster-wide bound on requests in flight) and name resolution.
        """
        per_try = max(self.deadline, self.connect_timeout)
        delays = sum(max(min(self.backoff_max, self.backoff * 2 ** (k - 1)) * (1 + self.jitter), self.backoff_max)
                     for k in range(1, self.retries + 1))
        return self.max_attempts * per_try + delays

    def worst_case_text(self) -> str:
        """:attr:`worst_case_s` in words, for ``--help`` and the Images page."""
        per_try = max(self.deadline, self.connect_timeout)
        delays = self.worst_case_s - self.max_attempts * per_try
        text = f"at most {self.worst_case_s:g} s per galaxy ({count(self.max_attempts, 'try', 'tries')} of at most {per_try:g} s"
        text += f", plus retry delays of at most {delays:g} s in all)" if self.retries else ")"
        return text + ", however slowly the server sends"

    def cutout(self) -> CutoutSettings:
        """What each request asks for (pixels and arcsec/px)."""
        return CutoutSettings(source=self.source, scale=self.scale, base_url=self.base_url,
                              width=self.size if self.width is None else self.width,
                              height=self.size if self.height is None else self.height)

    def backoff_delay(self, attempt: int, rng: random.Random) -> float:
        """Delay in seconds after failed try number ``attempt`` (1-based)."""
        delay = min(self.backoff_max, self.backoff * (2 ** (attempt - 1)))
        return delay * rng.uniform(1 - self.jitter, 1 + self.jitter)

    def with_(self, **changes: Any) -> DownloadConfig:
        return replace(self, **changes)

    def validated(self) -> DownloadConfig:
        """Return self if every setting is usable; raise ValueError (or CutoutSettingsError) naming it."""
        self.cutout().validated()
        _check_int("workers", self.workers, 1, 64)
        _check_int("retries", self.retries, 0, 19)
        for name in ("connect_timeout", "timeout", "deadline"):
            _check_number(name, getattr(self, name), positive=True)
        for name in ("backoff", "backoff_max", "min_interval", "state_interval", "cancel_grace"):
            _check_number(name, getattr(self, name), positive=False)
        if not 0 <= self.jitter < 1:
            raise ValueError(f"jitter must be in [0, 1), got {self.jitter!r}")
        return self

    def resolved(self) -> DownloadConfig:
        """A copy whose ``base_url`` is the address requests really go to (environment read now)."""
        return replace(self, base_url=self.cutout().resolved_base_url())

    # --- stored form and command line -----------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Every setting, with the base URL resolved, as stored in the job's ``state.json``."""
        return asdict(self.resolved())

    @classmethod
    def from_dict(cls, data: Any) -> DownloadConfig:
        """Settings stored by :meth:`to_dict`; unknown keys are ignored, missing ones take defaults.

        Raises ValueError when ``data`` is not a mapping or a value has the wrong type.
        """
        if not isinstance(data, dict):
            raise ValueError("stored download settings are not a JSON object")
        values = {}
        for f in fields(cls):
            if f.name in data and data[f.name] is not None:
                values[f.name] = _coerce(f.name, _field_type(f), data[f.name])
            elif f.name in data and _optional(f):
                values[f.name] = None
        return cls(**values)

    def to_argv(self) -> list[str]:
        """The ``python -m core download`` flags that reproduce these settings (base URL resolved)."""
        argv: list[str] = []
        for f in fields(self):
            value = getattr(self.resolved(), f.name)
            if f.metadata["cli"] and value is not None:
                argv += [_flag(f.name), f"{value:g}" if isinstance(value, float) else str(value)]
        return argv

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> DownloadConfig:
        """The settings given by :func:`add_arguments`' flags (defaults where a flag is absent)."""
        return cls(**{f.name: getattr(args, f.name) for f in fields(cls) if f.metadata["cli"]})


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add one ``--flag`` per CLI field of :class:`DownloadConfig`, with its help and default."""
    for f in fields(DownloadConfig):
        if not f.metadata["cli"]:
            continue
        default = f.default_factory() if f.default is MISSING else f.default  # type: ignore[misc]
        shown = "" if default is None else f" (default: {default})"
        parser.add_argument(_flag(f.name), dest=f.name, type=_field_type(f), default=default,
                            help=f.metadata["help"] + shown, **f.metadata["argparse"])


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


_TYPES = {"str": str, "int": int, "float": float}


def _field_type(f) -> type:
    # Annotations are strings here (from __future__ import annotations): "int | None" -> int.
    return _TYPES[str(f.type).split("|")[0].strip()]


def _optional(f) -> bool:
    return "None" in str(f.type)


def _coerce(name: str, kind: type, value: Any) -> Any:
    if kind is str:
        if not isinstance(value, str):
            raise ValueError(f"stored setting {name} should be text, got {type(value).__name__}")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"stored setting {name} should be a number, got {type(value).__name__}")
    if kind is int:
        if float(value) != int(value):
            raise ValueError(f"stored setting {name} should be a whole number, got {value!r}")
        return int(value)
    return float(value)


def _check_int(name: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be a whole number from {low} to {high}, got {value!r}")


def _check_number(name: str, value: Any, positive: bool) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or (value <= 0 if positive else value < 0):
        raise ValueError(f"{name} must be {'> 0' if positive else '>= 0'} seconds, got {value!r}")
