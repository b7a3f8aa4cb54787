"""Start a single-node ``torchrun`` whose rendezvous listens on 127.0.0.1 only (``gz train --nproc N``).

``torchrun --standalone`` (and ``--rdzv-endpoint 127.0.0.1:PORT``) still binds its TCP stores
to every interface (``*:PORT``): anyone who can reach the machine could join or disturb the
group. ``python -m core.training.launch ARGS`` is ``python -m torch.distributed.run ARGS`` with
every store it hosts listening on a socket bound to 127.0.0.1 (handed over as
``master_listen_fd``), so a one-machine run is reachable from this machine only. Multi-node runs
use plain ``torchrun`` on a trusted network (see the README).
"""

from __future__ import annotations

import socket
import sys

#: The arguments this launcher puts before the caller's: one node, rendezvous and workers on loopback.
LOOPBACK_ARGS = ("--standalone", "--local-addr", "127.0.0.1")

_sockets: list[socket.socket] = []  # kept open for the stores' lifetime


def _loopback_store(real):
    """A TCPStore factory that hosts every server store on a listening socket bound to 127.0.0.1."""

    def make(host_name, port, world_size=None, is_master=False, timeout=None, wait_for_workers=True,
             multi_tenant=False, master_listen_fd=None, use_libuv=True):
        kwargs = {"world_size": world_size, "is_master": is_master, "wait_for_workers": wait_for_workers,
                  "multi_tenant": multi_tenant, "use_libuv": use_libuv}
        if timeout is not None:
            kwargs["timeout"] = timeout
        if is_master and master_listen_fd is None:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", int(port or 0)))
            sock.listen(2048)
            _sockets.append(sock)
            master_listen_fd, port = sock.fileno(), sock.getsockname()[1]
        return real(host_name, port, master_listen_fd=master_listen_fd, **kwargs)

    return make


def main(argv: list[str] | None = None) -> None:
    """torchrun with ``argv`` (after :data:`LOOPBACK_ARGS`), its stores on 127.0.0.1 only."""
    import torch.distributed as td
    import torch.distributed.elastic.rendezvous.c10d_rendezvous_backend as c10d_backend
    from torch.distributed.run import main as torchrun

    store = _loopback_store(td.TCPStore)
    td.TCPStore = store  # dynamic rendezvous and the agent's store look it up here
    c10d_backend.TCPStore = store
    torchrun([*LOOPBACK_ARGS, *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    main()
