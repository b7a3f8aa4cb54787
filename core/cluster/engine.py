"""Which engine runs a job: this process, an embedded ``LocalCluster``, or a running Dask scheduler.

One set of options for every command that can spread over a cluster (``predict``,
``download``, ``embed``):

* ``--cluster N``: start a ``distributed.LocalCluster`` of N worker processes (one thread
  each) on 127.0.0.1 for this job, and stop it at the end;
* ``--scheduler ADDRESS``: join a running cluster (``dask scheduler`` + ``dask worker``,
  dask-jobqueue, Kubernetes...), e.g. ``tcp://10.0.0.5:8786``; the environment variable
  ``GZ_DASK_SCHEDULER`` gives a default address;
* neither: the single-process path, as before.

Workers read images from, and write results to, the paths the client gives them, so on a
real cluster those paths must be on a filesystem every worker sees (NFS, Lustre, a
mounted bucket).
"""

from __future__ import annotations

import argparse
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from core.config import get_settings

#: Seconds a client waits to reach a scheduler before the command fails with a clear error.
CONNECT_TIMEOUT_S = 20

#: ``tcp://host:port`` / ``tls://host:port`` / ``host:port`` (host: a name, IPv4, or [IPv6]).
_ADDRESS = re.compile(r"^(?:(tcp|tls)://)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$")


class EngineError(ValueError):
    """An engine option that cannot be used (bad address, no scheduler there, bad worker count)."""


def normalise_address(address: str) -> str:
    """``address`` as ``tcp://host:port`` (``tls://`` kept); raises :class:`EngineError` naming it."""
    text = (address or "").strip()
    m = _ADDRESS.match(text)
    if not m or not 0 < int(m.group(3)) < 65536:
        raise EngineError(f"scheduler address {address!r} is not of the form tcp://HOST:PORT")
    return f"{m.group(1) or 'tcp'}://{m.group(2)}:{int(m.group(3))}"


@dataclass(frozen=True)
class Engine:
    """The engine a job runs on: ``local_workers`` processes of our own, or a ``scheduler`` address, or neither."""

    local_workers: int = 0
    scheduler: str = ""

    def __post_init__(self) -> None:
        if self.local_workers < 0:
            raise EngineError(f"--cluster must be a positive number of workers, got {self.local_workers}")
        if self.local_workers and self.scheduler:
            raise EngineError("give either --cluster N (a cluster of our own) or --scheduler ADDRESS, not both")

    @property
    def distributed(self) -> bool:
        """True when the job runs on Dask (either kind); False for the single-process path."""
        return bool(self.local_workers or self.scheduler)

    def describe(self) -> str:
        """A few words for logs and pages: 'single process', 'LocalCluster of 2 workers', 'scheduler tcp://...'."""
        if self.local_workers:
            return f"LocalCluster of {self.local_workers} worker process{'es' if self.local_workers > 1 else ''}"
        if self.scheduler:
            return f"Dask scheduler {self.scheduler}"
        return "single process"

    def cli_args(self) -> list[str]:
        """The options that recreate this engine on a command line (for background jobs)."""
        if self.local_workers:
            return ["--cluster", str(self.local_workers)]
        if self.scheduler:
            return ["--scheduler", self.scheduler]
        return []


def engine_for(workers: int = 0, scheduler: str = "") -> Engine:
    """The Dask engine a page asked for: a typed scheduler address (checked by :func:`normalise_address`)
    when one is given, else an embedded cluster of ``workers`` processes. Raises :class:`EngineError`."""
    if scheduler.strip():
        return Engine(scheduler=normalise_address(scheduler))
    if int(workers) < 1:
        raise EngineError(f"the embedded cluster needs at least 1 worker, got {workers}")
    return Engine(local_workers=int(workers))


def eta_words(seconds: float | None) -> str:
    """A duration in seconds as ``1h 02m`` / ``3m 05s``; ``–`` for None or a negative value."""
    if seconds is None or seconds < 0:
        return "–"
    s = int(round(seconds))
    return f"{s // 3600}h {s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m {s % 60:02d}s"


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--cluster N`` and ``--scheduler ADDRESS`` (the same words on every command)."""
    group = parser.add_argument_group("cluster (Dask distributed)")
    group.add_argument("--cluster", type=int, metavar="N", default=0,
                       help="start a Dask LocalCluster of N worker processes on this machine for this job")
    group.add_argument("--scheduler", metavar="ADDRESS", default=None,
                       help="join a running Dask scheduler, e.g. tcp://HOST:8786 (default: $GZ_DASK_SCHEDULER); "
                            "images and outputs must be on paths every worker sees")


def engine_from_args(args: argparse.Namespace) -> Engine:
    """The :class:`Engine` chosen by ``--cluster`` / ``--scheduler`` / ``GZ_DASK_SCHEDULER`` (in that order)."""
    workers = int(getattr(args, "cluster", 0) or 0)
    address = getattr(args, "scheduler", None)
    if address is None and not workers:
        address = get_settings().dask_scheduler
    return Engine(local_workers=workers, scheduler=normalise_address(address) if address else "")


@contextmanager
def dask_client(engine: Engine) -> Iterator[object]:
    """A ``distributed.Client`` on ``engine`` for the duration of the block (a LocalCluster is stopped after).

    The embedded cluster listens on 127.0.0.1 only, with one thread per worker process
    (PyTorch and image decoding release the GIL poorly; processes scale, threads do not)
    and its dashboard on a free port.
    """
    if not engine.distributed:
        raise EngineError("the single-process engine has no Dask client")
    from distributed import Client, LocalCluster

    if engine.local_workers:
        cluster = LocalCluster(n_workers=engine.local_workers, threads_per_worker=1, processes=True,
                               host="127.0.0.1", dashboard_address="127.0.0.1:0",
                               silence_logs=logging.ERROR)
        try:
            with Client(cluster) as client:
                yield client
        finally:
            cluster.close()
        return
    try:
        client = Client(engine.scheduler, timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError) as exc:
        raise EngineError(f"no Dask scheduler answered at {engine.scheduler} within {CONNECT_TIMEOUT_S} s "
                          f"({exc.__class__.__name__})") from exc
    try:
        yield client
    finally:
        client.close()


def dashboard_link(client) -> str | None:
    """The Dask dashboard's URL for ``client`` (None when the scheduler serves none)."""
    try:
        return client.dashboard_link or None
    except (AttributeError, KeyError):
        return None
