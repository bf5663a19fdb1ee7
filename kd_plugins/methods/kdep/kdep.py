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
import os.path as osp
from typing import Any, Dict, List, Optional, Union

import torch
import torch.nn as nn
from torch import Tensor

from kd_plugins.core.checkpoint import sha256_file, weights_sha256
from kd_plugins.core.distiller import BaseDistiller
from kd_plugins.core.teacher import BNMode, KeyMap
from kd_plugins.core.teacher_cache import CachedTargets
from kd_plugins.core.teacher_cache.store import canonical
from kd_plugins.methods.kdep.pre_relu import backbone_of, penultimate_tap
from kd_plugins.methods.kdep.svd_projection import SVDProjection
from kd_plugins.registry import MODELS


@MODELS.register_module()
class KDEP(CachedTargets, BaseDistiller):
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
        teacher_cache: train from a cache of the aligned teacher feature
            (``align``'s teacher side, before ``transform``, so PTS
            settings stay free) written by ``tools/cache_teacher.py``; no
            teacher is built.
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
                 teacher_ckpt_map: KeyMap = None,
                 teacher_cache: Optional[str] = None) -> None:
        if student_feature not in self.STUDENT_FEATURES:
            raise ValueError(
                f'KDEP: student_feature={student_feature!r}; choose one of '
                f'{self.STUDENT_FEATURES}.')
        self.student_feature = student_feature
        self.align_cfg = dict(align)
        super().__init__(student, teacher, teacher_ckpt, teacher_bn_mode,
                         teacher_ckpt_prefix, data_preprocessor, init_cfg,
                         teacher_ckpt_map=teacher_ckpt_map,
                         teacher_cache=teacher_cache)
        self.student_feat = penultimate_tap(self.student, 'student')
        if student_feature == 'post_relu' and \
                self.student_feat.activation is None:
            raise ValueError(
                "KDEP: student_feature='post_relu' needs a student with a "
                f'final activation; the student {self.student_feat} has '
                "none. Use student_feature='pre_relu'.")
        if self.from_cache:  # the teacher's facts, as the cache records
            info = self.cache_manifest['info']
            D_t, weights = info['teacher_channels'], info['teacher_weights']
        else:
            self.teacher_feat = penultimate_tap(self.teacher.model,
                                                'teacher')
            D_t = self.teacher_feat.channels
            # a basis belongs to the teacher's weights, wherever they came
            # from
            weights = weights_sha256(self.teacher.model.state_dict())
        self.teacher_weights = weights
        D_s = self.student_feat.channels
        align = dict(align, student_channels=D_s, teacher_channels=D_t)
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
        if self.from_cache:
            self.check_cache_manifest()

    def teacher_feature(self, inputs: Tensor) -> Tensor:
        """f_t: the teacher's pooled pre-ReLU feature, N x D_t."""
        self.teacher.run(backbone_of(self.teacher.model),
                         self.teacher.prepare(inputs))  # own normalisation
        return self.teacher_feat.pop()  # N x D_t, no grad

    def loss(self, inputs: Tensor, data_samples: Optional[List] = None
             ) -> Dict[str, Tensor]:
        # Labels are deliberately ignored: feature supervision only.
        if not self.from_cache:
            f_t = self.teacher_feature(inputs)  # N x D_t
        backbone_of(self.student)(inputs)
        f_s = self.student_feat.pop() \
            if self.student_feature == 'pre_relu' \
            else self.student_feat.pop_post_activation()  # N x D_s
        if self.from_cache:
            # align's student side; its teacher side is in the cache
            s = self.align(f_s, f_s.new_zeros(
                f_s.shape[0], self.align.teacher_channels))[0]
            t = self.cached_targets(data_samples, f_s.device)['target']
        else:
            s, t = self.align(f_s, f_t)  # N x D, N x D
        t = self.transform(t)  # N x D
        return dict(loss_kdep=self.distill_loss(s, t))

    # ------------------------------------------------------- teacher cache
    # A connector joins the two sides independently (1x1 conv on the
    # student, SVD projection on the teacher), so the cache holds
    # align(_, f_t)[1] and training computes align(f_s, _)[0].
    def teacher_targets(self, inputs: Tensor) -> Dict[str, Tensor]:
        f_t = self.teacher_feature(inputs)
        dummy = f_t.new_zeros(f_t.shape[0], self.align.student_channels)
        return dict(target=self.align(dummy, f_t)[1])

    def _aligned_dim(self) -> int:
        """Width of align's teacher side (D_s for SVD, D_t for a conv)."""
        with torch.no_grad():
            return int(self.align(
                torch.zeros(1, self.align.student_channels),
                torch.zeros(1, self.align.teacher_channels))[1].shape[1])

    def cache_fields(self) -> Dict[str, Dict[str, Any]]:
        return dict(target=dict(dtype=self.cache_dtype,
                                shape=[self._aligned_dim()]))

    def cache_info(self) -> Dict[str, Any]:
        return dict(teacher_channels=self.teacher_feat.channels,
                    teacher_weights=self.teacher_weights)

    def cache_settings(self) -> Dict[str, Any]:
        align = {k: v for k, v in self.align_cfg.items()
                 if k not in ('basis', 'teacher_weights')}
        basis = self.align_cfg.get('basis')
        return dict(align=canonical(align), basis=(
            'sha256:' + sha256_file(basis) if basis and osp.isfile(basis)
            else basis))
