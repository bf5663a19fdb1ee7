"""SEED's loss: cross-entropy between similarity distributions over a queue.

Paper: "SEED: Self-supervised Distillation for Visual Representation" (Fang
et al., ICLR 2021), Eq. 4. For an image with L2-normalised teacher embedding
t and student embedding s (both D), and a queue Q of K teacher embeddings,
the extended queue is D+ = [t; Q] (the teacher's own embedding is the extra
entry, placed first here; the order does not change the value)::

    p_T = softmax([t.t, t.Q] / tau_T)              1 x (K+1), target
    p_S = softmax([s.t, s.Q] / tau_S)              1 x (K+1), prediction
    loss = -sum_j p_T[j] log p_S[j]                 batch mean

Defaults are the paper's (tau_T = 0.01, tau_S = 0.2, Sec. 4.1). The official
code's default teacher temperature is tau_T = 1e-4 (pass ``tau_t=1e-4``).
As tau_T -> 0, p_T becomes one-hot on the teacher's own entry (t.t = 1 is the
largest similarity) and the loss becomes the InfoNCE form
``-log softmax([s.t, s.Q] / tau_S)[0]`` (paper, "Relations with Info-NCE").
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from kd_plugins.registry import MODELS


def _check(student: Tensor, teacher: Tensor, queue: Tensor) -> None:
    if student.dim() != 2 or teacher.dim() != 2 or queue.dim() != 2:
        raise ValueError(
            'SEEDLoss expects embeddings B x D and a queue K x D; got student '
            f'{tuple(student.shape)}, teacher {tuple(teacher.shape)}, queue '
            f'{tuple(queue.shape)}.')
    if student.shape != teacher.shape:
        raise ValueError(
            f'student embeddings {tuple(student.shape)} and teacher '
            f'embeddings {tuple(teacher.shape)} differ: both projection heads '
            'must end in the same dimension D (set the student head\'s '
            'out_channels to the teacher\'s).')
    if queue.shape[1] != teacher.shape[1]:
        raise ValueError(
            f'the queue holds {queue.shape[1]}-d embeddings but the teacher '
            f'gives {teacher.shape[1]}-d ones: set the queue dim to '
            f'{teacher.shape[1]}.')


def similarity_logits(emb: Tensor, teacher: Tensor, queue: Tensor) -> Tensor:
    """[emb.t, emb.Q] for each row: B x (1 + K)."""
    own = (emb * teacher).sum(dim=1, keepdim=True)  # B x 1
    others = emb @ queue.t()  # B x K
    return torch.cat([own, others], dim=1)  # B x (1+K)


def seed_loss(student: Tensor, teacher: Tensor, queue: Tensor,
              tau_t: float = 0.01, tau_s: float = 0.2) -> Tensor:
    """Eq. 4 of the paper, averaged over the batch (inputs L2-normalised).

    No gradient flows to ``teacher`` or ``queue``.
    """
    _check(student, teacher, queue)
    # float32 math: 1 / tau_T = 1e4 would overflow half precision.
    s = student.float()  # B x D
    t = teacher.detach().float()  # B x D
    Q = queue.detach().float()  # K x D
    logits_t = similarity_logits(t, t, Q) / tau_t  # B x (1+K)
    logits_s = similarity_logits(s, t, Q) / tau_s  # B x (1+K)
    p_t = F.softmax(logits_t, dim=1)  # B x (1+K)
    return -(p_t * F.log_softmax(logits_s, dim=1)).sum(dim=1).mean()


@MODELS.register_module()
class SEEDLoss(nn.Module):
    """Similarity-distribution distillation loss of SEED.

    Args:
        tau_t: teacher temperature tau_T (paper: 0.01; official code: 1e-4).
        tau_s: student temperature tau_S (paper and code: 0.2).
        loss_weight: multiplier on the loss.

    ``forward(student, teacher, queue)``: embeddings B x D and queue K x D,
    all L2-normalised (not re-normalised here).
    """

    def __init__(self, tau_t: float = 0.01, tau_s: float = 0.2,
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        for name, value in (('tau_t', tau_t), ('tau_s', tau_s)):
            if not isinstance(value, (int, float)) or value <= 0:
                raise ValueError(f'SEEDLoss: {name} must be a positive '
                                 f'number, got {value!r}.')
        self.tau_t = float(tau_t)
        self.tau_s = float(tau_s)
        self.loss_weight = float(loss_weight)

    def forward(self, student: Tensor, teacher: Tensor,
                queue: Tensor) -> Tensor:
        return self.loss_weight * seed_loss(student, teacher, queue,
                                            self.tau_t, self.tau_s)

    def extra_repr(self) -> str:
        return f'tau_t={self.tau_t}, tau_s={self.tau_s}'
