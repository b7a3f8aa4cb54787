"""Who a vote comes from: a client key that survives reloads, tabs and processes, without storing an address.

A *session* is one browser tab (a random ID the page keeps); a *client* is the network
address behind it. The store enforces its rules per client (one vote per galaxy, the
per-minute limit), so reloading the page or opening new tabs gives no extra votes.

* The address is the one Streamlit reports for the connection (``st.context.ip_address``;
  Streamlit's server already honours ``X-Forwarded-For`` from a proxy on the same host), or,
  with ``settings.votes_proxy_hops`` = N > 0 trusted proxies in front, the N-th address from
  the right of ``X-Forwarded-For``. IPv4-mapped IPv6 addresses count as IPv4; an IPv6 address
  counts as its /64 network (:data:`IPV6_PREFIX`), since one subscriber usually holds a whole /64.
* The key is ``ip-`` + 32 hex digits of HMAC-SHA256(server secret, address): equal for equal
  addresses, and no address can be read back from it. Only the key is stored.
* Without an address (a visitor on localhost, where Streamlit reports none, a script or a test),
  or with ``settings.votes_client_by`` = ``session``, the key falls back to ``sid-`` + the keyed
  hash of the session ID, so each tab is its own client.
* The secret is 32 random bytes in ``settings.votes_secret_file`` (default ``<home>/votes_client.key``),
  created on first use with mode 0600. Replicas sharing one votes database must share this file,
  or one visitor gets another key on each replica.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import re
import secrets
from collections.abc import Iterable
from pathlib import Path

from core.config import get_settings

#: Prefix length an IPv6 address is reduced to before hashing (one subscriber's network).
IPV6_PREFIX = 64
#: Bytes of a new server secret.
SECRET_BYTES = 32
#: Hex digits of the HMAC kept in a key (128 bits).
KEY_HEX_DIGITS = 32
#: What a client key looks like: ``ip-``/``sid-`` + hex (new keys), ``session:`` + a session ID
#: (votes stored before client keys existed, one client per session).
CLIENT_KEY_PATTERN = re.compile(r"(ip-|sid-)[0-9a-f]{32}|session:[A-Za-z0-9_-]{8,64}")


def normal_address(text: str | None) -> str | None:
    """``text`` as a canonical address (IPv6 as its /64 network), or None when it is not an IP address."""
    if not text:
        return None
    try:
        ip = ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{ip}/{IPV6_PREFIX}", strict=False))
    return str(ip)


def client_address(remote_ip: str | None, forwarded_for: Iterable[str] = (), proxy_hops: int | None = None,
                   by: str | None = None) -> str | None:
    """The client's address: ``remote_ip`` (what Streamlit reports), or with ``proxy_hops`` = N > 0
    (default ``settings.votes_proxy_hops``) the N-th entry from the right of the ``X-Forwarded-For``
    values ``forwarded_for`` (each header may hold a comma-separated list). When the header holds
    fewer than N entries the request did not come through all the proxies, and ``remote_ip`` is used.
    None when no valid address is known, or when ``by`` (default ``settings.votes_client_by``) is
    ``session``."""
    s = get_settings()
    if (s.votes_client_by if by is None else by) == "session":
        return None
    hops = s.votes_proxy_hops if proxy_hops is None else proxy_hops
    if hops > 0:
        chain = [part.strip() for value in forwarded_for for part in value.split(",") if part.strip()]
        if len(chain) >= hops:
            return normal_address(chain[-hops])
    return normal_address(remote_ip)


def load_secret(path: str | os.PathLike | None = None) -> bytes:
    """The server secret from ``path`` (default ``settings.votes_secret_file``), created with mode 0600
    on first use; racing processes all end up with the one that was written first."""
    s = get_settings()
    path = Path(path or s.votes_secret_file or s.home / "votes_client.key")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(secrets.token_bytes(SECRET_BYTES))
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.link(tmp, path)  # fails if another process got there first: then use theirs
            except FileExistsError:
                pass
        finally:
            tmp.unlink(missing_ok=True)
        data = path.read_bytes()
    if len(data) < 16:
        raise RuntimeError(f"votes client secret {path} holds {len(data)} bytes; at least 16 are needed "
                           "(delete the file to make a new one: existing votes then count as other clients)")
    return data


def client_key(address: str | None, session_id: str, secret: bytes | None = None) -> str:
    """The key the store counts votes by: from ``address`` (see :func:`client_address`) when known,
    else from ``session_id``; ``secret`` default :func:`load_secret`."""
    secret = load_secret() if secret is None else secret
    kind, subject = ("ip-", f"ip:{address}") if address else ("sid-", f"session:{session_id}")
    return kind + hmac.new(secret, subject.encode("utf-8"), hashlib.sha256).hexdigest()[:KEY_HEX_DIGITS]
