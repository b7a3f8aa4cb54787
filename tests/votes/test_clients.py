"""Client keys: one key per visitor address (IPv6 per /64), no address in the key, the secret file, proxies."""

from __future__ import annotations

import os
import stat
import threading

import pytest

from core.votes.clients import CLIENT_KEY_PATTERN, client_address, client_key, load_secret, normal_address

SECRET = b"s" * 32


def test_equal_addresses_share_a_key_and_the_key_reveals_no_address():
    one = client_key("203.0.113.7", "tab-aaaaaaaa", SECRET)
    assert one == client_key("203.0.113.7", "tab-bbbbbbbb", SECRET)  # another tab or a reload: same client
    assert one != client_key("203.0.113.8", "tab-aaaaaaaa", SECRET)
    assert one != client_key("203.0.113.7", "tab-aaaaaaaa", b"t" * 32)  # keyed: another server, another key
    assert CLIENT_KEY_PATTERN.fullmatch(one) and one.startswith("ip-") and "203" not in one


def test_without_an_address_each_session_is_its_own_client():
    a, b = client_key(None, "tab-aaaaaaaa", SECRET), client_key(None, "tab-bbbbbbbb", SECRET)
    assert a != b and a.startswith("sid-") and CLIENT_KEY_PATTERN.fullmatch(a)
    assert a == client_key(None, "tab-aaaaaaaa", SECRET)


@pytest.mark.parametrize("text, expected", [
    ("203.0.113.7", "203.0.113.7"),
    (" 203.0.113.7 ", "203.0.113.7"),
    ("::ffff:203.0.113.7", "203.0.113.7"),  # IPv4-mapped IPv6 is the IPv4 address
    ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),  # one subscriber's /64 is one client
    ("[2001:db8:1:2::ffff]", "2001:db8:1:2::/64"),
    ("not-an-address", None),
    ("", None),
    (None, None),
])
def test_addresses_are_normalised(text, expected):
    assert normal_address(text) == expected


def test_forwarded_for_is_used_only_behind_the_configured_proxies(monkeypatch):
    chain = ["198.51.100.1, 203.0.113.7", "192.0.2.10"]  # client-forged entry, client, first proxy
    assert client_address("10.0.0.5", chain, proxy_hops=0) == "10.0.0.5"  # no proxy trusted: header ignored
    assert client_address("10.0.0.5", chain, proxy_hops=1) == "192.0.2.10"
    assert client_address("10.0.0.5", chain, proxy_hops=2) == "203.0.113.7"
    assert client_address("10.0.0.5", ["203.0.113.7"], proxy_hops=2) == "10.0.0.5"  # not via both proxies
    assert client_address(None, ["garbage"], proxy_hops=1) is None
    monkeypatch.setenv("GZ_VOTES_PROXY_HOPS", "1")
    assert client_address("10.0.0.5", chain) == "192.0.2.10"  # the setting is the default
    monkeypatch.setenv("GZ_VOTES_CLIENT_BY", "session")  # e.g. a class behind one NAT address
    assert client_address("10.0.0.5", chain) is None
    monkeypatch.setenv("GZ_VOTES_CLIENT_BY", "cookie")
    with pytest.raises(ValueError, match="GZ_VOTES_CLIENT_BY must be one of address, session"):
        client_address("10.0.0.5", chain)


def test_secret_is_created_once_with_mode_0600_and_reused(tmp_path, monkeypatch):
    path = tmp_path / "home" / "votes_client.key"
    monkeypatch.setenv("GZ_VOTES_SECRET_FILE", str(path))
    results: list[bytes] = []
    threads = [threading.Thread(target=lambda: results.append(load_secret())) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(results) == 8 and len(set(results)) == 1 and len(results[0]) == 32  # racing first uses agree
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["votes_client.key"]  # no temporary file left
    assert client_key("203.0.113.7", "tab-aaaaaaaa") == client_key("203.0.113.7", "tab-aaaaaaaa", results[0])
    path.write_bytes(b"short")
    with pytest.raises(RuntimeError, match="at least 16"):
        load_secret()
