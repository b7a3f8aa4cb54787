"""Get a catalogue's bytes from a path, bytes or an upload, within a size cap, gzip streamed.

The cap (``Settings.max_catalog_bytes``, ``GZ_MAX_CATALOG_MB``) bounds both the file as given
and, for ``.csv.gz``, the *decompressed* text: gzip is inflated as a stream and stops one byte
past the cap, so a small "gzip bomb" costs at most the cap in memory, never its full size.
"""

from __future__ import annotations

import gzip
import io
import os
import zlib
from pathlib import Path
from typing import IO, Any

from core.catalog.result import CatalogReadError

GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"
_MB = 1 << 20


def _too_large(name: str, limit: int, what: str) -> CatalogReadError:
    return CatalogReadError(f"{name}: {what} more than the {limit / _MB:,.0f} MB a catalogue may have "
                            "(GZ_MAX_CATALOG_MB); split it or raise the limit")


def read_source(source: Any, name: str | None, limit: int) -> tuple[bytes, str]:
    """Return (decompressed bytes, display name) of ``source``; at most ``limit`` bytes either way."""
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        display = name or path.name
        try:
            size = path.stat().st_size
            if size > limit:
                raise _too_large(display, limit, "the file is")
            with open(path, "rb") as handle:
                if handle.read(2) != GZIP_MAGIC:  # plain text within the cap: one exact-size read
                    return _in_memory(path.read_bytes(), display, limit), display
                handle.seek(0)
                return _bounded(handle, display, limit), display
        except OSError as exc:
            raise CatalogReadError(f"cannot open catalogue file {display!r}: {exc.strerror or exc}") from exc
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _in_memory(bytes(source), name or "uploaded file", limit), name or "uploaded file"
    if hasattr(source, "read"):
        display = name or Path(str(getattr(source, "name", "uploaded file"))).name
        if hasattr(source, "getvalue"):  # an upload already in memory (Streamlit's UploadedFile)
            return _in_memory(source.getvalue(), display, limit), display
        return _bounded(source, display, limit), display
    raise TypeError(f"load_catalog expects a path, bytes or a binary file object, got {type(source).__name__}")


def _in_memory(data: bytes, name: str, limit: int) -> bytes:
    """``data`` itself when it is plain text within the cap (no copy), else via :func:`_bounded`."""
    if data[:2] == GZIP_MAGIC or data[:4] == ZIP_MAGIC:
        return _bounded(io.BytesIO(data), name, limit)
    if len(data) > limit:
        raise _too_large(name, limit, "the file is")
    return data


def _bounded(handle: IO[bytes], name: str, limit: int) -> bytes:
    """Read ``handle`` (inflating gzip as a stream) and refuse more than ``limit`` bytes."""
    head = handle.read(4)
    if isinstance(head, str):
        raise TypeError("load_catalog expects a binary file object, not a text one")
    if head[:4] == ZIP_MAGIC:
        raise CatalogReadError(f"{name}: is a zip archive; upload the .csv itself or a .csv.gz file")
    rest = handle.read(limit + 1 - len(head)) if head[:2] != GZIP_MAGIC else b""
    if head[:2] != GZIP_MAGIC:
        data = head + rest
        if len(data) > limit:
            raise _too_large(name, limit, "the file is")
        return data
    try:
        with gzip.GzipFile(fileobj=_Prefixed(head, handle)) as inflating:
            data = inflating.read(limit + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise CatalogReadError(f"{name}: looks gzip-compressed but cannot be decompressed ({exc})") from exc
    if len(data) > limit:
        raise _too_large(name, limit, "decompresses to")
    return data


class _Prefixed(io.RawIOBase):
    """``prefix`` then the rest of ``handle``, as one readable stream (to put back the sniffed bytes)."""

    def __init__(self, prefix: bytes, handle: IO[bytes]) -> None:
        self._prefix, self._handle = prefix, handle

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._prefix:
            n = min(len(buffer), len(self._prefix))
            buffer[:n], self._prefix = self._prefix[:n], self._prefix[n:]
            return n
        chunk = self._handle.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)
