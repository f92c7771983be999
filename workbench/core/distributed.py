"""Data-parallel training under ``torchrun`` / ``accelerate launch``, shared by every trainer.

A launcher starts one process per device and describes the group in ``RANK``/``WORLD_SIZE``/``MASTER_*``; a plain
run is a group of one and none of this costs anything. Trainers split each *global* batch between the ranks
(:meth:`Distributed.share`), scale their loss so that DDP's gradient average is the global batch's mean
(:meth:`Distributed.loss_scale`), and gather embeddings with gradient for batch-wide losses (:meth:`gather`). The
run context writes checkpoints, weights and published models on rank 0 only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Distributed:
    """This process's place in the group: ``rank`` of ``world``; ``joined`` when it initialised the group."""

    rank: int = 0
    world: int = 1
    joined: bool = False

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.joined or self.world > 1

    def share(self, items: T) -> T:
        """This rank's share of a global batch (a sequence or a tensor along dim 0): items rank, rank + world, ..."""
        return items[self.rank::self.world]

    def loss_scale(self, local: int, total: int) -> float:
        """Factor for a loss averaged over this rank's ``local`` items so that DDP's average over ranks equals the
        mean over all ``total`` items of the global batch (shares may differ by one)."""
        return self.world * local / total if total else 1.0

    def wrap(self, module: Any, device: str) -> Any:
        """The module under DistributedDataParallel when the group is active, else itself. On CUDA its BatchNorm
        layers become SyncBatchNorm (in place), so statistics are the global batch's; gloo on CPU has no
        SyncBatchNorm and keeps per-rank statistics."""
        if not self.active:
            return module
        from torch.nn import SyncBatchNorm
        from torch.nn.parallel import DistributedDataParallel

        if device.startswith("cuda"):
            module = SyncBatchNorm.convert_sync_batchnorm(module)

        return DistributedDataParallel(module, device_ids=[int(device.split(":")[1])] if ":" in device else None)

    def gather(self, tensor: Any) -> Any:
        """Every rank's tensor concatenated along dim 0 in rank order, differentiable (for batch-wide losses such
        as contrastive ones); the ranks' row counts may differ."""
        if not self.active:
            return tensor
        import torch
        import torch.distributed as dist
        from torch.distributed.nn.functional import all_gather

        rows = torch.tensor([tensor.shape[0]], device=tensor.device)
        counts = [torch.zeros_like(rows) for _ in range(self.world)]
        dist.all_gather(counts, rows)
        top = int(max(c.item() for c in counts))
        padded = torch.nn.functional.pad(tensor, (0, 0) * (tensor.dim() - 1) + (0, top - tensor.shape[0]))
        return torch.cat([part[: int(c.item())] for part, c in zip(all_gather(padded.contiguous()), counts)])

    def average_gradients(self, module: Any) -> None:
        """Average the parameters' gradients over the ranks, for models not wrapped in DDP (their forward is not
        one call, e.g. CLIP's two towers): with a loss every rank computes identically from gathered features, the
        average is the single-process gradient."""
        if not self.active:
            return
        import torch.distributed as dist

        for p in module.parameters():
            if p.grad is not None:
                dist.all_reduce(p.grad)
                p.grad /= self.world

    def leave(self) -> None:
        """Destroy the group if this process created it."""
        if self.joined:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()


def launched() -> bool:
    """True inside a torchrun / accelerate launch (the launcher sets RANK and WORLD_SIZE)."""
    return "WORLD_SIZE" in os.environ and "RANK" in os.environ


def join(device: str) -> Distributed:
    """Join the group the launcher describes (gloo on CPU, nccl on CUDA); a plain run is a group of one."""
    if not launched():
        return Distributed()
    import torch.distributed as dist

    joined = False
    if not dist.is_initialized():
        if device.startswith("cuda"):
            import torch

            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
        joined = True
    return Distributed(dist.get_rank(), dist.get_world_size(), joined)


def rank() -> int:
    """This process's rank from the launcher's environment (0 for a plain run), without joining the group."""
    return int(os.environ.get("RANK", "0"))
