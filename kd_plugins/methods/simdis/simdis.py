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
from typing import Any, Dict, Optional, Sequence, Union

import torch
import torch.nn as nn
from mmengine.registry import DefaultScope
from torch import Tensor

from kd_plugins.core.teacher import (
    BNMode,
    FrozenTeacher,
    KeyMap,
    TeacherHolder,
    build_frozen_teacher,
)
from kd_plugins.core.teacher_cache import CachedTargets
from kd_plugins.core.teacher_cache.targets import open_teacher_cache
from kd_plugins.methods.simdis.base import SimDisBase
from kd_plugins.methods.simdis.byol_pair import (
    check_byol,
    online_encoder,
    project,
    projection_dim,
    target_encoder,
)
from kd_plugins.methods.simdis.views import needs
from kd_plugins.registry import MODELS


@MODELS.register_module()
class SimDis(CachedTargets, TeacherHolder, SimDisBase):
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
        teacher_cache: train from a cache of the teacher pair's projections
            of both views (each selected teacher source) written by
            ``tools/cache_teacher.py``; no teacher is built.
    """

    #: teacher sources a view can read, and their encoders
    SOURCES = dict(teacher_online=online_encoder, teacher_ema=target_encoder)

    def __init__(self, student: Union[dict, nn.Module],
                 teacher: Union[dict, nn.Module],
                 teacher_ckpt: Optional[str] = None,
                 targets: Union[str, Sequence[str]] = 'SimDis-Off',
                 teacher_bn_mode: BNMode = 'train',
                 teacher_ckpt_prefix: str = '',
                 predictor: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None,
                 teacher_ckpt_map: KeyMap = None,
                 teacher_cache: Optional[str] = None) -> None:
        super().__init__(student, targets, predictor, data_preprocessor,
                         init_cfg)
        self.teacher_cache = teacher_cache
        if teacher_cache is not None:
            self._hold_teacher(None)
            self.cache_manifest = open_teacher_cache(self, teacher_cache)
            self.check_cache_manifest()
            return
        own = None  # the teacher's own normalisation, if it declares one
        if not isinstance(teacher, nn.Module):
            teacher = dict(teacher)
            own = teacher.pop('data_preprocessor', None)
        # built without drawing random numbers: the student starts the same
        # with a live teacher and with a cache
        with torch.random.fork_rng(devices=[]), \
                DefaultScope.overwrite_default_scope('kd_plugins'):
            net = check_byol(teacher if isinstance(teacher, nn.Module)
                             else MODELS.build(teacher), 'teacher')
            self._check_dims(net)
            self._hold_teacher(build_frozen_teacher(
                net, teacher_ckpt, teacher_bn_mode, teacher_ckpt_prefix,
                teacher_ckpt_map,
                student_preprocessor=self.data_preprocessor,
                teacher_preprocessor=own))

    def _sources(self):
        return [name for name in self.SOURCES if needs(self.targets, name)]

    def loss(self, inputs, data_samples=None) -> Dict[str, Tensor]:
        self._warn_if_no_ema()
        v1, v2 = self._views(inputs)
        if self.from_cache:
            cached = self.cached_targets(data_samples, v1.device)
            pairs = {name: (cached[name][:, 0], cached[name][:, 1])
                     for name in self._sources()}
        else:
            pairs = self.teacher_pairs(v1, v2)
        return self.student_losses(v1, v2, pairs.get('teacher_online'),
                                   pairs.get('teacher_ema'))

    def teacher_pairs(self, v1: Tensor, v2: Tensor):
        """Each selected teacher source's projections of (v1, v2)."""
        byol = self.teacher.model
        pairs = {}
        for name in self._sources():
            enc = self.SOURCES[name](byol)
            pairs[name] = (project_frozen(self.teacher, enc, v1),
                           project_frozen(self.teacher, enc, v2))
        return pairs

    # ------------------------------------------------------- teacher cache
    def teacher_targets(self, inputs) -> Dict[str, Tensor]:
        v1, v2 = self._views(inputs)
        return {name: torch.stack(pair, dim=1)  # N x 2 x D
                for name, pair in self.teacher_pairs(v1, v2).items()}

    def cache_fields(self) -> Dict[str, Dict[str, Any]]:
        dim = projection_dim(self.student)
        return {name: dict(dtype=self.cache_dtype, shape=[2, dim])
                for name in self._sources()}

    def cache_settings(self) -> Dict[str, Any]:
        return dict(sources=self._sources())

    def cache_info(self) -> Dict[str, Any]:
        return dict(dim=projection_dim(self.teacher.model))

    def use_cache_info(self, info: Dict[str, Any]) -> None:
        d_s = projection_dim(self.student)
        if d_s != info['dim']:
            raise ValueError(
                f'the student projects to {d_s} dimensions but the cached '
                f'teacher to {info["dim"]}; set the student neck '
                f'out_channels={info["dim"]} (and its predictor in/out '
                'channels alike).')


def project_frozen(teacher: FrozenTeacher, encoder: nn.Module,
                   x: Tensor) -> Tensor:
    """The frozen teacher's projection of x (no gradients), x in the
    teacher's own normalisation: N x D."""
    return teacher.run(project, encoder, teacher.prepare(x))
