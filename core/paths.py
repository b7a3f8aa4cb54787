"""Confinement of server-side paths that come from a page: they must resolve under allowed roots.

The dashboard is a web server, so a folder or file typed into a page is untrusted.
:func:`confine` resolves it (``~``, ``..`` and symlinks included) and refuses it unless
it lies under one of :func:`allowed_roots`: the workspace (``GZ_HOME`` and every
``GZ_*_DIR``), the repository's ``data/`` and ``models/``, and ``GZ_ALLOWED_ROOTS``.
In the public mode no typed path is accepted at all. The CLI, run by the machine's
own user, does not call this. Refusals never include file contents.
"""

from __future__ import annotations

import os
from pathlib import Path

from core.config import REPO_ROOT, Settings, get_settings


class PathNotAllowed(PermissionError):
    """A path from a page that lies outside the allowed roots (or any path, in public mode)."""


def allowed_roots(settings: Settings | None = None) -> tuple[Path, ...]:
    """The folders pages may read and write, resolved, without duplicates, in a stable order."""
    s = settings or get_settings()
    candidates = [s.home, s.images_dir, s.models_dir, s.cache_dir, s.catalogs_dir, s.data_dir, s.demo_dir,
                  s.sample_catalog.parent, REPO_ROOT / "data", REPO_ROOT / "models", *s.extra_roots]
    out: list[Path] = []
    for path in candidates:
        resolved = Path(path).expanduser().resolve()
        if resolved not in out:
            out.append(resolved)
    return tuple(out)


def is_within(path: Path, root: Path) -> bool:
    """True when ``path`` is ``root`` or lies below it (both already resolved)."""
    return path == root or root in path.parents


def confine(value: str | os.PathLike, what: str = "path", settings: Settings | None = None) -> Path:
    """Resolve a path typed into a page and return it, or raise :class:`PathNotAllowed`.

    ``what`` names the field in the message (e.g. "Image folder"). The message names the
    allowed roots and the offending path as typed, never anything read from it.
    """
    s = settings or get_settings()
    if s.public:
        raise PathNotAllowed(f"{what}: server paths are turned off in the public mode; use an upload "
                             "or the built-in data")
    text = os.fspath(value).strip()
    if not text or "\x00" in text:
        raise PathNotAllowed(f"{what}: give a folder or file path")
    path = Path(text).expanduser()
    if not path.is_absolute():
        path = REPO_ROOT / path
    resolved = path.resolve()
    roots = allowed_roots(s)
    if not any(is_within(resolved, root) for root in roots):
        shown = ", ".join(display_path(r) for r in roots)
        raise PathNotAllowed(f"{what}: {text!r} is outside the folders this dashboard may use ({shown}); "
                             "set GZ_ALLOWED_ROOTS to add one")
    return resolved


def display_path(path: Path) -> str:
    """A path as shown to people: relative to the repository where it lies inside it."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)
