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


#: exp() arguments are clamped here: below about -87.3 float32 exp turns
#: subnormal, which CPUs compute many times slower (at tau_T = 0.01 most
#: teacher logits fall there); an entry at the clamp weighs 1.6e-38.
_MIN_EXP_ARG = -87.0


class _SEEDLossFunction(torch.autograd.Function):
    """Eq. 4 and its gradient with respect to the student, in two passes
    over the queue (one product of [s; t] with Q forward, one of the
    gradient with Q backward) and no B x (K+1) concatenation: each row's
    own entry is kept apart. Inputs float32, L2-normalised; no gradient to
    the teacher or the queue.

    Per row, with l_s = [s.t, s.Q] / tau_S and p_T = softmax([t.t, t.Q] /
    tau_T): loss = logsumexp(l_s) - p_T . l_s, whose gradient with respect
    to l_s is softmax(l_s) - p_T.
    """

    @staticmethod
    def forward(ctx, s: Tensor, t: Tensor, queue: Tensor, tau_t: float,
                tau_s: float) -> Tensor:
        b = s.shape[0]
        logits = torch.cat([s, t]) @ queue.t()  # 2B x K: [l_s; l_t] w/o own
        logits[:b].div_(tau_s)
        logits[b:].div_(tau_t)
        own = torch.cat([(s * t).sum(dim=1) / tau_s,
                         (t * t).sum(dim=1) / tau_t])  # 2B: the own entry t
        top = torch.maximum(own, logits.amax(dim=1))  # 2B
        e = (logits - top[:, None]).clamp_(min=_MIN_EXP_ARG).exp_()
        e_own = torch.exp(own - top)
        z = e_own + e.sum(dim=1)  # 2B: softmax denominators / exp(top)
        probs = e.div_(z[:, None])  # 2B x K: [softmax(l_s); p_T], others
        p_own = e_own / z  # 2B: the same, own entry
        # p_T . l_s per row
        cross = p_own[b:] * own[:b] + torch.bmm(
            probs[b:].unsqueeze(1), logits[:b].unsqueeze(2)).view(b)
        lse_s = top[:b] + torch.log(z[:b])
        ctx.save_for_backward(t, queue, probs, p_own)
        ctx.tau_s = tau_s
        return (lse_s - cross).mean()

    @staticmethod
    def backward(ctx, grad: Tensor):
        t, queue, probs, p_own = ctx.saved_tensors
        b = t.shape[0]
        scale = grad / (b * ctx.tau_s)  # mean over B; l_s = s.x / tau_S
        g_others = (probs[:b] - probs[b:]) * scale  # B x K
        g_own = (p_own[:b] - p_own[b:]) * scale  # B
        grad_s = g_own[:, None] * t + g_others @ queue  # one pass over Q
        return grad_s, None, None, None, None


def seed_loss(student: Tensor, teacher: Tensor, queue: Tensor,
              tau_t: float = 0.01, tau_s: float = 0.2) -> Tensor:
    """Eq. 4 of the paper, averaged over the batch (inputs L2-normalised).

    No gradient flows to ``teacher`` or ``queue``. Computed in float32
    (1 / tau_T = 1e4 would overflow half precision), also under autocast.
    """
    _check(student, teacher, queue)
    with torch.autocast(device_type=student.device.type, enabled=False):
        return _SEEDLossFunction.apply(student.float(),
                                       teacher.detach().float(),
                                       queue.detach().float(), float(tau_t),
                                       float(tau_s))


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
