"""The frozen teacher: built from a config and a checkpoint, never trained.

:class:`FrozenTeacher` is what every offline distillation algorithm holds. It
guarantees, for the whole run:

- every parameter has ``requires_grad=False`` and every call runs under
  ``torch.no_grad()``;
- it is not a registered submodule of the algorithm (see
  :class:`~kd_plugins.models.algorithms.BaseDistiller`), so it never reaches
  the optimizer, DDP or the algorithm's checkpoints;
- its BatchNorm mode is fixed by ``bn_mode`` and survives ``model.train()``:
  ``'eval'`` uses the running statistics; ``'train'`` (SSLD's PaddleClas
  choice) normalises with batch statistics *without* updating the running
  statistics or the step counter (``track_running_stats=False`` while in
  train mode), so the teacher's whole state stays bit-identical.
"""
import os.path as osp
from typing import Dict, Literal, Optional

import torch
import torch.nn as nn
from mmengine.runner.checkpoint import CheckpointLoader
from torch import Tensor
from torch.nn.modules.batchnorm import _BatchNorm

BNMode = Literal['eval', 'train']
_MAX_LISTED = 20


def _listing(keys) -> str:
    keys = sorted(keys)
    more = f' ... and {len(keys) - _MAX_LISTED} more' \
        if len(keys) > _MAX_LISTED else ''
    return ', '.join(keys[:_MAX_LISTED]) + more


def rename_prefixes(state: dict, key_map: Dict[str, str]) -> dict:
    """Keep the keys under a source prefix of ``key_map`` (checkpoint
    prefix -> model prefix, first match wins) and rename them."""
    out = {}
    for key, value in state.items():
        for src, dst in key_map.items():
            if key.startswith(src):
                out[dst + key[len(src):]] = value
                break
    return out


def load_teacher_weights(model: nn.Module, checkpoint: str,
                         prefix: str = '',
                         key_map: Optional[Dict[str, str]] = None) -> None:
    """Load ``checkpoint`` into ``model`` strictly, with errors that list keys.

    Args:
        checkpoint: path or URL understood by mmengine's CheckpointLoader.
        prefix: keep only keys starting with it and strip it (for example
            ``'student.'`` to use a distilled student as a teacher).
        key_map: instead of ``prefix``, keep and rename the keys under each
            checkpoint prefix (see :func:`rename_prefixes`); keys under no
            listed prefix are left out on purpose, the rest load strictly.
    """
    if prefix and key_map:
        raise ValueError('set either teacher_ckpt_prefix or a key map, not '
                         'both (a map names full prefixes).')
    if '://' not in checkpoint and not osp.isfile(checkpoint):
        raise FileNotFoundError(
            f'teacher checkpoint {checkpoint!r} does not exist. Set '
            '`model.teacher_ckpt` to a checkpoint of the teacher config '
            '(train one with tools/train.py, or download the mmpretrain '
            'weights of that model).')
    ckpt = CheckpointLoader.load_checkpoint(checkpoint, map_location='cpu')
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else ckpt
    if not isinstance(state, dict):
        raise ValueError(f'teacher checkpoint {checkpoint!r} holds no state '
                         f'dict (found {type(state).__name__}).')
    state = {k[len('module.'):] if k.startswith('module.') else k: v
             for k, v in state.items()}
    if prefix:
        state = {k[len(prefix):]: v for k, v in state.items()
                 if k.startswith(prefix)}
    if key_map:
        state = rename_prefixes(state, key_map)
    own = model.state_dict()
    # BN's step counters are bookkeeping, not weights: tolerate their absence.
    missing = {k for k in own if k not in state
               and not k.endswith('num_batches_tracked')}
    unexpected = set(state) - set(own)
    wrong_shape = {f'{k}: checkpoint {tuple(state[k].shape)} vs model '
                   f'{tuple(own[k].shape)}'
                   for k in set(own) & set(state)
                   if hasattr(state[k], 'shape')
                   and state[k].shape != own[k].shape}
    if missing or unexpected or wrong_shape:
        parts = []
        if missing:
            parts.append(f'{len(missing)} keys missing from the checkpoint: '
                         f'{_listing(missing)}')
        if unexpected:
            parts.append(f'{len(unexpected)} keys in the checkpoint that the '
                         f'teacher lacks: {_listing(unexpected)}')
        if wrong_shape:
            parts.append(f'{len(wrong_shape)} keys with a different shape: '
                         f'{_listing(wrong_shape)}')
        raise ValueError(
            f'teacher checkpoint {checkpoint!r} does not fit the teacher '
            f'config ({type(model).__name__})'
            + (f' through the key map {key_map}' if key_map else '') + '. '
            + '; '.join(parts) +
            '. Check that `model.teacher` describes the network the '
            'checkpoint was trained with (depth, widths, num_classes, head '
            'channels)'
            + (', and the key map' if key_map else
               '' if prefix else ", or set `teacher_ckpt_prefix` if the "
               "weights sit under a prefix such as 'student.'") + '.')
    model.load_state_dict(state, strict=False)


class FrozenTeacher(nn.Module):
    """Wrap a network so that it can only ever be used for inference.

    Args:
        model: the built teacher network.
        bn_mode: ``'eval'`` or ``'train'`` (batch statistics, running
            statistics untouched).
    """

    def __init__(self, model: nn.Module, bn_mode: BNMode = 'eval') -> None:
        super().__init__()
        if bn_mode not in ('eval', 'train'):
            raise ValueError(f"teacher bn_mode must be 'eval' or 'train', "
                             f'got {bn_mode!r}.')
        self.model = model
        self.bn_mode = bn_mode
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
    def forward(self, inputs: Tensor, mode: str = 'tensor'):
        return self.model(inputs, mode=mode)

    @torch.no_grad()
    def extract_feat(self, inputs: Tensor):
        """Backbone (and neck) only: no head is computed."""
        return self.model.extract_feat(inputs)

    @torch.no_grad()
    def run(self, module: nn.Module, *args, **kwargs):
        """Call one of the teacher's submodules without gradients."""
        return module(*args, **kwargs)


def build_frozen_teacher(cfg: dict, checkpoint: Optional[str],
                         bn_mode: BNMode = 'eval',
                         checkpoint_prefix: str = '') -> FrozenTeacher:
    """Build the teacher from ``cfg`` and load ``checkpoint`` strictly."""
    from kd_plugins.registry import MODELS
    if isinstance(cfg, nn.Module):
        model = cfg
    else:
        model = MODELS.build(dict(cfg))
    if checkpoint is None:
        raise ValueError(
            '`teacher_ckpt` is None: a distillation teacher must be trained. '
            'Set `model.teacher_ckpt` to the teacher\'s checkpoint.')
    load_teacher_weights(model, checkpoint, checkpoint_prefix)
    return FrozenTeacher(model, bn_mode)
