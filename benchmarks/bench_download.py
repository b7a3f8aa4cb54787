"""Download throughput against the fake SkyServer with added latency per request.

Runs the stand-in (tests/support/fake_skyserver.py) in its own process with
``--latency`` seconds added to every request, then downloads with 1, 4, 8 and 16
workers and compares images/s with the ideal ``workers / latency`` (the rate if
the network wait were the only cost). Target: >= 80% of ideal.

    python benchmarks/bench_download.py [--latency 0.1] [--rounds 15]

Each worker count fetches ``rounds * workers`` cutouts (the fixture's 40 real
positions, reused under distinct benchmark-only OBJIDs) into a fresh folder.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

from core.images.download import run_download  # noqa: E402
from core.images.download_config import DownloadConfig  # noqa: E402
from core.images.failures import Target  # noqa: E402

POSITIONS = REPO / "tests" / "fixtures" / "cutouts" / "catalog_positions.csv"


def start_server(latency: float) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "tests.support.fake_skyserver", "--latency", str(latency)],
                            cwd=REPO, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline().split()
    if len(line) != 2 or line[0] != "PORT":
        proc.kill()
        raise RuntimeError(f"fake server did not start: {line}")
    return proc, f"http://127.0.0.1:{line[1]}/dr18/SkyServerWS/ImgCutout/getjpeg"


def targets(n: int) -> list[Target]:
    with open(POSITIONS, newline="") as fh:
        rows = list(csv.DictReader(fh))
    # Benchmark-only identifiers: each request writes a new file even when a position repeats.
    return [Target(f"8888{i:014d}", float(rows[i % len(rows)]["RA"]), float(rows[i % len(rows)]["DEC"]))
            for i in range(n)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.1, help="seconds added per request (default 0.1)")
    parser.add_argument("--rounds", type=int, default=15, help="requests per worker (default 15)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 4, 8, 16])
    parser.add_argument("--size", type=int, default=256, help="cutout width/height in pixels (default 256)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="runs per worker count; the median is reported (default 3)")
    args = parser.parse_args()

    proc, base = start_server(args.latency)
    try:
        config = DownloadConfig(base_url=base, size=args.size)
        # Warm the server's resize cache so the first run does not pay for it.
        with tempfile.TemporaryDirectory() as d:
            run_download(targets(40), Path(d), config.with_(workers=8))
        rows = []
        for workers in args.workers:
            n = workers * args.rounds
            walls = []
            for _ in range(args.repeats):
                with tempfile.TemporaryDirectory() as d:
                    t0 = time.perf_counter()
                    summary = run_download(targets(n), Path(d), config.with_(workers=workers))
                    walls.append(time.perf_counter() - t0)
                assert summary.downloaded == n, summary
            wall = statistics.median(walls)
            ideal = workers / args.latency
            rows.append((workers, n, wall, n / wall, n / min(walls), ideal, n / wall / ideal))
    finally:
        proc.terminate()
        proc.wait(timeout=10)

    print(f"Cutout download throughput, fake SkyServer with {args.latency * 1000:.0f} ms added latency, "
          f"{args.size}x{args.size} JPEGs")
    print(f"median of {args.repeats} runs per row; 'best' is the fastest run (least disturbed by other load)")
    print(f"{'workers':>7} {'images':>7} {'wall s':>8} {'images/s':>9} {'best/s':>8} {'ideal/s':>8} {'of ideal':>9}")
    for workers, n, wall, rate, best, ideal, frac in rows:
        print(f"{workers:>7} {n:>7} {wall:>8.2f} {rate:>9.1f} {best:>8.1f} {ideal:>8.1f} {frac:>8.0%}")
    worst = min(r[6] for r in rows)
    print(f"worst: {worst:.0%} of ideal (target >= 80%): {'PASS' if worst >= 0.8 else 'BELOW TARGET'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
