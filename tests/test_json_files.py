"""read_json_object: one failure behaviour (JsonObjectError naming the file, never its contents)."""

from __future__ import annotations

import pytest

from core.atomic import atomic_file
from core.json_files import JsonObjectError, read_json_object

SECRET = "do-not-echo-7731"


@pytest.mark.parametrize(("data", "why"), [
    (None, "missing"),
    (b'{"a": "caf\xe9 ' + SECRET.encode() + b'"}', "not UTF-8 text"),
    (b'{"a": "' + SECRET.encode() + b'", "b": [1', "not valid JSON"),
    (b'["' + SECRET.encode() + b'"]', "holds a JSON list, not an object"),
])
def test_a_bad_file_is_refused_naming_what_and_where(tmp_path, data, why):
    path = tmp_path / "state.json"
    if data is not None:
        path.write_bytes(data)
    with pytest.raises(JsonObjectError) as info:
        read_json_object(path, what="job file")
    message = str(info.value)
    assert message.startswith(f"job file {path}: ") and why in message and SECRET not in message
    assert isinstance(info.value, ValueError)


def test_an_object_is_returned(tmp_path):
    (tmp_path / "c.json").write_text('{"crop_fraction": 0.45}', encoding="utf-8")
    assert read_json_object(tmp_path / "c.json", what="image-set description") == {"crop_fraction": 0.45}


def test_atomic_file_leaves_the_old_file_on_error_and_no_temporary(tmp_path):
    path = tmp_path / "cache.npy"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_file(path, fsync=False) as fh:
        fh.write(b"half")
        raise RuntimeError("killed")
    assert path.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["cache.npy"]
    with atomic_file(path) as fh:
        fh.write(b"new")
    assert path.read_bytes() == b"new" and path.stat().st_mode & 0o777 == 0o644
