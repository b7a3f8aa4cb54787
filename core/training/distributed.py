"""Training on several processes (``torchrun``): who this process is, the process group, and collectives.

Conventions (see "Training under torchrun" in the README):

* rank and world size come from torchrun's environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
  ``LOCAL_WORLD_SIZE``, ``TORCHELASTIC_RESTART_COUNT``); with ``WORLD_SIZE`` unset or 1 every helper
  here is the identity and training runs exactly as a single process always has;
* ``--batch-size`` is the *global* batch: images per optimiser step summed over ranks; each rank
  takes its ``batch / world`` share of every batch (a batch not divisible by the world size is refused)
  and DDP averages the gradients, so the learning rate applies to the global batch unchanged;
* the process group uses ``nccl`` with one GPU per rank when CUDA is present, else ``gloo`` on the CPU
  (``CUDA_VISIBLE_DEVICES=""`` forces gloo); a single process always trains on the CPU;
* only rank 0 (:attr:`World.main`) writes anything: checkpoints, metrics, config.json, state.json,
  the locks and the active-run file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist

#: How long a collective waits for a slow or dead peer before it fails (torchrun also tears the
#: group down as soon as one worker exits).
TIMEOUT = timedelta(minutes=10)


@dataclass(frozen=True)
class World:
    """This process's place in the training group: rank, world size, local rank, restarts so far."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    local_size: int = 1
    restart_count: int = 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    @property
    def main(self) -> bool:
        """True on rank 0: the only process that writes files or prints progress."""
        return self.rank == 0

    def shard(self, n: int) -> slice:
        """This rank's contiguous share of ``n`` items (sizes differ by at most one, rank 0 largest)."""
        base, extra = divmod(n, self.size)
        start = self.rank * base + min(self.rank, extra)
        return slice(start, start + base + (self.rank < extra))


def world_from_env(env: dict[str, str] | None = None) -> World:
    """The :class:`World` torchrun's variables describe; ``World()`` (one process) when they are absent."""
    env = os.environ if env is None else env

    def _int(name: str, default: int) -> int:
        try:
            return int(env.get(name, default))
        except ValueError:
            return default

    size = max(1, _int("WORLD_SIZE", 1))
    if size == 1:
        return World()
    return World(rank=_int("RANK", 0), size=size, local_rank=_int("LOCAL_RANK", 0),
                 local_size=max(1, _int("LOCAL_WORLD_SIZE", 1)), restart_count=_int("TORCHELASTIC_RESTART_COUNT", 0))


def backend() -> str:
    """``nccl`` when CUDA is present, else ``gloo``."""
    return "nccl" if torch.cuda.is_available() else "gloo"


def device(world: World) -> torch.device:
    """Where this rank trains: its own GPU under nccl, else the CPU (always the CPU for one process)."""
    if world.distributed and backend() == "nccl":
        return torch.device("cuda", world.local_rank)
    return torch.device("cpu")


def init(world: World) -> None:
    """Join the process group (torchrun's ``MASTER_ADDR``/``MASTER_PORT`` rendezvous); nothing for one process."""
    if not world.distributed or dist.is_initialized():
        return
    from torch.distributed.rendezvous import rendezvous

    if backend() == "nccl":
        torch.cuda.set_device(world.local_rank)
    store, _, _ = next(rendezvous("env://", rank=world.rank, world_size=world.size, timeout=TIMEOUT))
    # torchrun keeps one store for every restart of the group: without a prefix per attempt, a restarted
    # rank can read a dead rank's address left by the attempt before and fail to connect.
    store = dist.PrefixStore(f"gz-train/attempt-{world.restart_count}/", store)
    dist.init_process_group(backend(), store=store, rank=world.rank, world_size=world.size, timeout=TIMEOUT)


def destroy() -> None:
    """Leave the process group, if this process joined one."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def _active(world: World) -> bool:
    return world.distributed and dist.is_initialized()


def sum_all(world: World, values: list[float]) -> list[float]:
    """Element-wise sum of ``values`` over all ranks (float64); the values themselves for one process."""
    if not _active(world):
        return list(values)
    t = torch.tensor(values, dtype=torch.float64, device=device(world))
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t.cpu().tolist()


def any_rank(world: World, flag: bool) -> bool:
    """True on every rank when ``flag`` is true on any rank (e.g. cancel seen by rank 0 only)."""
    return bool(sum_all(world, [float(flag)])[0]) if _active(world) else bool(flag)


def broadcast(world: World, obj):
    """Rank 0's ``obj`` on every rank (any picklable object)."""
    if not _active(world):
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0, device=device(world) if backend() == "nccl" else None)
    return box[0]


def first_error(world: World, error: str | None) -> str | None:
    """The first rank's error message, on every rank, when any rank has one; None when all are fine.

    Every rank must call it at the same point, so one rank's bad input ends all of them cleanly.
    """
    if not _active(world):
        return error
    errors: list = [None] * world.size
    dist.all_gather_object(errors, error)
    return next((e for e in errors if e), None)


def gather_rows(world: World, rows: torch.Tensor) -> torch.Tensor:
    """Concatenate every rank's ``rows`` (same trailing shape; counts may differ) in rank order, on every rank."""
    if not _active(world):
        return rows
    dev = device(world)
    counts = torch.tensor([len(rows)], device=dev)
    all_counts = [torch.zeros_like(counts) for _ in range(world.size)]
    dist.all_gather(all_counts, counts)
    longest = int(max(int(c) for c in all_counts))
    padded = torch.zeros((longest, *rows.shape[1:]), dtype=rows.dtype, device=dev)
    padded[:len(rows)] = rows.to(dev)
    parts = [torch.zeros_like(padded) for _ in range(world.size)]
    dist.all_gather(parts, padded)
    return torch.cat([p[:int(c)] for p, c in zip(parts, all_counts, strict=True)]).cpu()

