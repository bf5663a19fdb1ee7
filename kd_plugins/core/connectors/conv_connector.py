"""Student-side 1x1 convolution (FitNets; SSKD Sec. 3.3; KDEP's baseline)."""
from typing import Tuple

import torch.nn as nn
from torch import Tensor

from kd_plugins.core.connectors.base import BaseConnector
from kd_plugins.registry import MODELS


@MODELS.register_module()
class ConvConnector(BaseConnector):
    """Map student channels to teacher channels with a 1x1 conv.

    Works on feature maps (N x C x H x W) and on pooled features (N x C).
    Used only for the loss; trained with the student, never exported.

    Args:
        student_channels / teacher_channels: the channel counts to join.
        with_bn: add a BatchNorm after the conv (off in SSKD and KDEP).
    """

    def __init__(self, student_channels: int, teacher_channels: int,
                 with_bn: bool = False) -> None:
        super().__init__(student_channels, teacher_channels)
        self.conv = nn.Conv2d(student_channels, teacher_channels, 1,
                              bias=not with_bn)
        self.bn = nn.BatchNorm2d(teacher_channels) if with_bn else None

    def forward(self, student: Tensor, teacher: Tensor
                ) -> Tuple[Tensor, Tensor]:
        pooled = student.dim() == 2
        x = student[:, :, None, None] if pooled else student  # N x Cs x H x W
        x = self.conv(x)  # N x Ct x H x W
        if self.bn is not None:
            x = self.bn(x)
        return (x.flatten(1) if pooled else x), teacher


@MODELS.register_module()
class IdentityConnector(BaseConnector):
    """No alignment: the features must already have the same channels."""

    def __init__(self, student_channels: int, teacher_channels: int) -> None:
        super().__init__(student_channels, teacher_channels)
        if student_channels != teacher_channels:
            raise ValueError(
                f'IdentityConnector cannot join {student_channels} student '
                f'channels to {teacher_channels} teacher channels; use '
                "type='ConvConnector' (or another registered connector).")

    def forward(self, student: Tensor, teacher: Tensor
                ) -> Tuple[Tensor, Tensor]:
        return student, teacher
