"""SimDis-Off: distil a frozen, BYOL-pretrained teacher pair into a student.

The teacher (online T and EMA target T^) is mmpretrain's ``BYOL`` loaded
strictly from a BYOL checkpoint (for example one written by
``mmpretrain::byol/byol_resnet50_16xb256-coslr-200e_in1k.py``, or the
``teacher.*`` part of a :class:`SimDisOnline` run with
``teacher_ckpt_prefix='teacher.'``). It is a
:class:`~kd_plugins.core.teacher.FrozenTeacher` built by the one teacher
path and held outside the module tree by
:class:`~kd_plugins.core.teacher.TeacherHolder`, as in every offline
algorithm: never in
``parameters()``, the optimizer, DDP or the checkpoints, and bit-identical
for the whole run. Only the student's EMA target is updated (by
:class:`~kd_plugins.methods.simdis.EMATargetHook`).

Loss = mean over the selected views of the student's view losses
(``loss_student``); preset ``'SimDis-Off'`` = BYOL (S^-v') + the teacher's
EMA projection of the other view (T^-v'), the official 2-view setting.
"""
from typing import Dict, Optional, Sequence, Union

import torch.nn as nn
from torch import Tensor

from kd_plugins.core.teacher import (
    BNMode,
    FrozenTeacher,
    KeyMap,
    TeacherHolder,
    build_frozen_teacher,
)
from kd_plugins.methods.simdis.base import SimDisBase
from kd_plugins.methods.simdis.byol_pair import (
    check_byol,
    online_encoder,
    project,
    target_encoder,
)
from kd_plugins.methods.simdis.views import needs
from kd_plugins.registry import MODELS


@MODELS.register_module()
class SimDis(TeacherHolder, SimDisBase):
    """Offline SimDis.

    Args:
        student: mmpretrain ``BYOL`` config of the student pair.
        teacher: mmpretrain ``BYOL`` config of the teacher pair (the one the
            checkpoint was trained with).
        teacher_ckpt: BYOL checkpoint, loaded strictly (every online and
            target key must be present): mmpretrain's / mmselfsup's BYOL as
            saved, or SimDis' own checkpoint (its ``module.student`` and
            ``module.student_ema``, recognised from the keys).
        targets: views (see :mod:`kd_plugins.methods.simdis.views`) or a
            preset name; default ``'SimDis-Off'``.
        teacher_bn_mode: ``'train'`` (default; batch statistics, as the
            official code runs its frozen teacher and as BYOL computes its
            targets) or ``'eval'`` (running statistics).
        teacher_ckpt_prefix: e.g. ``'teacher.'`` for a SimDisOnline run.
        teacher_ckpt_map: a layout name or a dict of checkpoint prefix ->
            teacher prefix (see :mod:`kd_plugins.core.teacher_layouts`).
        predictor: config of each extra student predictor (default: the
            student's ``head.predictor``).
    """

    def __init__(self, student: Union[dict, nn.Module],
                 teacher: Union[dict, nn.Module],
                 teacher_ckpt: Optional[str] = None,
                 targets: Union[str, Sequence[str]] = 'SimDis-Off',
                 teacher_bn_mode: BNMode = 'train',
                 teacher_ckpt_prefix: str = '',
                 predictor: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None,
                 teacher_ckpt_map: KeyMap = None) -> None:
        super().__init__(student, targets, predictor, data_preprocessor,
                         init_cfg)
        own = None  # the teacher's own normalisation, if it declares one
        if not isinstance(teacher, nn.Module):
            teacher = dict(teacher)
            own = teacher.pop('data_preprocessor', None)
        net = check_byol(teacher if isinstance(teacher, nn.Module)
                         else MODELS.build(teacher), 'teacher')
        self._check_dims(net)
        self._hold_teacher(build_frozen_teacher(
            net, teacher_ckpt, teacher_bn_mode, teacher_ckpt_prefix,
            teacher_ckpt_map, student_preprocessor=self.data_preprocessor,
            teacher_preprocessor=own))

    def loss(self, inputs, data_samples=None) -> Dict[str, Tensor]:
        self._warn_if_no_ema()
        v1, v2 = self._views(inputs)
        byol = self.teacher.model
        t_online = t_ema = None
        if needs(self.targets, 'teacher_online'):
            enc = online_encoder(byol)
            t_online = (project_frozen(self.teacher, enc, v1),
                        project_frozen(self.teacher, enc, v2))
        if needs(self.targets, 'teacher_ema'):
            enc = target_encoder(byol)
            t_ema = (project_frozen(self.teacher, enc, v1),
                     project_frozen(self.teacher, enc, v2))
        return self.student_losses(v1, v2, t_online, t_ema)


def project_frozen(teacher: FrozenTeacher, encoder: nn.Module,
                   x: Tensor) -> Tensor:
    """The frozen teacher's projection of x (no gradients), x in the
    teacher's own normalisation: N x D."""
    return teacher.run(project, encoder, teacher.prepare(x))
