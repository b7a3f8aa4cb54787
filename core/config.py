"""Paths and defaults for the whole project, each overridable by an environment variable.

This is the one place that knows where data, images, models and job state live.
Every other module asks :func:`get_settings` instead of keeping globals, so the
dashboard, the CLI and the tests share one behaviour and tests can point
everything at a temporary folder by setting ``GZ_HOME`` (or a single variable).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path

#: Root of the repository (the folder that holds ``app.py``).
REPO_ROOT = Path(__file__).resolve().parent.parent


def _env_path(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value).expanduser().resolve() if value else default


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ValueError(f"environment variable {name} must be an integer, got {value!r}") from exc


@dataclass(frozen=True)
class Settings:
    """Resolved paths and defaults.

    Paths (environment variable in brackets):

    * ``home`` [GZ_HOME]: writable working area, default ``<repo>/var``.
    * ``data_dir`` [GZ_DATA_DIR]: shipped real data, default ``<repo>/data``.
    * ``sample_catalog`` [GZ_SAMPLE_CATALOG]: the built-in 695-row GZ1 Table 2 sample.
    * ``demo_dir`` [GZ_DEMO_DIR]: built-in demo images and labels, ``<data_dir>/demo``.
    * ``images_dir`` [GZ_IMAGES_DIR]: where downloaded cutouts go, ``<home>/images``.
    * ``models_dir`` [GZ_MODELS_DIR]: your training runs (``gz train``, the Train page), one folder
      each, ``<home>/runs``; the machine's training lock and active-run record live there too.
    * ``shipped_models_dir`` [GZ_SHIPPED_MODELS_DIR]: the models shipped with the app (``demo``,
      ``gz1-heldout``), ``<repo>/models``; read-only to the app: listed and loaded, never written,
      locked, resumed or deleted.
    * ``cache_dir`` [GZ_CACHE_DIR]: preprocessed image caches, ``<home>/cache``.
    * ``catalogs_dir`` [GZ_CATALOGS_DIR]: cleaned catalogues saved by the dashboard, ``<home>/catalogs``.

    Defaults:

    * ``torch_threads`` [GZ_TORCH_THREADS]: threads for PyTorch on the CPU (default: all cores, at most 8).
    * ``download_workers`` [GZ_DOWNLOAD_WORKERS]: parallel cutout requests (default 4, polite).
    * ``cutout_base_url`` [GZ_CUTOUT_BASE_URL]: replaces the SkyServer base URL of cutout
      requests (a mirror, or the test stand-in); None means the chosen source's own URL.

    Network safety (see ``docs/SECURITY.md``):

    * ``mode`` [GZ_MODE]: ``local`` (default, everything allowed inside the allowed roots) or
      ``public`` (uploads and built-in data only; no server paths, downloads or training).
    * ``extra_roots`` [GZ_ALLOWED_ROOTS]: more folders the pages may read and write, separated by
      ``os.pathsep``; the workspace folders, ``data/`` and ``models/`` are always allowed.
    * ``cutout_hosts`` [GZ_CUTOUT_HOSTS]: extra ``host[:port]`` entries, comma-separated, that
      cutout requests started from the dashboard may go to (SDSS's hosts are always allowed).
    * ``max_catalog_mb`` [GZ_MAX_CATALOG_MB]: the largest catalogue read, in MB (2**20 bytes), as
      given and after gzip decompression; default 400 (the full Table 2 is about 90 MB), 50 in the
      public mode. Streamlit's own upload cap (``server.maxUploadSize``) should match it.

    Visitor votes (the Classify page, ``core.votes``):

    * ``votes_url`` [GZ_VOTES_URL]: SQLAlchemy URL of the votes database; default a SQLite
      file ``<home>/votes.sqlite``; ``postgresql+psycopg://...`` for several replicas.
    * ``votes_per_minute`` [GZ_VOTES_PER_MINUTE]: most votes one client (see ``core.votes.clients``)
      may cast in any 60 s, counted from the stored votes, across tabs, reloads and processes (default 30).
    * ``votes_proxy_hops`` [GZ_VOTES_PROXY_HOPS]: how many trusted reverse proxies stand in front of
      the dashboard; 0 (default) keys clients on the address Streamlit reports, N keys them on the
      N-th address from the right of ``X-Forwarded-For``. Never set it without such proxies
      (the header is the client's to forge).
    * ``votes_client_by`` [GZ_VOTES_CLIENT_BY]: what one visitor is, for one vote per galaxy and the
      rate limit: ``address`` (default: the network address, so reloads and new tabs are the same
      visitor) or ``session`` (each browser tab; for a class behind one NAT address, where stuffing
      is not a concern).
    * ``votes_secret_file`` [GZ_VOTES_SECRET_FILE]: the server secret that client keys are keyed
      hashes with, created on first use (mode 0600), default ``<home>/votes_client.key``;
      replicas sharing one votes database must share this file.
    * ``votes_mix`` [GZ_VOTES_MIX]: how the next galaxy is chosen, weights of
      ``uncertain`` (model least sure), ``random`` and ``few`` (fewest votes), default
      ``uncertain=0.6,random=0.2,few=0.2``.

    Cluster (``core.cluster``):

    * ``dask_scheduler`` [GZ_DASK_SCHEDULER]: address of a running Dask scheduler
      (``tcp://host:8786``) that ``predict``/``download`` join when neither ``--cluster``
      nor ``--scheduler`` is given; empty means the single-process path.
    """

    home: Path
    data_dir: Path
    sample_catalog: Path
    demo_dir: Path
    images_dir: Path
    models_dir: Path
    shipped_models_dir: Path
    cache_dir: Path
    catalogs_dir: Path
    torch_threads: int
    download_workers: int
    cutout_base_url: str | None = None
    mode: str = "local"
    extra_roots: tuple[Path, ...] = ()
    cutout_hosts: tuple[str, ...] = ()
    max_catalog_mb: int = 400
    votes_url: str = ""
    votes_per_minute: int = 30
    votes_proxy_hops: int = 0
    votes_client_by: str = "address"
    votes_secret_file: Path | None = None
    votes_mix: str = "uncertain=0.6,random=0.2,few=0.2"
    dask_scheduler: str = ""

    @property
    def public(self) -> bool:
        """True in the public deployment mode (no server paths, downloads or training from pages)."""
        return self.mode == "public"

    @property
    def max_catalog_bytes(self) -> int:
        """``max_catalog_mb`` in bytes (the cap on a catalogue, decompressed)."""
        return self.max_catalog_mb << 20

    @property
    def run_folders(self) -> tuple[Path, ...]:
        """Where runs are listed from: ``models_dir`` (yours), then ``shipped_models_dir`` (once if the same)."""
        if self.models_dir.resolve() == self.shipped_models_dir.resolve():
            return (self.models_dir,)
        return (self.models_dir, self.shipped_models_dir)

    def is_shipped(self, path: str | os.PathLike) -> bool:
        """True when ``path`` is the shipped models folder or lies inside it (symlinks resolved)."""
        path, shipped = Path(path).expanduser().resolve(), self.shipped_models_dir.resolve()
        return path == shipped or shipped in path.parents

    def ensure_dirs(self) -> Settings:
        """Create the writable folders (not the shipped ones) and return self."""
        for path in (self.home, self.images_dir, self.models_dir, self.cache_dir, self.catalogs_dir):
            path.mkdir(parents=True, exist_ok=True)
        return self

    def as_dict(self) -> dict[str, object]:
        return {f.name: (str(v) if isinstance(v := getattr(self, f.name), Path) else v) for f in fields(self)}


#: The deployment modes GZ_MODE accepts.
MODES = ("local", "public")
#: Default catalogue size cap (MB) per mode; GZ_MAX_CATALOG_MB overrides it.
MAX_CATALOG_MB = {"local": 400, "public": 50}


def _env_mode() -> str:
    value = (os.environ.get("GZ_MODE") or "local").strip().lower()
    if value not in MODES:
        raise ValueError(f"environment variable GZ_MODE must be one of {', '.join(MODES)}, got {value!r}")
    return value


#: What GZ_VOTES_CLIENT_BY accepts (the first is the default).
VOTES_CLIENT_BY = ("address", "session")


def _env_choice(name: str, choices: tuple[str, ...]) -> str:
    value = (os.environ.get(name) or choices[0]).strip().lower()
    if value not in choices:
        raise ValueError(f"environment variable {name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def _env_list(name: str, sep: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in os.environ.get(name, "").split(sep) if item.strip())


def get_settings() -> Settings:
    """Read the environment now (cheap; call it where needed rather than caching globals)."""
    home = _env_path("GZ_HOME", REPO_ROOT / "var")
    data_dir = _env_path("GZ_DATA_DIR", REPO_ROOT / "data")
    mode = _env_mode()
    return Settings(
        home=home,
        data_dir=data_dir,
        sample_catalog=_env_path("GZ_SAMPLE_CATALOG", data_dir / "sample" / "gz1_table2_sample695.csv"),
        demo_dir=_env_path("GZ_DEMO_DIR", data_dir / "demo"),
        images_dir=_env_path("GZ_IMAGES_DIR", home / "images"),
        models_dir=_env_path("GZ_MODELS_DIR", home / "runs"),
        shipped_models_dir=_env_path("GZ_SHIPPED_MODELS_DIR", REPO_ROOT / "models"),
        cache_dir=_env_path("GZ_CACHE_DIR", home / "cache"),
        catalogs_dir=_env_path("GZ_CATALOGS_DIR", home / "catalogs"),
        torch_threads=_env_int("GZ_TORCH_THREADS", min(os.cpu_count() or 1, 8)),
        download_workers=_env_int("GZ_DOWNLOAD_WORKERS", 4),
        cutout_base_url=os.environ.get("GZ_CUTOUT_BASE_URL") or None,
        mode=mode,
        extra_roots=tuple(Path(p).expanduser().resolve() for p in _env_list("GZ_ALLOWED_ROOTS", os.pathsep)),
        cutout_hosts=tuple(h.lower() for h in _env_list("GZ_CUTOUT_HOSTS", ",")),
        max_catalog_mb=_env_int("GZ_MAX_CATALOG_MB", MAX_CATALOG_MB[mode]),
        votes_url=os.environ.get("GZ_VOTES_URL") or f"sqlite:///{home / 'votes.sqlite'}",
        votes_per_minute=_env_int("GZ_VOTES_PER_MINUTE", 30),
        votes_proxy_hops=_env_int("GZ_VOTES_PROXY_HOPS", 0),
        votes_client_by=_env_choice("GZ_VOTES_CLIENT_BY", VOTES_CLIENT_BY),
        votes_secret_file=_env_path("GZ_VOTES_SECRET_FILE", home / "votes_client.key"),
        votes_mix=os.environ.get("GZ_VOTES_MIX") or "uncertain=0.6,random=0.2,few=0.2",
        dask_scheduler=(os.environ.get("GZ_DASK_SCHEDULER") or "").strip(),
    )
