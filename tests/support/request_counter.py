"""A loopback HTTP listener that only counts the requests it gets (to prove that none leave a page)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class RequestCounter:
    """Base URL of the listener and the paths requested so far."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.paths: list[str] = []


@contextmanager
def request_counter() -> Iterator[RequestCounter]:
    """Serve ``http://127.0.0.1:<free port>``; every request is recorded and answered 404."""
    counter: RequestCounter

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            counter.paths.append(self.path)
            self.send_error(404)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    counter = RequestCounter(f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield counter
    finally:
        server.shutdown()
        server.server_close()
