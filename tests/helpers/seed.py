"""SEED models on tiny encoders, teachers from mmpretrain's MoCo-v2."""
import os.path as osp

import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import DefaultScope

from kd_plugins.registry import MODELS

from . import ROOT, save_random_weights

TEACHER_CFG = osp.join(ROOT, 'configs/seed/mocov2_r18w16_mnist5k.py')


def unit(*shape, seed=0):
    """Rows of unit length (embeddings, queue entries)."""
    g = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(*shape, generator=g), dim=-1)


def tiny_encoder(width, out=16, num_layers=2):
    """A CIFAR-style ResNet-18 with a SEED projection head."""
    return dict(
        type='ImageClassifier',
        backbone=dict(type='ResNet_CIFAR', depth=18, stem_channels=width,
                      base_channels=width, out_indices=(3, )),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='SEEDHead', in_channels=width * 8, out_channels=out,
                  num_layers=num_layers))


def moco_checkpoint(path, width=4, out=16):
    """A checkpoint of mmpretrain's own MoCo-v2 model (the embedded teacher
    config at a tiny width), with every key mmpretrain writes."""
    cfg = Config.fromfile(TEACHER_CFG).model
    cfg.backbone.update(stem_channels=width, base_channels=width)
    cfg.neck.update(in_channels=width * 8, hid_channels=width * 8,
                    out_channels=out)
    cfg.feat_dim = out
    torch.manual_seed(0)
    moco = MODELS.build(cfg)
    torch.save(dict(state_dict=moco.state_dict(), meta=dict()), path)
    return moco


def seed_cfg(ckpt, **kw):
    """SEED: a width-2 student, a width-4 MoCo teacher, a 16-row queue."""
    cfg = dict(type='SEED', student=tiny_encoder(2), teacher=tiny_encoder(4),
               teacher_ckpt=ckpt, teacher_ckpt_map='moco',
               queue=dict(type='SEEDQueue', K=16, dim=16),
               data_preprocessor=dict(mean=[0.0] * 3, std=[255.0] * 3))
    cfg.update(kw)
    return cfg


def contract_seed_cfgs(tmp_path):
    """SEED from a MoCo checkpoint (map) and from a plain one."""
    moco = str(tmp_path / 'moco.pth')
    moco_checkpoint(moco)
    with DefaultScope.overwrite_default_scope('kd_plugins'):  # SEEDHead
        plain = save_random_weights(tiny_encoder(4), str(tmp_path / 't.pth'))
    return [seed_cfg(moco), seed_cfg(plain, teacher_ckpt_map=None,
                                     loss=dict(type='SEEDLoss', tau_t=1e-4))]
