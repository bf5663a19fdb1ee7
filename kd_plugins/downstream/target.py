"""The downstream backbone an export is meant for, built by its own toolbox.

The target is either the ``model.backbone`` of a downstream config (its
``default_scope`` names the toolbox) or, given only a toolbox name, the
backbone of the student's own family and depth in that toolbox. It is built
(randomly initialised, never loading its ``init_cfg``) only to read the key
names and shapes it expects.
"""
import copy
import importlib
import os.path as osp
from typing import Dict, Optional, Tuple

import torch.nn as nn
from mmengine.config import Config, ConfigDict
from mmengine.registry import DefaultScope

TOOLBOXES = ('mmpretrain', 'mmdet', 'mmseg')


def _registry(toolbox: str):
    if toolbox not in TOOLBOXES + ('kd_plugins', ):
        raise ValueError(f'unknown toolbox {toolbox!r}: expected one of '
                         f'{TOOLBOXES}')
    try:
        return importlib.import_module(f'{toolbox}.registry').MODELS
    except ImportError as e:
        raise ImportError(f'{toolbox} is needed to build its backbone '
                          f'({e}); install it (tools/setup_env.sh does).')


def backbone_from_config(config: str) -> Tuple[ConfigDict, str]:
    """``(model.backbone, toolbox)`` of a downstream config file."""
    if not osp.isfile(config):
        raise FileNotFoundError(f'downstream config {config!r} does not '
                                'exist')
    cfg = Config.fromfile(config)
    model = cfg.get('model')
    if model is None or model.get('backbone') is None:
        raise ValueError(f'{config} has no model.backbone to export for')
    scope = cfg.get('default_scope', 'mmpretrain')
    if scope not in TOOLBOXES + ('kd_plugins', ):
        raise ValueError(f'{config}: default_scope={scope!r} is not one of '
                         f'{TOOLBOXES}')
    if model.get('pretrained'):
        raise ValueError(
            f'{config}: model.pretrained={model.pretrained!r} would load '
            'other weights into the backbone; set model.pretrained=None and '
            "model.backbone.init_cfg=dict(type='Pretrained', checkpoint=...)")
    return model.backbone, scope


def default_backbone(toolbox: str, info: Dict) -> Dict:
    """The backbone of the student's family in ``toolbox``.

    ``info`` is :func:`~kd_plugins.downstream.key_mapping.inspect_backbone`'s
    reading of the student.
    """
    family, depth = info['family'], info['depth']
    if family == 'MobileNetV2':
        widen = (info['stem_channels'] or 32) / 32
        cfg = dict(type='MobileNetV2', widen_factor=widen)
        if toolbox == 'mmdet':
            cfg['out_indices'] = (2, 4, 6)
        return cfg
    if family == 'unknown' or depth is None:
        raise ValueError(
            f'cannot tell which {toolbox} backbone fits the student '
            f'({info["text"]}); pass the downstream config with --config')
    if family == 'ResNet_CIFAR':
        if toolbox != 'mmpretrain':
            raise ValueError(
                f'the student is a {info["text"]}, a CIFAR ResNet (3x3 stem, '
                f'no max-pool) that {toolbox} has no backbone for: distil an '
                "ImageNet-style student (mmpretrain 'ResNet'/'ResNetV1c') "
                'for detection or segmentation.')
        return dict(type='ResNet_CIFAR', depth=depth,
                    stem_channels=info['stem_channels'],
                    base_channels=info['base_channels'])
    cfg = dict(type=family, depth=depth)
    if family == 'ResNetV1c' and toolbox == 'mmdet':
        # mmdet has no ResNetV1c class: its ResNet takes deep_stem instead
        cfg = dict(type='ResNet', depth=depth, deep_stem=True)
    if info['base_channels'] and info['base_channels'] != 64:
        cfg['base_channels'] = info['base_channels']
        cfg['stem_channels'] = info['stem_channels']
    return cfg


def build_backbone(cfg: Dict, toolbox: str) -> nn.Module:
    """Build ``cfg`` with ``toolbox``'s registry, without loading weights."""
    cfg = copy.deepcopy(dict(cfg))
    cfg.pop('init_cfg', None)
    cfg.pop('pretrained', None)
    registry = _registry(toolbox)
    # build_from_cfg switches to the *current* default scope's registry, so
    # make the toolbox's scope current for this one build.
    with DefaultScope.overwrite_default_scope(toolbox):
        return registry.build(cfg)


def describe_cfg(cfg: Dict, toolbox: str, config: Optional[str]) -> str:
    where = f' of {config}' if config else ''
    extra = ', '.join(f'{k}={v!r}' for k, v in cfg.items()
                      if k in ('depth', 'deep_stem', 'widen_factor'))
    return f"{toolbox}'s {cfg['type']}({extra}){where}"
