"""Distillation checkpoints shaped like real runs, and the toolbox configs
(mmdet, mmseg) that take their exported backbones."""
import glob
import os.path as osp

import torch
from mmengine.config import Config

from kd_plugins.downstream.target import build_backbone

from . import ROOT

SSLD_R18 = osp.join(ROOT, 'configs', 'ssld', 'ssld_r18_r34_imagenet.py')
#: the mmdet and mmseg configs (tests/downstream builds them)
TOOLBOX_CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', 'downstream',
                                            'mm*', '*.py')))


def randomise_bn(module, seed=0):
    """Non-trivial BN statistics, so that a wrong mapping shows."""
    g = torch.Generator().manual_seed(seed)
    for m in module.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.running_mean.copy_(torch.rand(m.num_features, generator=g) - .5)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + .5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) + .5)
            m.bias.data.copy_(torch.rand(m.num_features, generator=g) - .5)
    return module


def distill_ckpt(path, student_backbone, seed=0, teacher_ckpt=None):
    """A checkpoint shaped like an SSLD run's: student.* keys and the config
    text mmengine saves in meta['cfg'] (ResNet-34 teacher)."""
    cfg = Config.fromfile(SSLD_R18)
    cfg.model.student.backbone = student_backbone
    if teacher_ckpt is not None:
        cfg.model.teacher_ckpt = teacher_ckpt
    torch.manual_seed(seed)
    backbone = randomise_bn(build_backbone(student_backbone, 'mmpretrain'),
                            seed)
    state = {f'student.backbone.{k}': v
             for k, v in backbone.state_dict().items()}
    state['student.head.fc.weight'] = torch.randn(1000, 8)
    torch.save(dict(state_dict=state, meta=dict(cfg=cfg.pretty_text)), path)
    return str(path), backbone
