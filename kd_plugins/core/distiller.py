"""BaseDistiller: an mmengine ``BaseModel`` owning a student and a teacher.

The split follows mmrazor's algorithm/distiller idea in one small class:

- ``self.student`` is the trainable network (any mmpretrain classifier, or a
  bare backbone for feature-only methods). It is the only network whose
  parameters are registered, so it alone reaches the optimizer, DDP and the
  checkpoints (keys ``student.*``; ``tools/export_backbone.py`` strips them).
  Trainable adapters (connectors) are registered next to it.
- ``self.teacher`` is a :class:`~kd_plugins.core.teacher.FrozenTeacher`
  held *outside* the module tree by
  :class:`~kd_plugins.core.teacher.TeacherHolder`, built and loaded by
  :func:`~kd_plugins.core.teacher.build_frozen_teacher`: the one teacher
  path of every offline method.
- Subclasses implement :meth:`loss` only. ``predict`` evaluates the student,
  so mmpretrain's val loop and metrics work unchanged.
"""
from contextlib import nullcontext
from typing import Dict, List, Optional, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModel
from mmengine.registry import DefaultScope
from mmpretrain.models.classifiers import TimmClassifier
from torch import Tensor

from kd_plugins.core.teacher import (
    BNMode,
    FrozenTeacher,
    KeyMap,
    TeacherHolder,
    build_frozen_teacher,
)
from kd_plugins.core.teacher_cache.targets import (
    CachedTargets,
    open_teacher_cache,
)
from kd_plugins.registry import MODELS


def build_data_preprocessor(cfg: Union[dict, nn.Module, None],
                            default_type: str = 'ClsDataPreprocessor'
                            ) -> nn.Module:
    """Build a data preprocessor; a config without ``type`` (as the top-level
    ``data_preprocessor`` of mmpretrain configs is) means ``default_type``:
    ``ClsDataPreprocessor`` as in mmpretrain's classifiers, or
    ``SelfSupDataPreprocessor`` for two-view self-supervised methods."""
    if isinstance(cfg, nn.Module):
        return cfg
    cfg = dict(cfg or {})
    cfg.setdefault('type', default_type)
    return MODELS.build(cfg)


def num_classes_of(model: nn.Module) -> Optional[int]:
    """Classes of an mmpretrain classifier's head, or of the timm network
    inside mmpretrain's ``TimmClassifier``; None for other networks."""
    head = getattr(model, 'head', None)
    if head is None and isinstance(model, TimmClassifier):
        return getattr(model.model, 'num_classes', None)
    return getattr(head, 'num_classes', None)


class BaseDistiller(TeacherHolder, BaseModel):
    """Common machinery of the offline (frozen-teacher) algorithms.

    Subclasses may set ``TEACHER_FROM``: where a user gets the method's
    teacher (named when the checkpoint is missing).

    Args:
        student: config (or module) of the student.
        teacher: config (or module) of the teacher.
        teacher_ckpt: checkpoint loaded strictly into the teacher.
        teacher_bn_mode: ``'eval'`` or ``'train'``; see FrozenTeacher.
        teacher_ckpt_prefix: take the teacher's weights from keys under this
            prefix (e.g. ``'student.'`` for a distilled network).
        teacher_ckpt_map: instead of a prefix, a named layout (``'moco'``)
            or a dict of checkpoint prefix -> teacher prefix.
        teacher_cache: a folder written by ``tools/cache_teacher.py``: the
            teacher is not built, its targets are read from the cache
            (methods that implement
            :class:`~kd_plugins.core.teacher_cache.CachedTargets`).
        data_preprocessor: mmpretrain data preprocessor config; the same
            normalised batch feeds the student and the teacher, unless the
            teacher config declares its own ``data_preprocessor`` (then
            the teacher gets the batch mapped to its normalisation, see
            :mod:`kd_plugins.core.normalization`).
    """

    TEACHER_FROM = ''

    def __init__(self,
                 student: Union[dict, nn.Module],
                 teacher: Union[dict, nn.Module],
                 teacher_ckpt: Optional[str] = None,
                 teacher_bn_mode: BNMode = 'eval',
                 teacher_ckpt_prefix: str = '',
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None,
                 teacher_ckpt_map: KeyMap = None,
                 teacher_cache: Optional[str] = None) -> None:
        super().__init__(
            data_preprocessor=build_data_preprocessor(data_preprocessor),
            init_cfg=init_cfg)
        self.teacher_cache = teacher_cache
        # mmpretrain's classifiers build their parts from mmpretrain's
        # registry; in our scope they also find ours (SEEDHead, CIFARResNet)
        # from a config of any scope.
        with DefaultScope.overwrite_default_scope('kd_plugins'):
            self.student = student if isinstance(student, nn.Module) \
                else MODELS.build(dict(student))
            if teacher_cache is None:
                self._hold_teacher(self.build_teacher(
                    teacher, teacher_ckpt, teacher_bn_mode,
                    teacher_ckpt_prefix, teacher_ckpt_map))
            else:
                self._hold_teacher(None)
                self.cache_manifest = open_teacher_cache(self, teacher_cache)

    def build_teacher(self, teacher: Union[dict, nn.Module],
                      teacher_ckpt: Optional[str],
                      bn_mode: BNMode = 'eval', ckpt_prefix: str = '',
                      ckpt_map: KeyMap = None) -> FrozenTeacher:
        """One frozen teacher through the one teacher path, its input
        derived from this algorithm's data preprocessor. An algorithm that
        can train from a teacher cache builds it without drawing from the
        random generator, so that the student starts the same with a live
        teacher and with a cache."""
        keep_rng = torch.random.fork_rng(devices=[]) \
            if isinstance(self, CachedTargets) else nullcontext()
        with DefaultScope.overwrite_default_scope('kd_plugins'), keep_rng:
            return build_frozen_teacher(
                teacher, teacher_ckpt, bn_mode, ckpt_prefix, ckpt_map,
                self.TEACHER_FROM,
                student_preprocessor=self.data_preprocessor)

    def check_same_classes(self, loss_name: str,
                           teacher: Optional[FrozenTeacher] = None,
                           which: str = 'the teacher') -> None:
        """Raise if a logits loss would compare different class counts
        (``teacher``: default the algorithm's teacher)."""
        t_net = (teacher or self.teacher).model
        n_s, n_t = num_classes_of(self.student), num_classes_of(t_net)
        if n_s is None or n_t is None:
            raise ValueError(
                f'{loss_name} compares logits, so the student and {which} '
                'must both be classifiers with a head; got student '
                f'{type(self.student).__name__} and teacher '
                f'{type(t_net).__name__}.')
        if n_s != n_t:
            raise ValueError(
                f'{loss_name} compares logits, but the student head has '
                f'{n_s} classes and {which} {n_t}. Set '
                f'model.student.head.num_classes={n_t}.')

    # ---------------------------------------------------------------- forward
    def forward(self, inputs: Tensor, data_samples: Optional[List] = None,
                mode: str = 'tensor'):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.student(inputs, mode='tensor') \
                if num_classes_of(self.student) is not None \
                else self.student(inputs)
        raise RuntimeError(f'Invalid mode "{mode}".')

    def loss(self, inputs: Tensor, data_samples: Optional[List] = None
             ) -> Dict[str, Tensor]:
        raise NotImplementedError

    def predict(self, inputs: Tensor, data_samples: Optional[List] = None):
        if not hasattr(self.student, 'predict'):
            raise RuntimeError(
                f'the student {type(self.student).__name__} has no predict(); '
                'validate with a classifier student or set val_cfg=None.')
        return self.student.predict(inputs, data_samples)
