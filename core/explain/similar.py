"""Galaxies like this one: many queries (index IDs, image files) against one embedding index.

A query is an ID already in the index (its stored embedding is used) or an image
(embedded with the ``--model`` run, which must be the index's model: same weights hash
and views). The answer rows are ``QUERY, RANK, ID, DISTANCE`` (rank 1 = nearest, distance
= 1 - cosine similarity); a query whose name (the ID, or the image's file stem) is in the
index never gets itself back. An image that cannot be used is listed with its reason
(:func:`image_queries`) while the other queries are answered.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.csv_safety import safe_row
from core.explain.index_file import EmbeddingIndex, IndexFileError, same_model
from core.images.reading import ImageInputError, open_image

#: Output columns.
COLUMNS = ("QUERY", "RANK", "ID", "DISTANCE")
#: Queries scored per matrix product.
QUERY_BATCH = 256


class UnknownIdError(ValueError):
    """A queried ID that is not in the index."""


@dataclass
class Query:
    """``name`` (the ID, or an image's file stem) and its embedding (D,)."""

    name: str
    vector: np.ndarray


def check_model_matches(index: EmbeddingIndex, run) -> None:
    """Refuse ``run`` unless it made ``index`` (same model.pt hash, dimension and views)."""
    from core.explain.embed_set import index_meta

    mine = index_meta(run, int(index.meta.get("views", 1)))
    if not same_model(index.meta, mine):
        raise IndexFileError(f"{index.path}: index made by another model ({index.meta.get('model_run')}, weights "
                             f"{str(index.meta.get('model_sha256'))[:12]}, {index.meta.get('dim')} features); "
                             f"--model {run.run_dir} has weights {mine['model_sha256'][:12]} and "
                             f"{mine['dim']} features. Embed the images with that model, or pass the index's model")


def id_queries(index: EmbeddingIndex, ids: Sequence[str]) -> list[Query]:
    """Queries for IDs in the index; UnknownIdError naming the first ID that is not."""
    position = {gid: i for i, gid in enumerate(index.ids)}
    missing = [i for i in ids if str(i).strip() not in position]
    if missing:
        raise UnknownIdError(f"ID {missing[0]} is not in the index {index.path}"
                             + (f" ({len(missing)} of the {len(ids)} IDs are not)" if len(missing) > 1 else ""))
    return [Query(str(i).strip(), index.vectors[position[str(i).strip()]]) for i in ids]


def image_queries(run, files: Sequence[str | os.PathLike],
                  views: int) -> tuple[list[Query], list[tuple[str, str]]]:
    """Queries for image files (QUERY = file stem), embedded with ``run``, and the files refused.

    An unusable file (missing, unreadable, empty, not a JPEG or PNG) does not stop the others:
    it is returned as ``(file, reason)`` in the second list, in the order given.
    """
    from core.explain.features import embed_prepared
    from core.inference.predict import crop_for_images

    out, refused = [], []
    for f in files:
        path = Path(f)
        try:
            img = open_image(path)
        except ImageInputError as exc:
            refused.append((str(path), str(exc)))
            continue
        except OSError as exc:  # a folder, a file that vanished or cannot be opened
            refused.append((str(path), f"{path} cannot be read ({exc.strerror or exc})"))
            continue
        prepared = run.prepare([img], crop_fraction=crop_for_images(run, path.parent))
        out.append(Query(path.stem, embed_prepared(run.model, prepared, views=views)[0]))
    return out, refused


def search(index: EmbeddingIndex, queries: Sequence[Query], k: int) -> list[tuple[str, int, str, float]]:
    """Rows (QUERY, RANK, ID, DISTANCE), nearest first per query, each query's own ID excluded."""
    from core.explain.neighbours import NeighbourIndex

    if k < 1:
        raise ValueError(f"-k must be at least 1, got {k}")
    if not len(index.ids):
        raise IndexFileError(f"{index.path}: the index is empty")
    position = {gid: i for i, gid in enumerate(index.ids)}
    nn = NeighbourIndex(index.vectors, copy=False)  # the index's own rows become unit vectors: same cosines
    rows: list[tuple[str, int, str, float]] = []
    for start in range(0, len(queries), QUERY_BATCH):
        batch = queries[start:start + QUERY_BATCH]
        vectors = np.stack([q.vector for q in batch]).astype(np.float32)
        if vectors.shape[1] != index.dim:
            raise IndexFileError(f"{index.path}: queries have {vectors.shape[1]} features, the index {index.dim}")
        pos, dist = nn.search(vectors, k, exclude=[position.get(q.name) for q in batch])
        for q, p_row, d_row in zip(batch, pos, dist, strict=True):
            rows += [(q.name, r + 1, index.ids[p], float(d)) for r, (p, d) in enumerate(zip(p_row, d_row,
                                                                                               strict=True))]
    return rows


def rows_csv(rows: Sequence[tuple[str, int, str, float]]) -> str:
    """The rows as CSV text with a header (text cells made formula-safe)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    for query, rank, gid, dist in rows:
        writer.writerow(safe_row([query, rank, gid, f"{dist:.6f}"]))
    return buf.getvalue()
