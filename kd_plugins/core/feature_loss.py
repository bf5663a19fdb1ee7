"""Feature mimicking loss: squared L2 distance between aligned features.

SSKD Eq. (6) minimises ||f_t - f_s||^2 per stage; KDEP uses the MSE between
pooled features. Both are this loss. ``reduction='mean'`` averages over every
element (batch, channels, positions), so its scale does not depend on the
feature size; ``'sum_per_sample'`` sums over a sample's elements and averages
over the batch, the literal ||.||^2 of the papers.
"""
from typing import Literal

import torch.nn as nn
from torch import Tensor

from kd_plugins.registry import MODELS

Reduction = Literal['mean', 'sum_per_sample']


def feature_mse(student: Tensor, teacher: Tensor,
                reduction: Reduction = 'mean') -> Tensor:
    diff2 = (student - teacher) ** 2  # N x ...
    if reduction == 'mean':
        return diff2.mean()
    return diff2.flatten(1).sum(dim=1).mean()


@MODELS.register_module()
class FeatureMSELoss(nn.Module):
    """``loss_weight * mse(student, teacher.detach())``.

    Args:
        loss_weight: multiplier (SSKD: 1, no weighting; KDEP: 3).
        reduction: ``'mean'`` or ``'sum_per_sample'``.
    """

    def __init__(self, loss_weight: float = 1.0,
                 reduction: Reduction = 'mean') -> None:
        super().__init__()
        if reduction not in ('mean', 'sum_per_sample'):
            raise ValueError("reduction must be 'mean' or 'sum_per_sample', "
                             f'got {reduction!r}')
        if loss_weight < 0:
            raise ValueError(f'loss_weight must be >= 0, got {loss_weight}')
        self.loss_weight = float(loss_weight)
        self.reduction = reduction

    def forward(self, student: Tensor, teacher: Tensor) -> Tensor:
        if student.shape != teacher.shape:
            raise ValueError(
                f'FeatureMSELoss: student feature {tuple(student.shape)} and '
                f'teacher feature {tuple(teacher.shape)} differ; align them '
                'with a connector (e.g. ConvConnector) first.')
        return self.loss_weight * feature_mse(student, teacher.detach(),
                                              self.reduction)
