"""Bounded catalogue input: size cap, streamed gzip under a decompressed-bytes cap, peak memory multiple."""

from __future__ import annotations

import gzip
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from core.catalog.reader import CatalogReadError, load_catalog
from core.config import get_settings
from tests.support.paths import SAMPLE_CATALOG

MB = 1 << 20
#: The stated bound (docs/SECURITY.md): peak RSS above the loaded interpreter <= 6x the text + 64 MB.
PEAK_MULTIPLE, PEAK_SLACK_MB = 6, 64

_MEASURE = """
import json, resource, sys
from core.catalog.reader import CatalogReadError, load_catalog
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    result = load_catalog(sys.argv[1]); outcome = {"rejected": result.report.n_rejected}
except CatalogReadError as exc:
    outcome = {"error": str(exc)}
outcome["delta_mb"] = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024
print(json.dumps(outcome))
"""


def _measure(path: Path, **env: str) -> dict:
    """Load ``path`` in a fresh interpreter; its outcome and peak RSS growth (MB) while loading."""
    done = subprocess.run([sys.executable, "-c", _MEASURE, str(path)], capture_output=True, text=True,
                          timeout=240, env={**os.environ, **env})
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _bomb(path: Path, inflated_mb: int) -> Path:
    """A small .csv.gz that inflates to ``inflated_mb`` MB of valid-looking rows."""
    chunk = b"1,0,0\n" * 100_000
    with gzip.open(path, "wb", compresslevel=6) as fh:
        fh.write(b"OBJID,RA,DEC\n")
        for _ in range(inflated_mb * MB // len(chunk) + 1):
            fh.write(chunk)
    return path


def test_gzip_bomb_is_refused_under_the_cap_without_inflating_it(tmp_path: Path) -> None:
    bomb = _bomb(tmp_path / "bomb.csv.gz", 120)
    assert bomb.stat().st_size < 1 * MB
    outcome = _measure(bomb, GZ_MAX_CATALOG_MB="8")
    assert "bomb.csv.gz: decompresses to more than the 8 MB" in outcome["error"]
    assert outcome["delta_mb"] < 8 * 3 + 24  # the cap (plus buffers), never the 120 MB


def test_bomb_bytes_and_uploads_refused_too(tmp_path: Path) -> None:
    data = _bomb(tmp_path / "b.csv.gz", 20).read_bytes()
    with pytest.raises(CatalogReadError, match=r"upload\.csv\.gz: decompresses to more than the 4 MB"):
        load_catalog(data, name="upload.csv.gz", max_bytes=4 * MB)
    with pytest.raises(CatalogReadError, match="the file is more than"):
        load_catalog(SAMPLE_CATALOG, max_bytes=1000)  # plain text over the cap, refused before reading


def test_cap_comes_from_settings_and_public_mode_is_smaller(monkeypatch: pytest.MonkeyPatch) -> None:
    assert get_settings().max_catalog_mb == 400
    monkeypatch.setenv("GZ_MODE", "public")
    assert get_settings().max_catalog_bytes == 50 * MB
    monkeypatch.setenv("GZ_MAX_CATALOG_MB", "1")
    small = SAMPLE_CATALOG.read_bytes() * 20  # about 1.7 MB
    with pytest.raises(CatalogReadError, match="1 MB"):
        load_catalog(small, name="big.csv")


def test_junk_csv_peak_memory_stays_within_the_stated_multiple(tmp_path: Path) -> None:
    rng = random.Random(0)
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789=+-@"
    header = SAMPLE_CATALOG.read_text().splitlines()[0]
    pool = [",".join("".join(rng.choices(alphabet, k=rng.randint(1, 12))) for _ in range(16)) for _ in range(2000)]
    junk = tmp_path / "junk.csv"
    with junk.open("w") as fh:
        fh.write(header + "\n")
        for i in range(150_000):
            fh.write(pool[i % len(pool)] + "\n")
    size_mb = junk.stat().st_size / MB
    outcome = _measure(junk)
    assert outcome["rejected"] == 150_000  # every row listed, none dropped silently
    assert outcome["delta_mb"] <= PEAK_MULTIPLE * size_mb + PEAK_SLACK_MB, (outcome, size_mb)
