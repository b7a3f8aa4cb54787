"""Exact nearest neighbours by cosine distance: chunked float32 matrix products and ``torch.topk``.

Vectors are L2-normalised once (float32, N x D: 667,944 x 112 is 0.30 GB); a query batch
is scored against the whole set in row chunks (at most ``max_scores`` similarities held at
once), keeping each query's best ``k`` with ``torch.topk`` (PyTorch is already the model's
library; its matrix-vector product and top-k are multi-threaded, numpy's argpartition is
not). Distance is ``1 - cosine similarity`` in [0, 2]. Exact search, so no recall is lost;
see ``benchmarks/similar_search.py`` for memory and ms per query at catalogue size.
"""

from __future__ import annotations

import numpy as np
import torch

#: Largest number of similarities (queries x index rows) scored in one matrix product.
DEFAULT_MAX_SCORES = 1 << 25


def normalise(vectors: np.ndarray, copy: bool = True) -> np.ndarray:
    """``vectors`` (N, D) as float32 scaled to unit length (all-zero rows stay zero).

    ``copy=False`` scales a float32 array in place (no second copy of a large index).
    """
    v = np.array(vectors, dtype=np.float32, copy=True if copy else None)
    norms = np.sqrt(np.einsum("ij,ij->i", v, v))[:, None]  # no (N, D) temporary
    np.divide(v, norms, out=v, where=norms > 0)
    return v


class NeighbourIndex:
    """Exact cosine k-NN over ``vectors`` (N, D); ``search`` answers many queries at once.

    ``copy=False``: normalise ``vectors`` in place instead of keeping a normalised copy (cosine
    distances are unchanged by it; the caller's array then holds unit vectors).
    """

    def __init__(self, vectors: np.ndarray, max_scores: int = DEFAULT_MAX_SCORES, copy: bool = True):
        self.unit = normalise(vectors, copy=copy)
        self._unit = torch.from_numpy(self.unit)  # shares the memory
        self.max_scores = int(max_scores)

    def __len__(self) -> int:
        return len(self.unit)

    def search(self, queries: np.ndarray, k: int, exclude: list[int | None] | None = None,
               ) -> tuple[np.ndarray, np.ndarray]:
        """(positions (Q, k'), distances (Q, k')) nearest first, k' = min(k, rows that may be returned).

        ``exclude[q]``: a row position never returned for query q (the query itself), or None.
        Equal distances are ordered by position.
        """
        q = torch.from_numpy(normalise(np.atleast_2d(queries)))
        n = len(self.unit)
        excluded = [None] * len(q) if exclude is None else list(exclude)
        extra = 1 if any(e is not None for e in excluded) else 0
        kk = max(0, min(k + extra, n))
        chunk = max(1, self.max_scores // max(1, len(q)))
        best_s = torch.full((len(q), 0), -torch.inf)
        best_i = torch.zeros((len(q), 0), dtype=torch.int64)
        with torch.inference_mode():
            for start in range(0, n, chunk):
                scores = q @ self._unit[start:start + chunk].T          # (Q, c) cosine similarity
                top = torch.topk(scores, min(kk, scores.shape[1]), dim=1)
                best_s = torch.cat([best_s, top.values], dim=1)
                best_i = torch.cat([best_i, top.indices + start], dim=1)
                if best_s.shape[1] > kk:
                    top = torch.topk(best_s, kk, dim=1)
                    best_s, best_i = top.values, torch.gather(best_i, 1, top.indices)
        s, i = best_s.numpy(), best_i.numpy()
        k_out = max(0, min(k, n - extra))
        pos = np.zeros((len(q), k_out), dtype=np.int64)
        dist = np.zeros((len(q), k_out), dtype=np.float32)
        for r in range(len(q)):
            order = np.lexsort((i[r], -s[r]))
            keep = order[i[r][order] != (-1 if excluded[r] is None else excluded[r])][:k_out]
            pos[r] = i[r][keep]
            dist[r] = np.clip(1.0 - s[r][keep], 0.0, 2.0)
        return pos, dist
