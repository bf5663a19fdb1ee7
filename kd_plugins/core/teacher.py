"""The frozen teacher: one builder, one loader, one out-of-tree holder.

Every offline algorithm (SSLD, SSKD, KDEP, SEED, SimDis-Off) and every
offline tool (SSLD mining, the KDEP basis pass) gets its teacher through
:func:`build_frozen_teacher`; the algorithms hold it with
:class:`TeacherHolder`. Key maps, prefixes and the BN mode are arguments of
this one path. It guarantees, for the whole run:

- every parameter has ``requires_grad=False`` and every call runs under
  ``torch.no_grad()`` (:class:`FrozenTeacher`);
- the teacher is not a registered submodule of the algorithm
  (:class:`TeacherHolder`), so it never reaches ``parameters()``,
  ``state_dict()``, the optimizer, DDP or the algorithm's checkpoints, while
  ``model.to()`` / ``model.cuda()`` still move it;
- its BatchNorm mode is fixed by ``bn_mode`` and survives ``model.train()``:
  ``'eval'`` uses the running statistics; ``'train'`` (SSLD's PaddleClas
  choice) normalises with batch statistics *without* updating the running
  statistics or the step counter (``track_running_stats=False`` while in
  train mode), so the teacher's whole state stays bit-identical;
- its weights load strictly: a missing, unexpected or differently shaped key
  raises a ``ValueError`` that lists the keys; a file as its publisher
  wrote it (mmpretrain, mmselfsup, FAIR MoCo, torchvision, timm, KDEP's,
  SimDis') is recognised from its keys and renamed
  (:mod:`~kd_plugins.core.teacher_layouts`), and NaN or Inf weights are
  refused with the tensor named;
- a teacher whose config declares its own ``data_preprocessor`` (mean, std,
  channel order) gets its input derived from the student's normalised batch
  by a :class:`~kd_plugins.core.normalization.NormalizationBridge`, applied
  by :class:`FrozenTeacher` before its network.
"""
import os.path as osp
from typing import Dict, Literal, Optional, Union

import torch
import torch.nn as nn
from mmengine.logging import print_log
from torch import Tensor
from torch.nn.modules.batchnorm import _BatchNorm

from kd_plugins.core.checkpoint import compare_keys, nonfinite_keys
from kd_plugins.core.normalization import build_bridge
from kd_plugins.core.teacher_layouts import LAYOUTS, read_teacher_checkpoint

BNMode = Literal['eval', 'train']
KeyMap = Union[str, Dict[str, str], None]

#: mmpretrain MoCo / MoCo-v2 checkpoint -> ImageClassifier(backbone, GAP,
#: SEEDHead) teacher: the query encoder (as SEED's official code reads
#: ``module.encoder_q.*``), its fc-ReLU-fc neck as the head's MLP. The
#: momentum encoder (``encoder_k.*``) and MoCo's queue are left out.
MOCO_KEY_MAP = {'backbone.': 'backbone.', 'neck.mlp.': 'head.mlp.'}
#: named layouts accepted by ``teacher_ckpt_map``
KEY_MAPS = dict(moco=MOCO_KEY_MAP)


def resolve_key_map(key_map: KeyMap) -> KeyMap:
    """A layout name (:data:`~kd_plugins.core.teacher_layouts.LAYOUTS`,
    or ``'moco'``), a dict of prefixes, or None."""
    if key_map is None or isinstance(key_map, dict):
        return None if key_map is None else dict(key_map)
    if key_map in KEY_MAPS or key_map in LAYOUTS:
        return key_map
    raise ValueError(f'teacher_ckpt_map {key_map!r} is not a known layout '
                     f'({sorted(set(KEY_MAPS) | set(LAYOUTS))}); pass a '
                     'dict of checkpoint prefix -> teacher prefix instead.')


def load_teacher_weights(model: nn.Module, checkpoint: str,
                         prefix: str = '', key_map: KeyMap = None,
                         where_from: str = '') -> None:
    """Load ``checkpoint`` into ``model`` strictly, with errors that list keys.

    Args:
        checkpoint: path or URL understood by mmengine's CheckpointLoader.
        prefix: keep only keys starting with it and strip it (for example
            ``'student.'`` to use a distilled student as a teacher).
        key_map: None (the published layout is recognised from the keys,
            see :mod:`~kd_plugins.core.teacher_layouts`), a layout name
            (``'moco'``, ``'fair-moco'``, ...) or a dict of checkpoint
            prefix -> model prefix (see
            :func:`~kd_plugins.core.checkpoint.rename_prefixes`); keys under
            no listed prefix are left out on purpose, the rest load strictly.
        where_from: the method's own hint for a missing file (which config
            trains its teacher), added to the message.
    """
    key_map = resolve_key_map(key_map)
    if prefix and key_map:
        raise ValueError('set either teacher_ckpt_prefix or teacher_ckpt_map,'
                         ' not both (a map names full prefixes).')
    if '://' not in checkpoint and not osp.isfile(checkpoint):
        raise FileNotFoundError(
            f'teacher checkpoint {checkpoint!r} does not exist. Set '
            '`model.teacher_ckpt` to a checkpoint of the teacher config '
            '(train one with tools/train.py, or download the published '
            'weights of that model)' + (f'; {where_from}' if where_from
                                        else '') + '.')
    own = model.state_dict()
    mapped = read_teacher_checkpoint(checkpoint, own, prefix, key_map)
    state = mapped.state
    mismatch = compare_keys(own, state)
    if mismatch:
        raise ValueError(
            f'teacher checkpoint {checkpoint!r} does not fit the teacher '
            f'config ({type(model).__name__}) read as layout '
            f'{mapped.layout}. '
            + '; '.join(mismatch.parts('the checkpoint', 'the teacher')) +
            '. Check that `model.teacher` describes the network the '
            'checkpoint was trained with (depth, widths, num_classes, head '
            'channels)' + (f': {mapped.hint}' if mapped.hint else '')
            + ('; or check the key map' if isinstance(key_map, dict) else
               '' if prefix else "; or set `teacher_ckpt_prefix` if the "
               "weights sit under a prefix such as 'student.'") + '.')
    bad = nonfinite_keys(state)
    if bad:
        raise ValueError(
            f'teacher checkpoint {checkpoint!r} holds non-finite weights: '
            f'{"; ".join(bad[:10])}' + (f' and {len(bad) - 10} more tensors'
                                        if len(bad) > 10 else '') +
            '. The run that wrote it diverged or the file is damaged; use '
            'another checkpoint of the teacher.')
    model.load_state_dict(state, strict=False)
    print_log(mapped.report(checkpoint, type(model).__name__),
              logger='current')


class FrozenTeacher(nn.Module):
    """Wrap a network so that it can only ever be used for inference.

    Args:
        model: the built teacher network.
        bn_mode: ``'eval'`` or ``'train'`` (batch statistics, running
            statistics untouched).
        bridge: maps the student's normalised batch to the teacher's own
            normalisation (see :meth:`prepare`); None: the same batch.
    """

    def __init__(self, model: nn.Module, bn_mode: BNMode = 'eval',
                 bridge: Optional[nn.Module] = None) -> None:
        super().__init__()
        if bn_mode not in ('eval', 'train'):
            raise ValueError(f"teacher bn_mode must be 'eval' or 'train', "
                             f'got {bn_mode!r}.')
        self.model = model
        self.bn_mode = bn_mode
        self.bridge = bridge
        self.model.requires_grad_(False)
        for m in self.model.modules():
            if isinstance(m, _BatchNorm) and bn_mode == 'train':
                # Batch statistics in training mode, and neither the running
                # statistics nor num_batches_tracked are ever written.
                m.track_running_stats = False
        self._set_mode()

    def _set_mode(self) -> None:
        super().train(False)
        if self.bn_mode == 'train':
            for m in self.model.modules():
                if isinstance(m, _BatchNorm):
                    m.train(True)

    def train(self, mode: bool = True) -> 'FrozenTeacher':
        # The teacher's mode is a property of the run, not of the phase.
        self._set_mode()
        return self

    @torch.no_grad()
    def prepare(self, inputs: Tensor) -> Tensor:
        """The student's normalised batch as this teacher's input (its own
        normalisation); the batch itself when there is no bridge."""
        return inputs if self.bridge is None else self.bridge(inputs)

    @torch.no_grad()
    def forward(self, inputs: Tensor, mode: str = 'tensor'):
        return self.model(self.prepare(inputs), mode=mode)

    @torch.no_grad()
    def extract_feat(self, inputs: Tensor):
        """Backbone (and neck) only: no head is computed."""
        return self.model.extract_feat(self.prepare(inputs))

    @torch.no_grad()
    def run(self, module: nn.Module, *args, **kwargs):
        """Call one of the teacher's submodules without gradients. The
        arguments go in as given: pass images through :meth:`prepare`."""
        return module(*args, **kwargs)


def build_frozen_teacher(cfg: Union[dict, nn.Module],
                         checkpoint: Optional[str],
                         bn_mode: BNMode = 'eval',
                         checkpoint_prefix: str = '',
                         key_map: KeyMap = None,
                         where_from: str = '',
                         student_preprocessor: Optional[nn.Module] = None,
                         teacher_preprocessor: Optional[dict] = None
                         ) -> FrozenTeacher:
    """Build the teacher from ``cfg`` (or take a built module) and load
    ``checkpoint`` strictly (see :func:`load_teacher_weights`).

    The teacher's own normalisation is the ``data_preprocessor`` of ``cfg``
    (taken out before the network is built) or, for a built module,
    ``teacher_preprocessor``; when given, the teacher's input is derived
    from batches of ``student_preprocessor`` (see
    :mod:`kd_plugins.core.normalization`)."""
    from kd_plugins.registry import MODELS
    if checkpoint is None:
        raise ValueError(
            '`teacher_ckpt` is None: a distillation teacher must be trained. '
            'Set `model.teacher_ckpt` to the teacher\'s checkpoint.')
    if not isinstance(cfg, nn.Module):
        cfg = dict(cfg)
        teacher_preprocessor = cfg.pop('data_preprocessor',
                                       teacher_preprocessor)
    bridge = build_bridge(student_preprocessor, teacher_preprocessor)
    model = cfg if isinstance(cfg, nn.Module) else MODELS.build(cfg)
    load_teacher_weights(model, checkpoint, checkpoint_prefix, key_map,
                         where_from)
    return FrozenTeacher(model, bn_mode, bridge)


class TeacherHolder:
    """Mixin for an ``nn.Module`` that holds a :class:`FrozenTeacher`
    outside its module tree.

    ``_hold_teacher`` stores it with ``object.__setattr__``, so it is not a
    submodule: it stays out of ``parameters()``, ``state_dict()``, the
    optimizer and DDP. ``_apply`` forwards device and dtype moves to it, so
    ``model.to(device)`` and ``model.cuda()`` still move it.
    """

    def _hold_teacher(self, teacher: Optional[FrozenTeacher]) -> None:
        """Hold ``teacher``; None when the algorithm trains from a teacher
        cache and builds no teacher."""
        object.__setattr__(self, '_teacher', teacher)

    @property
    def teacher(self) -> FrozenTeacher:
        if self._teacher is None:
            raise RuntimeError(
                f'{type(self).__name__} trains from the teacher cache '
                f'{getattr(self, "teacher_cache", None)!r} and has no '
                'teacher; unset model.teacher_cache to run the teacher.')
        return self._teacher

    def _apply(self, fn, *args, **kwargs):
        super()._apply(fn, *args, **kwargs)
        if self._teacher is not None:
            self._teacher._apply(fn, *args, **kwargs)
        return self
