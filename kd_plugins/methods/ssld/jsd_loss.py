"""SSLD's soft-label-only loss: student vs teacher softmax, no labels, no T.

The SSLD paper (Sec. 3.1) minimises the Jensen-Shannon divergence between the
student prediction p_s and the teacher prediction p_t. PaddleClas' code, which
the paper's numbers come from, computes the symmetric KL instead, and some of
its configs use soft cross-entropy. All three are offered; true JSD is the
default because it is what the paper says.

Several teachers (the ensemble variant): the teacher distribution is the
mean of the teachers' softmax, p_t = (1/K) sum_k softmax(z_k); every loss
takes either one teacher's logits (N x C) or a list of K teachers' logits.
With one tensor the computation is exactly the single-teacher one.

All reductions: sum over classes, mean over the batch.
"""
import math
from typing import Literal, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from kd_plugins.registry import MODELS

Mode = Literal['jsd', 'sym_kl', 'soft_ce']
_MODES = ('jsd', 'sym_kl', 'soft_ce')
#: one teacher's logits (N x C), or K teachers' logits
TeacherLogits = Union[Tensor, Sequence[Tensor]]


def teacher_log_probs(teacher_logits: TeacherLogits) -> Tensor:
    """log p_t, N x C: one teacher's log-softmax, or the log of the mean of
    K teachers' softmax, log((1/K) sum_k p_k) = logsumexp_k log p_k - log K
    (stable in log space)."""
    if isinstance(teacher_logits, Tensor):
        return F.log_softmax(teacher_logits, dim=1)
    log_p = torch.stack([F.log_softmax(z, dim=1)
                         for z in teacher_logits])  # K x N x C
    return torch.logsumexp(log_p, dim=0) - math.log(log_p.shape[0])


def teacher_probs(teacher_logits: TeacherLogits) -> Tensor:
    """p_t, N x C: one teacher's softmax, or the mean of K teachers'
    softmax (SSLD's soft label)."""
    if isinstance(teacher_logits, Tensor):
        return F.softmax(teacher_logits, dim=1)
    return torch.stack([F.softmax(z, dim=1)
                        for z in teacher_logits]).mean(dim=0)  # N x C


def _check_logits(student_logits: Tensor,
                  teacher_logits: TeacherLogits) -> None:
    if not isinstance(teacher_logits, Tensor):
        if len(teacher_logits) == 0:
            raise ValueError('JSDivLoss got an empty list of teacher logits.')
        for z in teacher_logits:
            _check_logits(student_logits, z)
        return
    if student_logits.dim() != 2 or teacher_logits.dim() != 2:
        raise ValueError(
            'JSDivLoss expects logits of shape (N, C); got student '
            f'{tuple(student_logits.shape)} and teacher '
            f'{tuple(teacher_logits.shape)}. Tap the classifier output '
            '(the head\'s logits), not a feature map.')
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(
            f'student logits {tuple(student_logits.shape)} and teacher logits '
            f'{tuple(teacher_logits.shape)} differ: a logits loss needs the '
            'same batch size and the same number of classes on both sides '
            '(set the student head\'s num_classes to the teacher\'s).')


def jensen_shannon(student_logits: Tensor,
                   teacher_logits: TeacherLogits) -> Tensor:
    """(KL(p_s || m) + KL(p_t || m)) / 2 with m = (p_s + p_t) / 2."""
    log_ps = F.log_softmax(student_logits, dim=1)  # N x C
    log_pt = teacher_log_probs(teacher_logits)  # N x C
    # log m = log((p_s + p_t) / 2), computed stably in log space.
    log_m = torch.logsumexp(torch.stack([log_ps, log_pt]), dim=0) \
        - torch.log(torch.tensor(2.0, dtype=log_ps.dtype,
                                 device=log_ps.device))
    kl_s = (log_ps.exp() * (log_ps - log_m)).sum(dim=1)  # N
    kl_t = (log_pt.exp() * (log_pt - log_m)).sum(dim=1)  # N
    return ((kl_s + kl_t) / 2).mean()


def symmetric_kl(student_logits: Tensor,
                 teacher_logits: TeacherLogits) -> Tensor:
    """PaddleClas' 'JSD': (KL(p_t || p_s) + KL(p_s || p_t)) / 2."""
    log_ps = F.log_softmax(student_logits, dim=1)  # N x C
    log_pt = teacher_log_probs(teacher_logits)  # N x C
    kl_ts = (log_pt.exp() * (log_pt - log_ps)).sum(dim=1)  # N
    kl_st = (log_ps.exp() * (log_ps - log_pt)).sum(dim=1)  # N
    return ((kl_ts + kl_st) / 2).mean()


def soft_cross_entropy(student_logits: Tensor,
                       teacher_logits: TeacherLogits) -> Tensor:
    """-sum_c p_t(c) log p_s(c), averaged over the batch."""
    p_t = teacher_probs(teacher_logits)  # N x C
    return -(p_t * F.log_softmax(student_logits, dim=1)).sum(dim=1).mean()


_FUNCS = dict(jsd=jensen_shannon, sym_kl=symmetric_kl,
              soft_ce=soft_cross_entropy)


@MODELS.register_module()
class JSDivLoss(nn.Module):
    """Soft-label distillation loss of SSLD.

    Args:
        mode: ``'jsd'`` (true Jensen-Shannon divergence, the paper),
            ``'sym_kl'`` (PaddleClas' symmetric KL) or ``'soft_ce'``
            (cross-entropy against the teacher's softmax).
        loss_weight: multiplier on the loss.

    ``forward(student_logits, teacher_logits)`` takes one teacher's logits
    (N x C) or a list of several teachers' logits, whose mean softmax is
    the target. The teacher's logits carry no gradient: they are detached
    here as well, so the loss is safe even with a teacher that is trained
    online.
    """

    def __init__(self, mode: Mode = 'jsd', loss_weight: float = 1.0) -> None:
        super().__init__()
        if mode not in _MODES:
            raise ValueError(f'JSDivLoss mode must be one of {_MODES}, '
                             f'got {mode!r}.')
        if loss_weight < 0:
            raise ValueError(f'loss_weight must be >= 0, got {loss_weight}.')
        self.mode = mode
        self.loss_weight = float(loss_weight)

    def forward(self, student_logits: Tensor,
                teacher_logits: TeacherLogits) -> Tensor:
        _check_logits(student_logits, teacher_logits)
        target = teacher_logits.detach().float() \
            if isinstance(teacher_logits, Tensor) \
            else [z.detach().float() for z in teacher_logits]
        loss = _FUNCS[self.mode](student_logits.float(), target)
        return self.loss_weight * loss

    def extra_repr(self) -> str:
        return f'mode={self.mode!r}, loss_weight={self.loss_weight}'
