"""KDEP: knowledge distillation as efficient pre-training (He et al., CVPR
2022).

The student backbone learns only to reproduce the teacher's pooled
penultimate feature, both taken before the final ReLU (Sec. 3.2); no logits
and no labels reach the loss::

    f_s = GAP(pre-ReLU last map of the student)           N x D_s
    f_t = GAP(pre-ReLU last map of the teacher)           N x D_t
    s, t = align(f_s, f_t)       SVDProjection: t = (f_t - mean) @ V[:, :D_s]
    t = transform(t)             PTS: sign(t) |t / T|^(1/n)
    loss = loss_weight * MSE(s, t)                          (official: 3)

Only the teacher's backbone runs (no neck, no head). The teacher may be
an mmpretrain ResNet or MobileNetV2, a timm ResNet (``TIMMBackbone`` /
``TimmClassifier``) or a Vision Transformer, whose feature is the one its
head reads (:class:`~kd_plugins.methods.kdep.pre_relu.ViTFeatureTap`).
The student's backbone alone runs too, so a classifier student's neck and
head get no gradient; use a bare backbone student (as the configs do) under
DDP, or set ``find_unused_parameters``. With a backbone student there is
nothing to validate: set ``val_cfg``/``val_dataloader``/``val_evaluator`` to
None.
"""
from typing import Dict, List, Optional, Union

import torch.nn as nn
from torch import Tensor

from kd_plugins.core.checkpoint import weights_sha256
from kd_plugins.core.distiller import BaseDistiller
from kd_plugins.core.teacher import BNMode, KeyMap
from kd_plugins.methods.kdep.pre_relu import backbone_of, penultimate_tap
from kd_plugins.methods.kdep.svd_projection import SVDProjection
from kd_plugins.registry import MODELS


@MODELS.register_module()
class KDEP(BaseDistiller):
    """Pre-ReLU pooled feature distillation with a configurable alignment.

    Args:
        student: classifier or backbone config (only its backbone runs).
        teacher / teacher_ckpt: the frozen teacher (classifier or backbone).
        align: connector config, built with ``student_channels`` and
            ``teacher_channels`` filled in. ``SVDProjection`` (paper; also
            given the teacher's ``weights_sha256`` so that the basis is
            checked against the weights it was computed from)
            or ``ConvConnector`` (the 1x1 conv baseline, student side).
        transform: module applied to the aligned teacher feature, default
            ``PTS(T=0.1, n=3)``; ``ScaleNorm``/``StdMatch`` (with
            ``basis=PATH``) for the paper's SN/SM; None for plain SVD.
        loss: default ``FeatureMSELoss(loss_weight=3)`` (official recipe).
        teacher_bn_mode: ``'eval'`` (running statistics, the same ones the
            basis was computed with by ``tools/kdep_svd.py``) or
            ``'train'``.
        student_feature: ``'pre_relu'`` (paper) or ``'post_relu'``: the
            student's pooled feature after its final activation, the
            paper's "1x1 conv, post-ReLU" baseline (Table 2). The teacher
            side is always pre-ReLU.
        teacher_ckpt_prefix / teacher_ckpt_map: see :class:`BaseDistiller`.
    """

    STUDENT_FEATURES = ('pre_relu', 'post_relu')

    def __init__(self,
                 student: Union[dict, nn.Module],
                 teacher: Union[dict, nn.Module],
                 teacher_ckpt: Optional[str] = None,
                 align: dict = dict(type='SVDProjection'),
                 transform: Optional[dict] = dict(type='PTS', T=0.1, n=3),
                 loss: dict = dict(type='FeatureMSELoss', loss_weight=3.0),
                 teacher_bn_mode: BNMode = 'eval',
                 teacher_ckpt_prefix: str = '',
                 student_feature: str = 'pre_relu',
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None,
                 teacher_ckpt_map: KeyMap = None) -> None:
        if student_feature not in self.STUDENT_FEATURES:
            raise ValueError(
                f'KDEP: student_feature={student_feature!r}; choose one of '
                f'{self.STUDENT_FEATURES}.')
        self.student_feature = student_feature
        super().__init__(student, teacher, teacher_ckpt, teacher_bn_mode,
                         teacher_ckpt_prefix, data_preprocessor, init_cfg,
                         teacher_ckpt_map=teacher_ckpt_map)
        self.student_feat = penultimate_tap(self.student, 'student')
        self.teacher_feat = penultimate_tap(self.teacher.model, 'teacher')
        if student_feature == 'post_relu' and \
                self.student_feat.activation is None:
            raise ValueError(
                "KDEP: student_feature='post_relu' needs a student with a "
                f'final activation; the student {self.student_feat} has '
                "none. Use student_feature='pre_relu'.")
        D_s, D_t = self.student_feat.channels, self.teacher_feat.channels
        align = dict(align, student_channels=D_s, teacher_channels=D_t)
        # a basis belongs to the teacher's weights, wherever they came from
        weights = weights_sha256(self.teacher.model.state_dict())
        if 'basis' in align:
            align.setdefault('teacher_weights', weights)
        if MODELS.get(align.get('type')) is SVDProjection and \
                'basis' not in align:
            raise ValueError(
                "KDEP: align=dict(type='SVDProjection') needs basis=PATH,"
                ' the file written by `python tools/kdep_svd.py CONFIG '
                "--out PATH`; or use align=dict(type='ConvConnector').")
        self.align = MODELS.build(align)
        self.align.check((D_s, ), (D_t, ), ' (KDEP pooled features)')
        if transform is not None:
            transform = dict(transform)
            if 'basis' in transform:  # ScaleNorm / StdMatch read the basis
                transform.setdefault('teacher_weights', weights)
        self.transform = MODELS.build(transform) \
            if transform is not None else nn.Identity()
        self.distill_loss = MODELS.build(dict(loss))

    def loss(self, inputs: Tensor, data_samples: Optional[List] = None
             ) -> Dict[str, Tensor]:
        # Labels are deliberately ignored: feature supervision only.
        self.teacher.run(backbone_of(self.teacher.model),
                         self.teacher.prepare(inputs))  # own normalisation
        f_t = self.teacher_feat.pop()  # N x D_t, no grad
        backbone_of(self.student)(inputs)
        f_s = self.student_feat.pop() \
            if self.student_feature == 'pre_relu' \
            else self.student_feat.pop_post_activation()  # N x D_s
        s, t = self.align(f_s, f_t)  # N x D, N x D
        t = self.transform(t)  # N x D
        return dict(loss_kdep=self.distill_loss(s, t))
