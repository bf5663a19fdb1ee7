"""SSLD: the student matches the teacher's softmax, nothing else.

Paper: "Beyond Self-Supervision: A Simple Yet Effective Network Distillation
Alternative to Improve Backbones" (Cui et al.), Sec. 3. The loss is computed on
labeled and unlabeled images alike; ground-truth labels never reach it, and no
temperature is used. The teacher's BN mode defaults to ``'train'`` as in
PaddleClas' code (batch statistics; our running statistics stay frozen).

Several teachers (``teachers=[...]``, the ensemble-teacher variant): the soft
label is the mean of the teachers' softmax, p_t = (1/K) sum_k softmax(z_k)
(:func:`~kd_plugins.methods.ssld.jsd_loss.teacher_probs`); each teacher is
built, loaded and checked by the one teacher path, with its own checkpoint,
BN mode and, when its config declares one, its own input normalisation.
"""
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
from torch import Tensor

from kd_plugins.core.distiller import BaseDistiller, num_classes_of
from kd_plugins.core.teacher import BNMode, FrozenTeacher, KeyMap
from kd_plugins.core.teacher_cache import CachedTargets
from kd_plugins.methods.ssld.cache import (
    index_dtype,
    topk_decode,
    topk_encode,
    topk_loss_stats,
)
from kd_plugins.methods.ssld.jsd_loss import teacher_probs
from kd_plugins.registry import MODELS

#: keys of one entry of ``teachers``: required, and optional with defaults
#: (bn_mode '': the algorithm's ``teacher_bn_mode``)
REQUIRED_KEYS = ('model', 'ckpt')
OPTIONAL_KEYS = dict(bn_mode='', ckpt_prefix='', ckpt_map=None)


def teacher_entries(teacher, teacher_ckpt, bn_mode, ckpt_prefix,
                    teachers: Optional[Sequence[dict]],
                    ckpt_map=None) -> List[dict]:
    """The teachers as entries (model, ckpt, bn_mode, ckpt_prefix,
    ckpt_map): the single ``teacher`` arguments, or each of ``teachers``
    with the algorithm's BN mode as its default."""
    if teachers is None:
        if teacher is None:
            raise ValueError('SSLD needs a teacher: set model.teacher and '
                             'model.teacher_ckpt, or model.teachers.')
        return [dict(model=teacher, ckpt=teacher_ckpt, bn_mode=bn_mode,
                     ckpt_prefix=ckpt_prefix, ckpt_map=ckpt_map)]
    if teacher is not None or teacher_ckpt is not None or ckpt_prefix \
            or ckpt_map is not None:
        raise ValueError(
            'SSLD: set either model.teacher (with teacher_ckpt) or '
            'model.teachers, not both; with several teachers each entry '
            "of teachers names its own model and ckpt.")
    if isinstance(teachers, (dict, str)) or len(teachers) == 0:
        raise ValueError(
            'SSLD: teachers must be a non-empty list of dict(model=..., '
            f'ckpt=...), got {teachers!r}.')
    entries = []
    for i, entry in enumerate(teachers):
        if not isinstance(entry, dict):
            raise ValueError(f'SSLD: teachers[{i}] must be a dict(model=..., '
                             f'ckpt=...), got {entry!r}.')
        unknown = sorted(set(entry) - set(REQUIRED_KEYS) - set(OPTIONAL_KEYS))
        missing = [k for k in REQUIRED_KEYS if entry.get(k) is None]
        if unknown or missing:
            raise ValueError(
                f'SSLD: teachers[{i}] '
                + (f'has unknown keys {unknown}' if unknown else '')
                + (' and ' if unknown and missing else '')
                + (f'lacks {missing}' if missing else '')
                + f'; an entry takes {list(REQUIRED_KEYS)} and optionally '
                f'{list(OPTIONAL_KEYS)} (model: the teacher config, whose '
                'data_preprocessor is its own normalisation; ckpt: its '
                'checkpoint).')
        full = dict(OPTIONAL_KEYS, **entry)
        full['bn_mode'] = full['bn_mode'] or bn_mode
        entries.append(full)
    return entries


@MODELS.register_module()
class SSLD(CachedTargets, BaseDistiller):
    """Soft-label-only distillation of a classifier.

    Args:
        student / teacher / teacher_ckpt: see :class:`BaseDistiller`; both
            networks must be classifiers with the same number of classes.
        loss: the distillation loss, default ``JSDivLoss(mode='jsd')``.
        teacher_bn_mode: ``'train'`` (PaddleClas) or ``'eval'``; the default
            of every teacher.
        teachers: instead of ``teacher``/``teacher_ckpt``, a list of
            ``dict(model=CONFIG, ckpt=PATH, bn_mode=..., ckpt_prefix=...,
            ckpt_map=...)``: the soft label is the mean of their softmax.
        teacher_ckpt_map: see :class:`BaseDistiller` (one teacher; each of
            ``teachers`` has its own ``ckpt_map``).
        teacher_cache: train from a cache of the soft labels (top-k
            probabilities) written by ``tools/cache_teacher.py``; no
            teacher is built.
    """

    #: default k of the cached top-k probabilities (``--topk``)
    CACHE_TOPK = 10

    def __init__(self,
                 student: Union[dict, nn.Module],
                 teacher: Union[dict, nn.Module, None] = None,
                 teacher_ckpt: Optional[str] = None,
                 loss: dict = dict(type='JSDivLoss', mode='jsd'),
                 teacher_bn_mode: BNMode = 'train',
                 teacher_ckpt_prefix: str = '',
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None,
                 teachers: Optional[Sequence[dict]] = None,
                 teacher_ckpt_map: KeyMap = None,
                 teacher_cache: Optional[str] = None) -> None:
        entries = teacher_entries(teacher, teacher_ckpt, teacher_bn_mode,
                                  teacher_ckpt_prefix, teachers,
                                  teacher_ckpt_map)
        first = entries[0]
        super().__init__(student, first['model'], first['ckpt'],
                         first['bn_mode'], first['ckpt_prefix'],
                         data_preprocessor, init_cfg,
                         teacher_ckpt_map=first['ckpt_map'],
                         teacher_cache=teacher_cache)
        self.distill_loss = MODELS.build(dict(loss))
        self.cache_topk = self.CACHE_TOPK
        if self.from_cache:
            object.__setattr__(self, '_more_teachers', ())
            self.check_cache_manifest()
            return
        # The other teachers, held outside the module tree like the first
        # (not in parameters(), state_dict(), the optimizer or DDP).
        object.__setattr__(self, '_more_teachers', tuple(
            self.build_teacher(e['model'], e['ckpt'], e['bn_mode'],
                               e['ckpt_prefix'], e['ckpt_map'])
            for e in entries[1:]))
        for i, t in enumerate(self.teachers):
            self.check_same_classes(
                'SSLD', t, f'teachers[{i}]' if teachers else 'the teacher')

    @property
    def teachers(self) -> Tuple[FrozenTeacher, ...]:
        """Every teacher, the first being :attr:`teacher`."""
        return (self.teacher, ) + self._more_teachers

    def _apply(self, fn, *args, **kwargs):
        super()._apply(fn, *args, **kwargs)  # the student and the teacher
        for t in getattr(self, '_more_teachers', ()):
            t._apply(fn, *args, **kwargs)
        return self

    def teacher_logits(self, inputs: Tensor) -> Union[Tensor, List[Tensor]]:
        """The teacher's logits (N x C), or each teacher's (K x [N x C]),
        each teacher on the batch in its own normalisation."""
        logits = [t(inputs, mode='tensor') for t in self.teachers]
        return logits[0] if len(logits) == 1 else logits

    @torch.no_grad()
    def soft_label(self, inputs: Tensor) -> Tensor:
        """The target distribution p_t (N x C): the teacher's softmax, or
        the mean of the teachers' softmax."""
        return teacher_probs(self.teacher_logits(inputs))

    def loss(self, inputs: Tensor, data_samples: Optional[List] = None
             ) -> Dict[str, Tensor]:
        # Labels in data_samples are deliberately ignored (paper, Sec. 3.1).
        student_logits = self.student(inputs, mode='tensor')  # N x C
        if self.from_cache:
            # log p_t from the cached top-k: valid logits of p_t
            teacher_logits = self.cached_targets(
                data_samples, inputs.device)['log_probs']  # N x C
        else:
            teacher_logits = self.teacher_logits(inputs)  # N x C, or K
        return dict(loss_ssld=self.distill_loss(student_logits,
                                                teacher_logits))

    # ------------------------------------------------------- teacher cache
    def configure_cache(self, topk: Optional[int] = None, **others
                        ) -> Dict[str, Any]:
        super().configure_cache(**others)
        classes = num_classes_of(self.teacher.model)
        k = self.CACHE_TOPK if topk is None else int(topk)
        if not 1 <= k:
            raise ValueError(f'SSLD: --topk must be at least 1, got {k}.')
        self.cache_topk = min(k, classes)
        return dict(topk=self.cache_topk)

    def cache_info(self) -> Dict[str, Any]:
        return dict(num_classes=num_classes_of(self.teacher.model))

    def use_cache_info(self, info: Dict[str, Any]) -> None:
        n_s, n_t = num_classes_of(self.student), info['num_classes']
        if n_s != n_t:
            raise ValueError(
                f'SSLD compares logits, but the student head has {n_s} '
                f'classes and the cached teacher {n_t}. Set '
                f'model.student.head.num_classes={n_t}.')
        self.cache_topk = int(self.cache_manifest['settings']['topk'])

    def cache_fields(self) -> Dict[str, Dict[str, Any]]:
        classes = num_classes_of(self.teacher.model)
        return dict(prob_values=dict(dtype=self.cache_dtype,
                                     shape=[self.cache_topk]),
                    prob_index=dict(dtype=index_dtype(classes),
                                    shape=[self.cache_topk]))

    def teacher_targets(self, inputs: Tensor) -> Dict[str, Tensor]:
        probs = self.soft_label(inputs)
        stats = topk_loss_stats(probs, self.cache_topk)
        kept = getattr(self, '_topk_stats', dict(mass=[], kl=[]))
        for name, value in stats.items():
            kept[name].append(value.cpu())
        self._topk_stats = kept
        return topk_encode(probs, self.cache_topk)

    def cache_summary(self) -> str:
        """What the top-k of the views written by this process lose."""
        stats = getattr(self, '_topk_stats', None)
        if not stats or not stats['mass']:
            return ''
        mass, kl = torch.cat(stats['mass']), torch.cat(stats['kl'])
        return (f'SSLD top-{self.cache_topk} of {len(mass)} views: the '
                f'kept classes hold {100 * mass.mean():.2f}% of the '
                f'teacher\'s probability on average (least '
                f'{100 * mass.min():.2f}%); KL(full || top-k) mean '
                f'{kl.mean():.2e}, largest {kl.max():.2e} nats.')

    def encode_targets(self, targets: Dict[str, Tensor]
                       ) -> Dict[str, np.ndarray]:
        classes = num_classes_of(self.teacher.model)
        return dict(
            prob_values=targets['prob_values'].cpu().numpy().astype(
                self.cache_dtype),
            prob_index=targets['prob_index'].cpu().numpy().astype(
                index_dtype(classes)))

    def decode_targets(self, arrays: Dict[str, Tensor]) -> Dict[str, Tensor]:
        return dict(log_probs=topk_decode(
            arrays['prob_values'], arrays['prob_index'],
            int(self.cache_manifest['info']['num_classes'])))
