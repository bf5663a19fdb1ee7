"""SSLD's cached soft label: the teacher's top-k probabilities.

A row holds the k largest probabilities of the soft label p_t and their
class indices. Unpacked, the mass the k classes leave, 1 - sum(top-k), is
spread evenly over the other C - k classes, so the target is again a
distribution over all C classes; with k = C it is p_t itself (to the
stored precision). What k loses on the loss: docs/teacher_cache.md.
"""
from typing import Dict

import torch
from torch import Tensor

#: smallest probability handed to the loss (log of an exact 0 is -inf)
MIN_PROB = 1e-12


def topk_encode(probs: Tensor, k: int) -> Dict[str, Tensor]:
    """The k largest probabilities of each row (N x k) and their classes."""
    values, index = probs.float().topk(k, dim=1)
    return dict(prob_values=values, prob_index=index)


def topk_decode(values: Tensor, index: Tensor, num_classes: int) -> Tensor:
    """log p (N x C) from the top-k rows, the rest of the mass spread
    evenly over the other classes."""
    if values.dtype != torch.float64:
        values = values.float()
    n, k = values.shape
    rest = (1.0 - values.sum(dim=1, keepdim=True)).clamp(min=0)  # N x 1
    fill = rest / (num_classes - k) if num_classes > k \
        else torch.zeros_like(rest)
    probs = fill.expand(n, num_classes).clone()
    probs.scatter_(1, index.long(), values.to(probs.dtype))
    return probs.clamp(min=MIN_PROB).log()


def topk_loss_stats(probs: Tensor, k: int) -> Dict[str, Tensor]:
    """Per row, what top-k loses: the mass the k classes keep and the KL
    divergence KL(p || p_k) of the unpacked target from the full one."""
    p = probs.double()
    top = topk_encode(p, k)
    q = topk_decode(top['prob_values'], top['prob_index'], p.shape[1])
    kl = (p * (p.clamp(min=MIN_PROB).log() - q.double())).sum(dim=1)
    return dict(mass=top['prob_values'].sum(dim=1), kl=kl)


def index_dtype(num_classes: int) -> str:
    return 'int16' if num_classes <= 32767 else 'int32'
