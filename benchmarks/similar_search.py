"""Neighbour search at catalogue size: memory and milliseconds per query (issue 20, section 2).

Usage: python benchmarks/similar_search.py [--n 667944] [--dims 112 1280] [--queries 50] [--k 10] [--threads 2]

Builds a synthetic index of N random float32 vectors per dimension D (N = the 667,944 rows of
GZ1 Table 2), wraps it in core.explain.neighbours.NeighbourIndex (exact cosine search by
chunked float32 matrix products, the code ``python -m core similar`` runs) and times
single queries (one call per query, the worst case) and one batch of all queries. Memory is
the index's arrays (vectors as loaded + the normalised copy searched) and the process's
peak RSS. The machine is shared: the load average is printed with the table.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time

import numpy as np

from core.explain.neighbours import NeighbourIndex

TARGET = "under 2 GB, under 50 ms per query"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=667_944)
    parser.add_argument("--dims", type=int, nargs="+", default=[112],
                        help="embedding sizes (112: the shipped runs; 1280 needs about 11 GB of memory)")
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2, help="BLAS/torch threads (set before numpy is used)")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    rows = []
    for dim in args.dims:
        vectors = rng.standard_normal((args.n, dim), dtype=np.float32)
        t0 = time.perf_counter()
        index = NeighbourIndex(vectors)
        build_s = time.perf_counter() - t0
        del vectors  # `similar` keeps only the normalised copy once built
        queries = rng.standard_normal((args.queries, dim), dtype=np.float32)
        index.search(queries[:1], args.k)  # warm-up
        times = []
        for q in queries:
            t = time.perf_counter()
            index.search(q[None], args.k, exclude=[0])
            times.append(1000 * (time.perf_counter() - t))
        t = time.perf_counter()
        index.search(queries, args.k)
        batch_ms = 1000 * (time.perf_counter() - t) / len(queries)
        rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
        rows.append((dim, index.unit.nbytes / 1e9, rss_gb, build_s, float(np.median(times)),
                     float(np.percentile(times, 95)), batch_ms))
        del index
    import torch

    print(f"N = {args.n:,} vectors, k = {args.k}, {args.queries} queries, torch threads "
          f"{torch.get_num_threads()}, load average {os.getloadavg()[0]:.2f} "
          f"on {os.cpu_count()} cores; target {TARGET}")
    print("| D | index GB (float32, normalised) | peak RSS GB (process) | build s | ms/query single (median) "
          "| ms/query single (p95) | ms/query in a batch |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for dim, gb, rss, build, med, p95, batch in rows:
        print(f"| {dim} | {gb:.2f} | {rss:.2f} | {build:.1f} | {med:.1f} | {p95:.1f} | {batch:.1f} |")
    return 0


if __name__ == "__main__":
    threads = next((sys.argv[i + 1] for i, a in enumerate(sys.argv) if a == "--threads"), "2")
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, threads)
    sys.exit(main())
