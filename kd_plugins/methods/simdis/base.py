"""SimDisBase: the student BYOL pair, its predictors and the view losses.

Shared by the offline (:class:`SimDis`) and online (:class:`SimDisOnline`)
algorithms. State-dict layout (what the checkpoints hold)::

    student.backbone.*            online encoder f_S  (exported backbone)
    student.neck.*                online projector g_S
    student.head.predictor.*      predictor for the BYOL view (S^-v')
    student.target_net.module.*   EMA target S^ (encoder + projector)
    predictors.<view>.*           one predictor per other target view

The student loss is the mean over the selected views of

    L_view = ||q(z_v) - t_v||^2 + ||q(z_v') - t_v'||^2   (normalised, Eq. 1)

with ``t`` the view's target projections (detached), exactly as the official
code averages its student views (``loss_s / num_view_s``).
"""
import warnings
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModel, ModuleDict
from torch import Tensor

from kd_plugins.core.distiller import build_data_preprocessor
from kd_plugins.methods.simdis.byol_pair import (
    check_byol,
    online_encoder,
    predict,
    project,
    projection_dim,
    target_encoder,
)
from kd_plugins.methods.simdis.ema_hook import copy_to_target_
from kd_plugins.methods.simdis.loss import normalized_mse
from kd_plugins.methods.simdis.views import BYOL_VIEW, needs, parse_targets
from kd_plugins.registry import MODELS

Pair = Tuple[Tensor, Tensor]  # (view v, view v'), each N x D


class SimDisBase(BaseModel):
    """Student BYOL pair + per-view predictors + view losses.

    Args:
        student: config of an mmpretrain ``BYOL`` model (the student pair).
        targets: list of view names (see :mod:`.views`) or a preset name.
        predictor: config of each extra predictor; default: the student's
            own ``head.predictor`` config.
        data_preprocessor: default ``SelfSupDataPreprocessor`` (two views).
    """

    def __init__(self, student: Union[dict, nn.Module],
                 targets: Union[str, Sequence[str]],
                 predictor: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(
            data_preprocessor=build_data_preprocessor(
                data_preprocessor, 'SelfSupDataPreprocessor'),
            init_cfg=init_cfg)
        self.targets = parse_targets(targets)
        if not needs(self.targets, 'teacher'):
            raise ValueError(
                f'targets {list(self.targets)} select no teacher view, so '
                'nothing is distilled; add e.g. \'teacher_ema_other\' (or '
                "train mmpretrain's BYOL for a plain baseline).")
        self.student = check_byol(
            student if isinstance(student, nn.Module)
            else MODELS.build(dict(student)), 'student')
        if predictor is None:
            if isinstance(student, nn.Module):
                raise ValueError('pass `predictor` (a config) when the '
                                 'student is given as a built module.')
            predictor = student['head']['predictor']
        self.predictors = ModuleDict({
            view: MODELS.build(dict(predictor))
            for view in self.targets if view != BYOL_VIEW})
        self._ema_driven = False

    # ----------------------------------------------------------- EMA contract
    def ema_pairs(self) -> List[Tuple[str, nn.Module, nn.Module]]:
        """(name, online encoder+projector, EMA target) for EMATargetHook."""
        return [('student', online_encoder(self.student),
                 target_encoder(self.student))]

    def mark_ema_driven(self) -> None:
        """Called by EMATargetHook: the targets are being updated."""
        self._ema_driven = True

    def init_weights(self) -> None:
        super().init_weights()
        # Step 0 of the EMA: each target starts as a copy of its online net.
        for _, online, target in self.ema_pairs():
            copy_to_target_(target, online)

    def _warn_if_no_ema(self) -> None:
        if self.training and not self._ema_driven:
            warnings.warn(
                f'{type(self).__name__} is training without EMATargetHook: '
                'the EMA targets never move. Add custom_hooks = '
                "[dict(type='EMATargetHook')] to the config.")
            self._ema_driven = True  # warn once

    def _check_dims(self, teacher) -> None:
        d_s, d_t = projection_dim(self.student), projection_dim(teacher)
        if d_s != d_t:
            raise ValueError(
                f'the student projects to {d_s} dimensions but the teacher '
                f'to {d_t}; the student predictors must predict teacher '
                f'projections, so set the student neck out_channels={d_t} '
                '(and its predictor in/out_channels alike).')

    # ------------------------------------------------------------------ views
    def student_losses(self, v1: Tensor, v2: Tensor,
                       teacher_online: Optional[Pair],
                       teacher_ema: Optional[Pair]) -> Dict[str, Tensor]:
        """Per-view student losses (sum over both directions) and their mean.

        v1, v2: the two augmentations, N x C x H x W. teacher_online /
        teacher_ema: the teacher's projections of (v1, v2), N x D each, or
        None when no selected view needs them.
        """
        online = online_encoder(self.student)
        z = (project(online, v1), project(online, v2))  # S: 2 x (N x D)
        student_ema = None
        if needs(self.targets, 'student_ema'):
            with torch.no_grad():
                target = target_encoder(self.student)
                student_ema = (project(target, v1), project(target, v2))
        sources = dict(student_online=(z[0].detach(), z[1].detach()),
                       student_ema=student_ema,
                       teacher_online=teacher_online, teacher_ema=teacher_ema)
        views = {}
        for view in self.targets:
            source, which = view.rsplit('_', 1)  # e.g. 'teacher_ema', 'other'
            t = sources[source]
            if t is None:
                raise RuntimeError(f'view {view!r} needs {source} projections')
            # same view: S(v) -> t(v); other view: S(v) -> t(v')
            t1, t2 = (t[0], t[1]) if which == 'same' else (t[1], t[0])
            head = self.student.head if view == BYOL_VIEW \
                else self.predictors[view]
            views[view] = normalized_mse(predict(head, z[0]), t1) + \
                normalized_mse(predict(head, z[1]), t2)
        out = {f'v_{k}': v.detach() for k, v in views.items()}
        out['loss_student'] = torch.stack(list(views.values())).mean()
        return out

    # ---------------------------------------------------------------- forward
    def forward(self, inputs, data_samples=None, mode: str = 'tensor'):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'tensor':
            x = inputs[0] if isinstance(inputs, (list, tuple)) else inputs
            return self.student.backbone(x)
        if mode == 'predict':
            raise RuntimeError(
                'SimDis is self-supervised and has no classifier to predict '
                'with; set val_cfg=None and evaluate the exported backbone '
                'with a linear probe (configs/simdis/*linear*).')
        raise RuntimeError(f'Invalid mode "{mode}".')

    @staticmethod
    def _views(inputs) -> Tuple[Tensor, Tensor]:
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            n = len(inputs) if isinstance(inputs, (list, tuple)) else 1
            raise ValueError(
                f'SimDis needs two augmented views per image, got {n}; use '
                "a pipeline with dict(type='MultiView', num_views=[1, 1], "
                'transforms=[view1, view2]) and SelfSupDataPreprocessor.')
        return inputs[0], inputs[1]

    def loss(self, inputs, data_samples=None) -> Dict[str, Tensor]:
        raise NotImplementedError
