"""The one distributed helper SEED needs: gather rows from every process.

Safe without a process group (returns the input). It carries **no gradient**:
the gathered rows are teacher embeddings that only enter the queue.
"""
import torch
from mmengine.dist import all_gather, get_world_size
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
