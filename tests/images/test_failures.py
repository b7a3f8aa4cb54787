"""Failure reasons read as plain words; the raw error is kept beside them (no network: loopback only)."""

from __future__ import annotations

import socket

import requests

from core.images.download import run_download
from core.images.download_config import DownloadConfig
from core.images.failures import Target, network_reason, raw_error
from tests.support.fake_skyserver import fake_skyserver

CONFIG = DownloadConfig(connect_timeout=3.0, timeout=0.4)
URL = "https://skyserver.sdss.org/dr18/SkyServerWS/ImgCutout/getjpeg?ra=1&dec=2"


def _wrapped(inner: BaseException) -> requests.ConnectionError:
    """A requests error whose cause is ``inner``, as urllib3 nests them."""
    exc = requests.ConnectionError("HTTPSConnectionPool(host='skyserver.sdss.org', port=443): Max retries")
    exc.__cause__ = inner
    return exc


def test_name_resolution_failure_reads_as_plain_words():
    exc = _wrapped(socket.gaierror(-2, "Name or service not known"))
    assert network_reason(exc, URL, CONFIG) == "could not reach skyserver.sdss.org (name not resolved)"
    assert "gaierror" in raw_error(exc) and "Name or service not known" in raw_error(exc)


def test_reset_and_refused_and_timeouts_read_as_plain_words():
    assert network_reason(_wrapped(ConnectionResetError(104, "Connection reset by peer")), URL, CONFIG) \
        == "skyserver.sdss.org dropped the connection"
    assert network_reason(requests.ConnectTimeout("x"), URL, CONFIG) \
        == "could not reach skyserver.sdss.org (no connection within 3 s)"
    assert network_reason(requests.ReadTimeout("x"), URL, CONFIG) == "skyserver.sdss.org sent nothing for 0.4 s"


def test_a_closed_port_and_a_silent_server_give_plain_reasons_in_failures(tmp_path):
    with socket.socket() as probe:  # a loopback port with nobody listening
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    with fake_skyserver() as server:
        target = Target("587742772951842916", 189.072, 16.3774)
        server.add_fault("delay", ra=target.ra, dec=target.dec, delay=2.0)
        slow = run_download([target], tmp_path / "a", CONFIG.with_(base_url=server.dr18_base, retries=0))
    refused = run_download([target], tmp_path / "b",
                           CONFIG.with_(base_url=f"http://127.0.0.1:{closed}/getjpeg", retries=0))
    assert slow.failures[0].reason == "127.0.0.1 sent nothing for 0.4 s"
    assert refused.failures[0].reason == "could not reach 127.0.0.1 (connection refused)"
    assert "Connection refused" in refused.failures[0].detail or "Errno 111" in refused.failures[0].detail


def test_all_failed_summary_names_the_first_reasons_and_the_way_out():
    from core.images.failures import all_failed_summary

    rows = [{"REASON": "could not reach skyserver.sdss.org (name not resolved)"}] * 3 + [{"REASON": "HTTP 503"}]
    text = all_failed_summary(4, 4, rows)
    assert text.startswith("All 4 downloads failed. First reasons: could not reach skyserver.sdss.org "
                           "(name not resolved) (3); HTTP 503 (1).")
    assert "may be offline" in text and "import images instead" in text
    assert all_failed_summary(3, 4, rows) is None  # one came: an ordinary "finished with failures"
    assert all_failed_summary(0, 0, []) is None
