"""SimDis-On: teacher and student BYOL pairs trained together.

The teacher is a registered, trainable mmpretrain ``BYOL`` (keys
``teacher.*``, the same layout as a BYOL checkpoint) trained with its own
BYOL loss (its predictor ``teacher.head`` predicts its EMA target's
projection of the other view) in the same optimizer as the student. The
student's distillation targets are detached, so the teacher receives no
gradient from the student's loss: its gradients are exactly those of its own
BYOL loss.

Loss = ``loss_student`` (mean over the student's views) + ``loss_teacher``
(the teacher's BYOL loss, its only view), as the official code adds
``loss_s / num_view_s + loss_t / num_view_t``. Both EMA targets are updated
by :class:`~kd_plugins.methods.simdis.EMATargetHook` with the same schedule.
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from torch import Tensor

from kd_plugins.methods.simdis.base import SimDisBase
from kd_plugins.methods.simdis.byol_pair import (
    check_byol,
    online_encoder,
    predict,
    project,
    target_encoder,
)
from kd_plugins.methods.simdis.loss import normalized_mse
from kd_plugins.registry import MODELS


@MODELS.register_module()
class SimDisOnline(SimDisBase):
    """Online SimDis (presets ``'SimDis-On'`` and ``'SimDis-On-7v'``).

    Args:
        student, teacher: mmpretrain ``BYOL`` configs of the two pairs.
        targets: views or a preset name; default ``'SimDis-On'``.
        predictor: config of each extra student predictor.
    """

    def __init__(self, student: Union[dict, nn.Module],
                 teacher: Union[dict, nn.Module],
                 targets: Union[str, Sequence[str]] = 'SimDis-On',
                 predictor: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(student, targets, predictor, data_preprocessor,
                         init_cfg)
        self.teacher = check_byol(
            teacher if isinstance(teacher, nn.Module)
            else MODELS.build(dict(teacher)), 'teacher')
        self._check_dims(self.teacher)

    def ema_pairs(self) -> List[Tuple[str, nn.Module, nn.Module]]:
        return super().ema_pairs() + [
            ('teacher', online_encoder(self.teacher),
             target_encoder(self.teacher))]

    def teacher_loss(self, z_t: Tuple[Tensor, Tensor],
                     z_t_ema: Tuple[Tensor, Tensor]) -> Tensor:
        """The teacher's BYOL loss: q_T(z_T(v)) -> T^(v') and symmetric."""
        return normalized_mse(predict(self.teacher.head, z_t[0]), z_t_ema[1]) \
            + normalized_mse(predict(self.teacher.head, z_t[1]), z_t_ema[0])

    def loss(self, inputs, data_samples=None) -> Dict[str, Tensor]:
        self._warn_if_no_ema()
        v1, v2 = self._views(inputs)
        online = online_encoder(self.teacher)
        z_t = (project(online, v1), project(online, v2))  # T, with gradients
        with torch.no_grad():
            target = target_encoder(self.teacher)
            z_t_ema = (project(target, v1), project(target, v2))  # T^
        # Detached: the student's loss sends nothing back into the teacher.
        losses = self.student_losses(
            v1, v2, (z_t[0].detach(), z_t[1].detach()), z_t_ema)
        losses['loss_teacher'] = self.teacher_loss(z_t, z_t_ema)
        return losses
