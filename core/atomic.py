"""Write files so that readers only ever see the old or the new version, never a torn one.

Everything that saves state (job state, checkpoints, metrics, exports) goes through
:func:`write_bytes_atomic`: a temporary file in the same folder, fsync, then
``os.replace``, which is atomic on POSIX file systems.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def write_bytes_atomic(path: str | os.PathLike, data: bytes, mode: int = 0o644, fsync: bool = True) -> Path:
    """Replace ``path`` with ``data`` atomically; the file gets ``mode`` (mkstemp would give 0600).

    ``fsync=False`` skips flushing to the disk before the rename: readers still never see a torn
    file, but a power cut may leave an empty one. Only for files that are checked when read back
    (downloaded cutouts are validated before a resume skips them).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            if fsync:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json_atomic(path: str | os.PathLike, obj: Any) -> Path:
    """Atomically write ``obj`` as indented JSON (values JSON cannot hold are written with ``str``)."""
    return write_bytes_atomic(path, json.dumps(obj, indent=2, default=str).encode("utf-8"))
