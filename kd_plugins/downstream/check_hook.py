"""Fail a downstream run at start when the distilled backbone did not load.

mmengine's ``Pretrained`` initialisation loads with ``strict=False``: keys
that do not match (a deep-stem ResNetV1c given a plain ResNet's stem, another
depth, another toolbox's names) only produce a log warning, and those weights
stay random. Add to an mmdet / mmseg / mmpretrain config::

    custom_imports = dict(imports=['kd_plugins.downstream'],
                          allow_failed_imports=False)
    custom_hooks = [dict(type='DistilledBackboneCheckHook')]

and the run stops before its first iteration unless every tensor of the
backbone equals the one in the checkpoint named by the backbone's
``init_cfg=dict(type='Pretrained', checkpoint=...)`` (after its ``prefix``),
listing the missing, unexpected, mis-shaped and not-loaded keys. It works
the same with the toolbox's own ``tools/train.py`` and with
``tools/downstream_train.py``.
"""
from typing import Dict, Optional, Tuple

import torch
import torch.nn as nn
from mmengine.hooks import Hook
from mmengine.registry import HOOKS as ROOT_HOOKS

from kd_plugins.core.checkpoint import (
    compare_keys,
    listing,
    read_checkpoint,
    strip_prefix,
)
from kd_plugins.core.dist import unwrap_model
from kd_plugins.registry import HOOKS

from .key_mapping import describe


def pretrained_source(module: nn.Module) -> Tuple[Optional[str], str]:
    """``(checkpoint, prefix)`` of a module's ``Pretrained`` init_cfg."""
    init_cfg = getattr(module, 'init_cfg', None)
    cfgs = init_cfg if isinstance(init_cfg, (list, tuple)) else [init_cfg]
    for cfg in cfgs:
        if isinstance(cfg, dict) and cfg.get('type') == 'Pretrained':
            return cfg.get('checkpoint'), cfg.get('prefix', '') or ''
    return None, ''


def load_backbone_file(checkpoint: str, prefix: str = '') -> Tuple[Dict, Dict]:
    """``(state_dict, meta)`` as mmengine's ``Pretrained`` would read them."""
    state, ckpt = read_checkpoint(checkpoint)
    meta = ckpt.get('meta', {})
    return strip_prefix(state, prefix), meta if isinstance(meta, dict) else {}


def compare_loaded(module: nn.Module, expected: Dict[str, torch.Tensor]
                   ) -> Dict[str, list]:
    """Keys of ``module`` that do not hold ``expected``'s tensors.

    ``missing``: in the module, not in the file (left as initialised);
    ``unexpected``: in the file, not in the module; ``wrong_shape``;
    ``not_loaded``: in both with one shape but other values.
    """
    own = module.state_dict()
    found = compare_keys(own, expected, source='file', target='model')
    not_loaded = [k for k, value in own.items() if k in expected
                  and tuple(expected[k].shape) == tuple(value.shape)
                  and not torch.equal(value.detach().cpu().to(
                      expected[k].dtype), expected[k])]
    return dict(missing=found.missing, unexpected=found.unexpected,
                wrong_shape=found.wrong_shape, not_loaded=not_loaded)


@HOOKS.register_module()
class DistilledBackboneCheckHook(Hook):
    """Check, before training starts, that the distilled backbone loaded.

    Args:
        checkpoint: the exported backbone; default: the ``checkpoint`` of
            the module's ``Pretrained`` init_cfg.
        module: attribute path of the backbone in the model.
    """
    priority = 'VERY_HIGH'

    def __init__(self, checkpoint: Optional[str] = None,
                 module: str = 'backbone') -> None:
        self.checkpoint = checkpoint
        self.module = module

    def _module(self, runner) -> nn.Module:
        model = unwrap_model(runner.model)
        target = model
        for name in self.module.split('.'):
            if not hasattr(target, name):
                raise ValueError(
                    f'DistilledBackboneCheckHook: the model '
                    f'({type(model).__name__}) has no {self.module!r}; set '
                    "module='...' to the backbone's attribute path")
            target = getattr(target, name)
        return target

    def before_train(self, runner) -> None:
        # mmengine's Runner sets _has_loaded when load_or_resume() loaded a
        # checkpoint (resume or load_from): the weights are then that file's.
        # A resume=True run that found no checkpoint starts fresh and is
        # checked.
        if getattr(runner, '_has_loaded', False):
            runner.logger.info(
                'DistilledBackboneCheckHook: skipped, the weights come from '
                'a resumed or load_from checkpoint')
            return
        self.check(self._module(runner), runner.logger)

    def check(self, backbone: nn.Module, logger=None) -> Dict:
        """Raise ``ValueError`` unless ``backbone`` holds the file's tensors.

        Returns the file's ``meta`` (provenance of the export).
        """
        checkpoint, prefix = pretrained_source(backbone)
        if self.checkpoint is not None:
            checkpoint = self.checkpoint
        if not checkpoint:
            raise ValueError(
                f'DistilledBackboneCheckHook: model.{self.module} has no '
                "init_cfg=dict(type='Pretrained', checkpoint=...) and the "
                'hook was given no checkpoint: name the exported backbone '
                '(tools/export_backbone.py) in the config.')
        expected, meta = load_backbone_file(checkpoint, prefix)
        result = compare_loaded(backbone, expected)
        if any(result.values()):
            parts = [f'the distilled backbone {checkpoint} was not loaded '
                     f'completely into model.{self.module} '
                     f'({type(backbone).__name__}; file: '
                     f'{meta.get("student") or describe(expected)}'
                     f'; model: {describe(backbone.state_dict())}).']
            names = dict(
                missing='backbone tensors missing from the file (left '
                'randomly initialised)',
                unexpected='file tensors the backbone has no place for',
                wrong_shape='tensors of another shape',
                not_loaded='tensors not equal to the file after '
                'initialisation (overwritten or never loaded)')
            for key, text in names.items():
                if result[key]:
                    parts.append(f'{len(result[key])} {text}: '
                                 f'{listing(result[key], 12)}.')
            parts.append(
                'Export the backbone for this config: python '
                'tools/export_backbone.py DISTILL_CKPT OUT.pth --config '
                'THIS_CONFIG (it renames keys and refuses impossible '
                'pairs), and check that nothing else (model.pretrained, '
                'another init_cfg) overrides it.')
            msg = ' '.join(parts)
            if logger is not None:
                logger.error(msg)
            raise ValueError(msg)
        if logger is not None:
            logger.info(
                f'DistilledBackboneCheckHook: all {len(expected)} tensors of '
                f'{checkpoint} loaded into model.{self.module} '
                f'(method={meta.get("method", "unknown")}, '
                f'teacher={meta.get("teacher", "unknown")}, source sha256='
                f'{str(meta.get("source_sha256", "unknown"))[:16]}...)')
        return meta


# mmdet's and mmseg's registries are children of mmengine's root, which finds
# scoped names only among its direct children (kd_plugins' registries hang
# under mmpretrain's). Registering the hook in the root too lets a config in
# any scope name it plainly, after custom_imports.
ROOT_HOOKS.register_module(module=DistilledBackboneCheckHook)
