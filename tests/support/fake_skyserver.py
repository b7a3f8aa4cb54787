"""A stand-in for SDSS SkyServer's ``getjpeg`` on 127.0.0.1, serving real SDSS cutouts.

It answers both URL styles (``.../ImgCutout/getjpeg?ra=..`` and the DR7
``.../getjpeg.aspx?ra=..&opt=``) with the real cutout in
``tests/fixtures/cutouts/`` nearest to (ra, dec), if one lies within
``match_arcsec``; otherwise it answers 404. The fixture images are 120x120 px at
0.2"/px; the server **resizes them to the requested width x height** (it does
not re-project to the requested scale), which is enough to exercise the client.

Faults can be injected per position or for every request (see :class:`Fault`):
``500``/``503``/``404``/``400`` statuses, ``delay`` (sleep before answering,
to go past a client's timeout), ``truncate`` (announce the full length, send
half, close), ``html200`` (an HTML error page with status 200), ``wrong_size``
and ``blank`` JPEGs, ``reset`` (TCP RST), ``trickle`` (the real image, one byte
every ``delay`` seconds, so no single wait is long but the whole never ends),
``trickle_headers`` (the same with an endless header line before any body). ``latency`` adds a fixed delay to
every request (for the benchmark).

Use :func:`fake_skyserver` as a context manager in tests, or run
``python -m tests.support.fake_skyserver --latency 0.1`` for a separate process
(prints ``PORT <n>`` when ready).
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import socket
import struct
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np
from PIL import Image

from tests.support.paths import CUTOUT_FIXTURES

FIXTURE_DIR = CUTOUT_FIXTURES
HTML_ERROR_PAGE = (b"<!DOCTYPE html><html><head><title>SkyServer error</title></head>"
                   b"<body><h1>Server too busy</h1><p>Please try again later.</p></body></html>")
FAULT_KINDS = ("500", "503", "404", "400", "delay", "truncate", "html200", "wrong_size", "blank", "reset",
               "trickle", "trickle_headers")


@dataclass
class Fault:
    """Answer requests with ``kind`` instead of the image.

    ``ra``/``dec`` (decimal degrees) restrict the fault to requests that match
    that cutout (None: every request); ``times`` is how many requests it spoils
    (None: all of them); ``delay`` is the sleep in seconds for ``kind="delay"``
    and the pause between bytes for ``kind="trickle"``.
    """

    kind: str
    ra: float | None = None
    dec: float | None = None
    times: int | None = None
    delay: float = 5.0
    fired: int = 0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {self.kind!r}; choose from {FAULT_KINDS}")


def angular_sep_arcsec(ra1: float, dec1: float, ra2: np.ndarray, dec2: np.ndarray) -> np.ndarray:
    """Great-circle separation in arcsec (haversine; inputs in degrees)."""
    r1, d1, r2, d2 = map(np.radians, (ra1, dec1, ra2, dec2))
    a = np.sin((d2 - d1) / 2) ** 2 + np.cos(d1) * np.cos(d2) * np.sin((r2 - r1) / 2) ** 2
    return np.degrees(2 * np.arcsin(np.sqrt(np.clip(a, 0, 1)))) * 3600.0


class FakeSkyServer:
    """The server's data and behaviour; ``url`` is its root, e.g. ``http://127.0.0.1:PORT``."""

    def __init__(self, fixture_dir: Path = FIXTURE_DIR, latency: float = 0.0, match_arcsec: float = 3.0):
        self.fixture_dir = Path(fixture_dir)
        self.latency = latency
        self.match_arcsec = match_arcsec
        self.faults: list[Fault] = []
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, int, int], bytes] = {}
        self.stopping = threading.Event()
        with open(self.fixture_dir / "index.csv", newline="") as fh:
            rows = list(csv.DictReader(fh))
        self.files = [r["FILE"] for r in rows]
        self.ra = np.array([float(r["RA"]) for r in rows])
        self.dec = np.array([float(r["DEC"]) for r in rows])
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- configuration -------------------------------------------------------------------
    def add_fault(self, kind: str, ra: float | None = None, dec: float | None = None,
                  times: int | None = None, delay: float = 5.0) -> Fault:
        fault = Fault(kind, ra, dec, times, delay)
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    @property
    def url(self) -> str:
        assert self._httpd is not None, "server not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def dr18_base(self) -> str:
        return f"{self.url}/dr18/SkyServerWS/ImgCutout/getjpeg"

    @property
    def dr7_base(self) -> str:
        return f"{self.url}/DR7/ImgCutout/getjpeg.aspx"

    def count(self, answer: str | None = None) -> int:
        with self._lock:
            return sum(1 for r in self.requests if answer is None or r["answer"] == answer)

    # --- behaviour -----------------------------------------------------------------------
    def nearest(self, ra: float, dec: float) -> int | None:
        sep = angular_sep_arcsec(ra, dec, self.ra, self.dec)
        i = int(np.argmin(sep))
        return i if sep[i] <= self.match_arcsec else None

    def _fault_for(self, index: int | None) -> Fault | None:
        with self._lock:
            for f in self.faults:
                if f.times is not None and f.fired >= f.times:
                    continue
                if f.ra is not None:
                    if index is None or angular_sep_arcsec(f.ra, f.dec, self.ra[index:index + 1],
                                                           self.dec[index:index + 1])[0] > self.match_arcsec:
                        continue
                f.fired += 1
                return f
        return None

    def jpeg(self, index: int, width: int, height: int) -> bytes:
        key = (self.files[index], width, height)
        data = self._cache.get(key)
        if data is None:
            with Image.open(self.fixture_dir / "images" / self.files[index]) as img:
                img = img.convert("RGB").resize((width, height), Image.Resampling.LANCZOS)
                buf = io.BytesIO()
                img.save(buf, format="JPEG", quality=90)
            data = self._cache[key] = buf.getvalue()
        return data

    # --- lifecycle -----------------------------------------------------------------------
    def start(self, port: int = 0) -> FakeSkyServer:
        server = self

        class Handler(_Handler):
            fake = server

        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-skyserver", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


class _Handler(BaseHTTPRequestHandler):
    fake: FakeSkyServer
    protocol_version = "HTTP/1.1"  # keep-alive, as SkyServer does
    # Headers and body go out in separate writes; with Nagle's algorithm on, the client's delayed
    # ACK would add ~40 ms to every answer, which a real server does not do.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: object) -> None:  # keep test output clean
        pass

    def _send(self, status: int, body: bytes, ctype: str, length: int | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        self.wfile.write(body)

    def _record(self, query: dict, answer: str) -> None:
        self._entry["answer"] = answer

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        fake = self.fake
        try:
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            # Logged on arrival (answer filled in later), so the log order is the order requests came in.
            self._entry = {"path": parts.path, "query": query, "answer": "pending", "time": time.time()}
            with fake._lock:
                fake.requests.append(self._entry)
            if fake.latency > 0:
                fake.stopping.wait(fake.latency)
            if not parts.path.lower().endswith(("/getjpeg", "/getjpeg.aspx")):
                self._record(query, "404")
                self._send(404, b"not found", "text/plain")
                return
            try:
                ra, dec = float(query["ra"]), float(query["dec"])
                width, height = int(query.get("width", 64)), int(query.get("height", 64))
                float(query.get("scale", 0.396))
                if not (64 <= width <= 2048 and 64 <= height <= 2048) or not math.isfinite(ra + dec):
                    raise ValueError("bad size")
            except (KeyError, ValueError):
                self._record(query, "400")
                self._send(400, b"bad request", "text/plain")
                return
            index = fake.nearest(ra, dec)
            fault = fake._fault_for(index)
            if fault is not None:
                self._record(query, fault.kind)
                self._fault(fault, index, width, height)
                return
            if index is None:
                self._record(query, "404")
                self._send(404, b"<html><body>No image at this position</body></html>", "text/html")
                return
            self._record(query, "200")
            self._send(200, fake.jpeg(index, width, height), "image/jpeg")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _fault(self, fault: Fault, index: int | None, width: int, height: int) -> None:
        kind = fault.kind
        if kind in ("500", "503", "404", "400"):
            self._send(int(kind), b"<html><body>error</body></html>", "text/html")
        elif kind == "html200":
            self._send(200, HTML_ERROR_PAGE, "text/html; charset=utf-8")
        elif kind == "delay":
            self.fake.stopping.wait(fault.delay)
            if index is not None:
                self._send(200, self.fake.jpeg(index, width, height), "image/jpeg")
            else:
                self._send(404, b"not found", "text/plain")
        elif kind in ("truncate", "wrong_size", "blank"):
            i = 0 if index is None else index
            if kind == "truncate":
                body = self.fake.jpeg(i, width, height)
                self._send(200, body[: len(body) // 2], "image/jpeg", length=len(body))
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_WR)
                self.close_connection = True
            elif kind == "wrong_size":
                self._send(200, self.fake.jpeg(i, max(64, width // 2), max(64, height // 2) + 1), "image/jpeg")
            else:
                buf = io.BytesIO()
                Image.new("RGB", (width, height), (0, 0, 0)).save(buf, format="JPEG")
                self._send(200, buf.getvalue(), "image/jpeg")
        elif kind == "trickle":
            body = self.fake.jpeg(0 if index is None else index, width, height)
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            for i in range(len(body)):
                self.wfile.write(body[i:i + 1])
                self.wfile.flush()
                if self.fake.stopping.wait(fault.delay):
                    break
            self.close_connection = True
        elif kind == "trickle_headers":
            self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            for _ in range(10_000):
                self.wfile.write(b"a")
                self.wfile.flush()
                if self.fake.stopping.wait(fault.delay):
                    break
            self.close_connection = True
        elif kind == "reset":
            # SO_LINGER with zero timeout makes close() send RST instead of FIN.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()


@contextmanager
def fake_skyserver(latency: float = 0.0, fixture_dir: Path = FIXTURE_DIR) -> Iterator[FakeSkyServer]:
    """A started :class:`FakeSkyServer` on a free loopback port, stopped afterwards."""
    server = FakeSkyServer(fixture_dir, latency=latency).start()
    try:
        yield server
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fake SkyServer getjpeg on 127.0.0.1 (test stand-in)")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every request")
    args = parser.parse_args(argv)
    server = FakeSkyServer(latency=args.latency).start(args.port)
    print(f"PORT {server._httpd.server_address[1]}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
