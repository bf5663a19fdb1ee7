"""Normalised MSE between a prediction and a detached target (BYOL, SimDis).

    || p / ||p|| - z / ||z|| ||^2 = 2 - 2 cos(p, z)                 (Eq. 1)

averaged over the batch. The target never receives a gradient. mmpretrain's
BYOL head computes ``-cos`` (``CosineSimilarityLoss``); the two differ by a
constant, so their gradients agree up to the factor 2.
"""
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from kd_plugins.registry import MODELS


def normalized_mse(pred: Tensor, target: Tensor) -> Tensor:
    """2 - 2 cos(pred, target), mean over the batch; target detached.

    pred, target: N x D.
    """
    if pred.shape != target.shape:
        raise ValueError(f'prediction {tuple(pred.shape)} and target '
                         f'{tuple(target.shape)} differ in shape; the '
                         'student predictor must output the target '
                         "network's projection size.")
    p = F.normalize(pred, dim=-1)  # N x D
    z = F.normalize(target.detach(), dim=-1)  # N x D
    return (2 - 2 * (p * z).sum(dim=-1)).mean()


@MODELS.register_module()
class NormalizedMSELoss(nn.Module):
    """Module shell over :func:`normalized_mse`, with a loss weight."""

    def __init__(self, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.loss_weight = loss_weight

    def forward(self, student: Tensor, teacher: Tensor) -> Tensor:
        return self.loss_weight * normalized_mse(student, teacher)
