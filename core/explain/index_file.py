"""The embedding index: a parquet file, one row per galaxy, data only (no pickles).

Columns: ``ID`` (text) and ``E0`` ... ``E<D-1>`` (float32). The schema metadata key
``gz_embedding`` holds JSON: ``format`` (:data:`FORMAT`), ``model_run``, ``model_sha256``
(SHA-256 of the run's model.pt), ``dim`` (D), ``views`` (1 or 4, see
:mod:`core.explain.features`), ``image_size``. :func:`read_index` refuses, naming the file,
anything that is not such a file: not parquet, no metadata, wrong or missing columns, a
dimension that disagrees with the metadata, non-finite values, repeated IDs.
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.atomic import write_bytes_atomic

#: Schema metadata key and format tag of an embedding index.
META_KEY = b"gz_embedding"
#: Rows per parquet row group (reading decodes one group at a time: 65,536 x 112 floats = 29 MB).
ROW_GROUP = 65_536
FORMAT = "gz-embedding-1"


class IndexFileError(ValueError):
    """An embedding file that cannot be used (message names the file)."""


@dataclass
class EmbeddingIndex:
    """``ids`` (N,) text, ``vectors`` float32 (N, D), ``meta`` (the gz_embedding dict), ``path``."""

    ids: list[str]
    vectors: np.ndarray
    meta: dict
    path: Path | None = None

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def describe(self) -> str:
        return (f"{len(self.ids)} galaxies x {self.dim} features from model {self.meta.get('model_run')} "
                f"(views {self.meta.get('views')})")


def feature_columns(dim: int) -> list[str]:
    return [f"E{i}" for i in range(dim)]


def index_table(ids: list[str], vectors: np.ndarray, meta: dict):
    """A pyarrow Table of an index (meta gets format and dim)."""
    import pyarrow as pa

    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or len(vectors) != len(ids):
        raise ValueError(f"vectors must be (N, D) with N = {len(ids)} IDs, got {vectors.shape}")
    meta = {**meta, "format": FORMAT, "dim": int(vectors.shape[1])}
    arrays = [pa.array([str(i) for i in ids], type=pa.string())]
    arrays += [pa.array(vectors[:, j]) for j in range(vectors.shape[1])]
    schema = pa.schema([pa.field("ID", pa.string())] + [pa.field(c, pa.float32()) for c in
                                                         feature_columns(vectors.shape[1])],
                       metadata={META_KEY: json.dumps(meta).encode()})
    return pa.Table.from_arrays(arrays, schema=schema)


def write_index(path: str | os.PathLike, ids: list[str], vectors: np.ndarray, meta: dict) -> Path:
    """Write an index atomically (temp file + rename)."""
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(index_table(ids, vectors, meta), buf, compression="zstd", row_group_size=ROW_GROUP)
    return write_bytes_atomic(path, buf.getvalue())


def read_meta(path: str | os.PathLike) -> dict:
    """The gz_embedding metadata of an index file, checked; IndexFileError naming the file otherwise."""
    import pyarrow.parquet as pq

    path = Path(path)
    if not path.is_file():
        raise IndexFileError(f"embedding index {path} does not exist")
    try:
        schema = pq.read_schema(path)
    except Exception as exc:  # pyarrow raises several types for a file that is not parquet
        raise IndexFileError(f"{path}: not a readable parquet embedding index ({exc})") from exc
    raw = (schema.metadata or {}).get(META_KEY)
    try:
        meta = json.loads(raw) if raw else None
    except ValueError:
        meta = None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise IndexFileError(f"{path}: not an embedding index made by 'gz embed' (no {META_KEY.decode()} metadata)")
    dim = meta.get("dim")
    if not isinstance(dim, int) or isinstance(dim, bool) or not 1 <= dim <= 65536:
        raise IndexFileError(f"{path}: metadata gives an impossible dimension {dim!r}")
    expected = ["ID"] + feature_columns(dim)
    if schema.names != expected:
        raise IndexFileError(f"{path}: wrong shape: the metadata says {dim} features, so the columns must be "
                             f"ID, E0 ... E{dim - 1}; found {len(schema.names)} columns "
                             f"({', '.join(schema.names[:4])}{' ...' if len(schema.names) > 4 else ''})")
    for name in expected[1:]:
        kind = schema.field(name).type
        if str(kind) != "float":
            raise IndexFileError(f"{path}: column {name} is {kind}, expected float32")
    return meta


def read_index(path: str | os.PathLike) -> EmbeddingIndex:
    """Load and check an index file (see the module docstring for what is refused).

    Read in record batches straight into one float32 (N, D) array, so the peak memory is
    about the array itself plus one batch (0.30 GB for 667,944 x 112).
    """
    import pyarrow.parquet as pq

    path = Path(path)
    meta = read_meta(path)
    dim = meta["dim"]
    try:
        # One row group at a time, without pre-buffering: pyarrow then keeps nothing between groups.
        source = pq.ParquetFile(path, pre_buffer=False, buffer_size=1 << 20)
        vectors = np.empty((source.metadata.num_rows, dim), dtype=np.float32)
        ids: list[str] = []
        row = 0
        for group in range(source.metadata.num_row_groups):
            part = source.read_row_group(group, use_threads=False)
            id_col = part.column(0)
            if id_col.null_count:
                raise IndexFileError(f"{path}: {id_col.null_count} rows have no ID")
            ids += id_col.to_pylist()
            n = part.num_rows
            for j in range(dim):
                col = part.column(j + 1)
                if col.null_count:
                    raise IndexFileError(f"{path}: column E{j} has {col.null_count} empty values")
                vectors[row:row + n, j] = col.to_numpy()
            row += n
            del part
    except IndexFileError:
        raise
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise IndexFileError(f"{path}: cannot be read ({exc})") from exc
    if row != len(vectors):
        raise IndexFileError(f"{path}: holds {row} rows, its footer says {len(vectors)}")
    bad = ~np.isfinite(vectors).all(axis=1)
    if bad.any():
        raise IndexFileError(f"{path}: {int(bad.sum())} rows have non-finite features (first ID {ids[int(np.argmax(bad))]})")
    if len(set(ids)) != len(ids):
        seen, dup = set(), None
        for i in ids:
            if i in seen:
                dup = i
                break
            seen.add(i)
        raise IndexFileError(f"{path}: ID {dup} appears more than once")
    return EmbeddingIndex(ids, vectors, meta, path)


def read_ids(path: str | os.PathLike) -> list[str]:
    """Only the IDs of a (checked) index file."""
    import pyarrow.parquet as pq

    read_meta(path)
    return [str(i) for i in pq.read_table(path, columns=["ID"]).column("ID").to_pylist()]


def same_model(a: dict, b: dict) -> bool:
    """True when two index metadata (or an index and a model's) describe the same embedding."""
    return all(a.get(k) == b.get(k) for k in ("model_sha256", "dim", "views"))
