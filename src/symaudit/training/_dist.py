"""Process-group plumbing: one code path for a single process and for ``torchrun`` DDP.

Under ``torchrun`` (``WORLD_SIZE`` > 1 in the environment) every rank joins a process group:
NCCL when a GPU is present, gloo on CPU.  Ranks own disjoint slices of every GLOBAL batch;
DistributedDataParallel averages their gradients, which equals the gradient of the mean loss
over the global batch when the slices have equal size.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from symaudit._device import default_device

__all__ = ["Dist", "setup", "teardown"]


@dataclass
class Dist:
    rank: int
    world: int
    local_rank: int
    device: torch.device
    owns_group: bool  # we initialised the process group, so we destroy it

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1

    def all_reduce_sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """Sum ``tensor`` over ranks (in place on the communication device, returned on CPU)."""
        if not self.distributed:
            return tensor
        buf = tensor.to(self.device)
        dist.all_reduce(buf, op=dist.ReduceOp.SUM)
        return buf.cpu()

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()


def setup(device: str | torch.device | None = None) -> Dist:
    """Join the process group when launched by torchrun; pick the device.

    ``device`` overrides the choice (``cuda`` when available, else ``cpu``); under DDP on GPU
    each rank uses ``cuda:LOCAL_RANK``.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device is None:
        device = default_device()  # a Slurm GPU job that sees no GPU stops here
    device = torch.device(device)
    if device.type == "cuda":
        device = torch.device("cuda", local_rank if device.index is None else device.index)
        torch.cuda.set_device(device)
    owns = False
    if world > 1 and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend, init_method="env://")
        owns = True
    if world > 1:
        rank, world = dist.get_rank(), dist.get_world_size()
    return Dist(rank, world, local_rank, device, owns)


def teardown(d: Dist) -> None:
    if d.owns_group and dist.is_initialized():
        dist.destroy_process_group()
