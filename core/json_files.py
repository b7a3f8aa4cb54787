"""Read a JSON file that must hold one JSON object (config.json, state.json, imageset.json, manifests).

:func:`read_json_object` has one failure behaviour: :class:`JsonObjectError` (a ValueError) whose
message names what the file is and its path, and says why (missing, unreadable, not UTF-8, not JSON,
not an object), never quoting the file's contents. Callers that treat a bad file as absent catch it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


class JsonObjectError(ValueError):
    """A file that should hold a JSON object does not; the message names the file, never its contents."""


def read_json_object(path: str | os.PathLike, *, what: str) -> dict[str, Any]:
    """The JSON object in ``path``; :class:`JsonObjectError` ``"<what> <path>: <why>"`` otherwise."""
    name = f"{what} {path}"
    try:
        text = Path(path).read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise JsonObjectError(f"{name}: missing") from None
    except UnicodeDecodeError:
        raise JsonObjectError(f"{name}: not UTF-8 text") from None
    except OSError as exc:
        raise JsonObjectError(f"{name}: cannot be read ({exc.strerror or type(exc).__name__})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise JsonObjectError(f"{name}: not valid JSON (truncated or damaged near line {exc.lineno})") from None
    if not isinstance(data, dict):
        raise JsonObjectError(f"{name}: holds a JSON {type(data).__name__}, not an object")
    return data
