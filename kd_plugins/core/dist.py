"""Distributed helpers, each safe without a process group.

- :func:`concat_all_gather_no_grad`: rows of every process (SEED's queue);
  it carries **no gradient**: the gathered rows are teacher embeddings that
  only enter the queue.
- :func:`unwrap_model`: the algorithm inside a DDP/FSDP wrapper, for the
  hooks that call its typed methods.
"""
import torch
import torch.nn as nn
from mmengine.dist import all_gather, get_world_size
from mmengine.model import is_model_wrapper
from torch import Tensor


@torch.no_grad()
def concat_all_gather_no_grad(rows: Tensor) -> Tensor:
    """Rows of every process, concatenated in rank order (rank 0 first).

    Every process must pass the same number of rows. Returns ``rows``
    detached when there is a single process.
    """
    rows = rows.detach()
    if get_world_size() == 1:
        return rows
    return torch.cat(all_gather(rows), dim=0)  # (world * B) x D


def unwrap_model(model: nn.Module) -> nn.Module:
    """``model.module`` for a model wrapper (DDP, FSDP), else ``model``."""
    return model.module if is_model_wrapper(model) else model
