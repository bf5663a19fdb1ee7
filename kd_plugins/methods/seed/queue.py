"""SEED's instance queue: K L2-normalised teacher embeddings, first in first
out.

Everything that must survive a resume is a persistent buffer, so it goes into
every checkpoint under ``<owner>.queue.*`` and mmengine's resume restores it:

- ``queue``: K x D, L2-normalised rows (MoCo's ``moco/builder.py`` keeps
  D x K; rows are what the loss multiplies);
- ``ptr``: the next row to overwrite;
- ``num_enqueued``: how many rows were ever written (0 = never filled, which
  is how :class:`~kd_plugins.methods.seed.SEEDQueueHook` knows whether to
  warm-fill).

The official SEED code, like MoCo, starts from random unit vectors; so does
this module (``warm_fill`` with teacher embeddings is done by the hook).
Under DDP every process gathers the same global batch and therefore holds the
same queue; DDP's buffer broadcast from rank 0 at each forward changes
nothing. A batch that does not divide K is refused with the numbers.

A checkpoint whose queue has another length or dimension is not loaded into
this queue (K x D rows cannot be cut or padded to another K): with a warning,
the queue starts as in a new run, and ``SEEDQueueHook`` warm-fills it.
``--resume`` refuses such a checkpoint before loading anything
(``SafeCheckpointHook``: a resume continues the queue it saved).
"""
import logging

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.logging import print_log
from torch import Tensor

from kd_plugins.core.dist import concat_all_gather_no_grad
from kd_plugins.registry import MODELS


@MODELS.register_module()
class SEEDQueue(nn.Module):
    """A FIFO buffer of teacher embeddings shared by all processes.

    Args:
        K: queue length (paper: 65536).
        dim: embedding dimension D (paper: 128).
    """

    def __init__(self, K: int = 65536, dim: int = 128) -> None:
        super().__init__()
        for name, value in (('K', K), ('dim', dim)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f'SEEDQueue: {name} must be a positive '
                                 f'integer, got {value!r}.')
        self.K = K
        self.dim = dim
        self.register_buffer(
            'queue', F.normalize(torch.randn(K, dim), dim=1))  # K x D
        self.register_buffer('ptr', torch.zeros((), dtype=torch.long))
        self.register_buffer('num_enqueued',
                             torch.zeros((), dtype=torch.long))

    # ----------------------------------------------------------- validation
    def check_batch(self, global_batch: int, what: str = 'the global batch'
                    ) -> None:
        """Raise unless ``global_batch`` rows can be enqueued FIFO in place."""
        if global_batch < 1 or self.K % global_batch != 0:
            b = max(global_batch, 1)
            below, above = self.K // b * b, (self.K // b + 1) * b
            near = f'K={below} or K={above}' if below else f'K={above}'
            raise ValueError(
                f'SEED queue length K={self.K} is not a multiple of {what} '
                f'({global_batch} rows per step): every step replaces one '
                f'whole block of rows. Set {near} (the nearest multiples) '
                f'or a batch size whose global total divides {self.K}.')

    def _load_from_state_dict(self, state_dict, prefix, *args) -> None:
        saved = state_dict.get(prefix + 'queue')
        if saved is not None and saved.shape != self.queue.shape:
            print_log(
                f'the checkpoint\'s SEED queue is {tuple(saved.shape)} (K x '
                f'D), this model\'s {tuple(self.queue.shape)}: the queue is '
                'not loaded and starts as in a new run (warm-filled before '
                'the first step when SEEDQueueHook has warm_fill=True). To '
                'continue a run, keep the K and dim it was trained with.',
                logger='current', level=logging.WARNING)
            state_dict = {k: v for k, v in state_dict.items()
                          if not k.startswith(prefix)}
        super()._load_from_state_dict(state_dict, prefix, *args)

    # -------------------------------------------------------------- updates
    @torch.no_grad()
    def enqueue(self, embeddings: Tensor) -> None:
        """Replace the oldest rows by the batch of every process.

        ``embeddings``: this process's B x D teacher embeddings,
        L2-normalised. Gathered over processes (rank 0 first), no gradient.
        """
        if embeddings.dim() != 2 or embeddings.shape[1] != self.dim:
            raise ValueError(
                f'SEEDQueue holds {self.dim}-d rows; got embeddings of shape '
                f'{tuple(embeddings.shape)}. Set the queue dim to the '
                "teacher head's out_channels.")
        keys = concat_all_gather_no_grad(embeddings)  # (world*B) x D
        n = keys.shape[0]
        self.check_batch(n)
        ptr = int(self.ptr)
        self.queue[ptr:ptr + n] = keys.to(self.queue.dtype)  # n x D
        self.ptr.fill_((ptr + n) % self.K)
        self.num_enqueued.add_(n)

    @torch.no_grad()
    def fill(self, embeddings: Tensor) -> None:
        """Overwrite the whole queue with K rows gathered from all processes.

        Each process passes K / world_size rows; row order is rank order.
        The pointer returns to 0.
        """
        keys = concat_all_gather_no_grad(embeddings)  # K x D
        if keys.shape != self.queue.shape:
            raise ValueError(
                f'warm-filling a {self.K} x {self.dim} queue needs exactly '
                f'{self.K} rows of dimension {self.dim} over all processes; '
                f'got {tuple(keys.shape)}.')
        self.queue.copy_(keys)
        self.ptr.zero_()
        self.num_enqueued.add_(self.K)

    def extra_repr(self) -> str:
        return f'K={self.K}, dim={self.dim}'
