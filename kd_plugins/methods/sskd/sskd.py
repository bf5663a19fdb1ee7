"""SSKD: stage-by-stage feature mimicking, then the head on labels.

Paper: "Stage-by-Stage Knowledge Distillation" (Gao et al.), Sec. 3. No
official code exists; this is the reference implementation.

Phase 1 (backbone), stage i = 0..K-1: only student stage i (and its
connector) trains, with ``FeatureMSELoss(connector(f_s^i), f_t^i)`` (Eq. 6;
no labels, no loss weight). Stages < i are frozen (no gradients, BN in eval
mode); stages > i are not computed on either side: both backbones run their
own forward and stop after stage i (see :class:`StagePrefix`).

Phase 2 (head): the whole backbone (and neck) frozen, the head
re-initialised and trained with its own loss (cross-entropy) on labels.

The schedule (which stage, when the head starts, learning rates) belongs to
:class:`~kd_plugins.methods.sskd.SSKDStageHook`, which calls
:meth:`SSKD.set_phase`.
``mode='multi_loss'`` is the paper's baseline: every stage trains at once on
the sum of all stage losses, then the head.

Deliberate choices where the paper is silent: the stage loss averages over
elements (``FeatureMSELoss(reduction='mean')``); a connector is added only
where channel counts differ (``connector`` config), and a student map whose
spatial size differs from the teacher's is resized bilinearly before it.
"""
from typing import Dict, List, Literal, Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import initialize
from torch import Tensor
from torch.nn.modules.batchnorm import _BatchNorm

from kd_plugins.core.distiller import BaseDistiller
from kd_plugins.core.teacher import BNMode, KeyMap
from kd_plugins.methods.sskd.partition import partition_backbone
from kd_plugins.methods.sskd.prefix import StagePrefix
from kd_plugins.registry import MODELS

Mode = Literal['stagewise', 'multi_loss']
HEAD = -1  # phase value of the head phase


def _set_trainable(modules: Sequence[nn.Module], trainable: bool) -> None:
    for m in modules:
        m.requires_grad_(trainable)


def _set_bn_eval(modules: Sequence[nn.Module]) -> None:
    for m in modules:
        for sub in m.modules():
            if isinstance(sub, _BatchNorm):
                sub.eval()


@MODELS.register_module()
class SSKD(BaseDistiller):
    """Stage-by-stage knowledge distillation of a classifier's backbone.

    Args:
        student: classifier config (backbone, neck, head).
        teacher: classifier or backbone config; its backbone is used.
        teacher_ckpt: teacher checkpoint, loaded strictly.
        num_stages: ``None`` for one stage per down-sampling point (4 for a
            ResNet), more for the paper's finer splits (first stages halved).
        input_size: C x H x W of training images, for checking the partition.
        connector: connector config built where a stage's channel counts
            differ (any registered connector; ``student_channels`` and
            ``teacher_channels`` are filled in).
        always_connect: build the connector for every stage.
        loss: the stage loss (default ``FeatureMSELoss``).
        mode: ``'stagewise'`` (SSKD) or ``'multi_loss'`` (baseline).
        teacher_bn_mode: ``'eval'`` (default) or ``'train'``.
        teacher_ckpt_prefix / teacher_ckpt_map: see :class:`BaseDistiller`.
    """

    def __init__(self,
                 student: Union[dict, nn.Module],
                 teacher: Union[dict, nn.Module],
                 teacher_ckpt: Optional[str] = None,
                 num_stages: Optional[int] = None,
                 input_size: Sequence[int] = (3, 224, 224),
                 connector: dict = dict(type='ConvConnector'),
                 always_connect: bool = False,
                 loss: dict = dict(type='FeatureMSELoss'),
                 mode: Mode = 'stagewise',
                 teacher_bn_mode: BNMode = 'eval',
                 teacher_ckpt_prefix: str = '',
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None,
                 teacher_ckpt_map: KeyMap = None) -> None:
        super().__init__(student, teacher, teacher_ckpt, teacher_bn_mode,
                         teacher_ckpt_prefix, data_preprocessor, init_cfg,
                         teacher_ckpt_map=teacher_ckpt_map)
        if mode not in ('stagewise', 'multi_loss'):
            raise ValueError(f"SSKD mode must be 'stagewise' or 'multi_loss', "
                             f'got {mode!r}')
        for part in ('backbone', 'head'):
            if getattr(self.student, part, None) is None:
                raise ValueError(
                    f'SSKD needs a classifier student with a {part} (phase 2 '
                    f'trains the head); got {type(self.student).__name__}.')
        self.mode = mode
        t_net = self.teacher.model
        t_backbone = getattr(t_net, 'backbone', t_net)
        s_stages = partition_backbone(self.student.backbone, num_stages,
                                      input_size, 'student')
        t_stages = partition_backbone(t_backbone, num_stages, input_size,
                                      'teacher')
        if len(s_stages) != len(t_stages):
            raise ValueError(
                f'SSKD pairs stages one to one, but the student '
                f'{type(self.student.backbone).__name__} has {len(s_stages)} '
                f'stages and the teacher {type(t_backbone).__name__} '
                f'{len(t_stages)} (at input {tuple(input_size)}). Set '
                '`num_stages` to a count both can make, or pick backbones '
                'with as many down-sampling points.')
        self.stages = s_stages
        self.teacher_stages = t_stages
        self.connectors = nn.ModuleList()
        for i, (s, t) in enumerate(zip(s_stages, t_stages)):
            cs, ct = s.out_shape[0], t.out_shape[0]
            cfg = dict(connector) if (cs != ct or always_connect) \
                else dict(type='IdentityConnector')
            conn = MODELS.build(dict(cfg, student_channels=cs,
                                     teacher_channels=ct))
            # the connector sees the student map after resizing
            conn.check((cs, ) + t.out_shape[1:], t.out_shape,
                       f' at stage {i + 1}')
            self.connectors.append(conn)
        self.distill_loss = MODELS.build(dict(loss))
        self._student_prefix = StagePrefix(self.student.backbone, s_stages,
                                           'student')
        self._teacher_prefix = StagePrefix(t_backbone, t_stages, 'teacher')
        self._stage_modules = [
            [self.student.backbone.get_submodule(b) for b in st.blocks]
            for st in s_stages]
        # Phase: stage index (0-based) or HEAD, set by the schedule hook in
        # before_train. Nothing is frozen before that on purpose: DDP, which
        # wraps the model first, only registers parameters that require grad.
        self._phase = 0

    # ------------------------------------------------------------ the phase
    @property
    def num_stages(self) -> int:
        return len(self.stages)

    @property
    def phase(self) -> int:
        """Stage being trained (0-based), or ``HEAD`` (-1) in phase 2."""
        return self._phase

    def set_phase(self, phase: int, reinit_head: bool = False,
                  seed: Optional[int] = None) -> None:
        """Enter stage ``phase`` (0-based) or the head phase (``HEAD``).

        Freezes what that phase must not train. ``reinit_head`` re-initialises
        the head (the schedule does this once, when phase 2 starts; a resume
        into phase 2 keeps the trained head), drawing from ``seed`` when given
        so that the result does not depend on the global RNG's history.
        """
        if phase != HEAD and not 0 <= phase < self.num_stages:
            raise ValueError(f'SSKD phase must be a stage in 0..'
                             f'{self.num_stages - 1} or HEAD ({HEAD}), got '
                             f'{phase}')
        if self.mode == 'multi_loss' and phase not in (0, HEAD):
            raise ValueError('multi_loss trains all stages at once: its '
                             f'phases are 0 and HEAD, got {phase}')
        self._phase = phase
        if phase == HEAD and reinit_head:
            if seed is None:
                self._reinit_head()
            else:
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(seed)
                    self._reinit_head()
        self._apply_phase()

    def _trainable_stages(self) -> List[int]:
        if self._phase == HEAD:
            return []
        if self.mode == 'multi_loss':
            return list(range(self.num_stages))
        return [self._phase]

    def _apply_phase(self) -> None:
        trainable = set(self._trainable_stages())
        self.student.requires_grad_(False)
        self.connectors.requires_grad_(False)
        for i in trainable:
            _set_trainable(self._stage_modules[i], True)
            self.connectors[i].requires_grad_(True)
        if self._phase == HEAD:
            self.student.head.requires_grad_(True)
        self.train(self.training)

    def train(self, mode: bool = True) -> 'SSKD':
        super().train(mode)
        if mode:
            # Frozen stages keep BN in eval mode through every model.train().
            trainable = set(self._trainable_stages())
            frozen = [m for i, mods in enumerate(self._stage_modules)
                      if i not in trainable for m in mods]
            _set_bn_eval(frozen)
            if self._phase == HEAD:
                _set_bn_eval([self.student.backbone])
                if getattr(self.student, 'neck', None) is not None:
                    _set_bn_eval([self.student.neck])
        return self

    def _reinit_head(self) -> None:
        head = self.student.head
        for m in head.modules():
            if hasattr(m, 'reset_parameters') and m is not head:
                m.reset_parameters()
        if getattr(head, 'init_cfg', None):
            initialize(head, head.init_cfg)

    def log_names(self) -> List[str]:
        """The keys :meth:`loss` returns besides the head's, in this phase.

        ``loss_stage<i>`` for each stage that trains and ``dist_stage<j>``
        for each frozen stage before the last one computed; none in the head
        phase, whose keys are the head's own.
        """
        trainable = self._trainable_stages()
        if not trainable:
            return []
        return [f'{"loss" if i in trainable else "dist"}_stage{i + 1}'
                for i in range(max(trainable) + 1)]

    # ----------------------------------------------------------------- loss
    def _stage_loss(self, i: int, s_feat: Tensor, t_feat: Tensor) -> Tensor:
        if s_feat.shape[2:] != t_feat.shape[2:]:
            s_feat = F.interpolate(s_feat, size=t_feat.shape[2:],
                                   mode='bilinear', align_corners=False)
        s_feat, t_feat = self.connectors[i](s_feat, t_feat)
        return self.distill_loss(s_feat, t_feat)

    def loss(self, inputs: Tensor, data_samples: Optional[List] = None
             ) -> Dict[str, Tensor]:
        if self._phase == HEAD:
            with torch.no_grad():
                feats = self.student.extract_feat(inputs)
            return self.student.head.loss(feats, data_samples)
        last = self.num_stages - 1 if self.mode == 'multi_loss' \
            else self._phase
        # Teacher first: its activations are freed at once, and the student's
        # backward then follows its own forward with no other pass between
        # them (the two are independent; the losses do not change).
        t_feats = self.teacher.run(self._teacher_prefix.run,
                                   self.teacher.prepare(inputs), last)
        s_feats = self._student_prefix.run(inputs, last)
        losses = {}
        for i in self._trainable_stages():
            losses[f'loss_stage{i + 1}'] = self._stage_loss(
                i, s_feats[i], t_feats[i])
        with torch.no_grad():  # monitoring only: distances of frozen stages
            for i in range(last + 1):
                if f'loss_stage{i + 1}' not in losses:
                    losses[f'dist_stage{i + 1}'] = self._stage_loss(
                        i, s_feats[i], t_feats[i])
        return losses
