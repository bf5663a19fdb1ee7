"""Connectors: align a (student, teacher) feature pair before a loss.

Every connector is built with the two channel counts it must join and
returns the aligned pair::

    connector = MODELS.build(dict(type='ConvConnector',
                                  student_channels=64, teacher_channels=256))
    s, t = connector(student_feat, teacher_feat)

Student-side connectors (a 1x1 conv) are trainable and live only in the
distillation model: they are saved under ``connectors.*`` and never exported
with the student backbone. Teacher-side connectors (KDEP's SVD projection)
hold no trainable parameter. A connector that cannot join the two shapes
raises ``ValueError`` from :meth:`check` when the model is built.
"""
from typing import Sequence, Tuple

import torch.nn as nn
from torch import Tensor


class BaseConnector(nn.Module):
    """Join student features with ``student_channels`` channels to teacher
    features with ``teacher_channels`` channels (dimension 1)."""

    def __init__(self, student_channels: int, teacher_channels: int) -> None:
        super().__init__()
        for name, value in (('student_channels', student_channels),
                            ('teacher_channels', teacher_channels)):
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f'{type(self).__name__}: {name} must be a '
                                 f'positive int, got {value!r}')
        self.student_channels = student_channels
        self.teacher_channels = teacher_channels

    def check(self, student_shape: Sequence[int],
              teacher_shape: Sequence[int], where: str = '') -> None:
        """Raise ValueError if this connector cannot join these shapes
        (per-sample shapes, channels first)."""
        if student_shape[0] != self.student_channels or \
                teacher_shape[0] != self.teacher_channels:
            raise ValueError(
                f'{type(self).__name__}{where}: built for '
                f'{self.student_channels} student / {self.teacher_channels} '
                f'teacher channels, but the features are '
                f'{tuple(student_shape)} and {tuple(teacher_shape)}.')

    def forward(self, student: Tensor, teacher: Tensor
                ) -> Tuple[Tensor, Tensor]:
        raise NotImplementedError

    def extra_repr(self) -> str:
        return (f'student_channels={self.student_channels}, '
                f'teacher_channels={self.teacher_channels}')
