"""Write files so that readers only ever see the old or the new version, never a torn one.

Everything that saves state (job state, checkpoints, metrics, exports) goes through
:func:`atomic_file` (or :func:`write_bytes_atomic`): a temporary file in the same folder, fsync, then
``os.replace``, which is atomic on POSIX file systems.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO


@contextmanager
def atomic_file(path: str | os.PathLike, mode: int = 0o644, fsync: bool = True) -> Iterator[BinaryIO]:
    """A binary file to write in a ``with`` block: it replaces ``path`` atomically when the block ends.

    The file gets ``mode`` (mkstemp would give 0600). On an error inside the block the temporary
    file is removed and ``path`` is left as it was. ``fsync=False`` skips flushing to the disk
    before the rename: readers still never see a torn file, but a power cut may leave an empty
    one. Only for files that are checked when read back (downloaded cutouts are validated before
    a resume skips them; a preprocessing cache is checked for shape and dtype).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            if fsync:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: str | os.PathLike, data: bytes, mode: int = 0o644, fsync: bool = True) -> Path:
    """Replace ``path`` with ``data`` atomically (see :func:`atomic_file` for ``mode`` and ``fsync``)."""
    with atomic_file(path, mode=mode, fsync=fsync) as fh:
        fh.write(data)
    return Path(path)


def write_json_atomic(path: str | os.PathLike, obj: Any) -> Path:
    """Atomically write ``obj`` as indented JSON (values JSON cannot hold are written with ``str``)."""
    return write_bytes_atomic(path, json.dumps(obj, indent=2, default=str).encode("utf-8"))
