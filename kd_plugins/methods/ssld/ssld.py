"""SSLD: the student matches the teacher's softmax, nothing else.

Paper: "Beyond Self-Supervision: A Simple Yet Effective Network Distillation
Alternative to Improve Backbones" (Cui et al.), Sec. 3. The loss is computed on
labeled and unlabeled images alike; ground-truth labels never reach it, and no
temperature is used. The teacher's BN mode defaults to ``'train'`` as in
PaddleClas' code (batch statistics; our running statistics stay frozen).
"""
from typing import Dict, List, Optional, Union

import torch.nn as nn
from torch import Tensor

from kd_plugins.core.distiller import BaseDistiller
from kd_plugins.core.teacher import BNMode
from kd_plugins.registry import MODELS


@MODELS.register_module()
class SSLD(BaseDistiller):
    """Soft-label-only distillation of a classifier.

    Args:
        student / teacher / teacher_ckpt: see :class:`BaseDistiller`; both
            networks must be classifiers with the same number of classes.
        loss: the distillation loss, default ``JSDivLoss(mode='jsd')``.
        teacher_bn_mode: ``'train'`` (PaddleClas) or ``'eval'``.
    """

    def __init__(self,
                 student: Union[dict, nn.Module],
                 teacher: Union[dict, nn.Module],
                 teacher_ckpt: Optional[str] = None,
                 loss: dict = dict(type='JSDivLoss', mode='jsd'),
                 teacher_bn_mode: BNMode = 'train',
                 teacher_ckpt_prefix: str = '',
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(student, teacher, teacher_ckpt, teacher_bn_mode,
                         teacher_ckpt_prefix, data_preprocessor, init_cfg)
        self.check_same_classes('SSLD')
        self.distill_loss = MODELS.build(dict(loss))

    def loss(self, inputs: Tensor, data_samples: Optional[List] = None
             ) -> Dict[str, Tensor]:
        # Labels in data_samples are deliberately ignored (paper, Sec. 3.1).
        student_logits = self.student(inputs, mode='tensor')  # N x C
        teacher_logits = self.teacher(inputs, mode='tensor')  # N x C
        return dict(loss_ssld=self.distill_loss(student_logits,
                                                teacher_logits))
