"""Every shipped config loads with mmengine's Config and builds its model.

The registered ``type=`` names are the configs' interface, so this builds
the model of every file under configs/ (but the ``_base_`` fragments) on the
CPU with nothing downloaded. Where a config reads files at build time, the
test writes format-faithful stand-ins into a temporary folder and points the
config at them:

- ``model.teacher_ckpt``: a random checkpoint of the teacher in the layout
  the config reads: the teacher's own state dict (an mmpretrain classifier
  or BYOL model), or, for ``teacher_ckpt_map='moco'``, the state dict of the
  MoCo-v2 model whose query encoder the teacher is; the same for the
  ``ckpt`` of each of SSLD's ``model.teachers``;
- a KDEP ``basis``: an SVD basis of random teacher-sized features, written
  with the package's ``save_basis`` and bound to that teacher's weights.

The mmdet and mmseg configs (configs/downstream/mm*) are built, whole model
and forward, by tests/downstream/test_downstream_export.py.
"""
import glob
import json
import os.path as osp

import pytest
import torch
from helpers import ROOT, save_random_weights
from helpers.downstream import TOOLBOX_CONFIGS
from helpers.kdep import teacher_weights
from mmengine.config import Config, ConfigDict
from mmengine.registry import DefaultScope

from kd_plugins.methods.kdep import StreamingBasis, save_basis
from kd_plugins.registry import MODELS

CONFIGS = sorted(
    c for c in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'),
                         recursive=True)
    if '_base_' not in c.split(osp.sep) and c not in TOOLBOX_CONFIGS)

# The MoCo-v2 model whose checkpoint a teacher_ckpt_map='moco' config reads,
# by the data the config trains on (the configs name these in comments).
MOCO_TEACHERS = {
    'mnist5k': osp.join(ROOT, 'configs/seed/mocov2_r18w16_mnist5k.py'),
    'imagenet': 'mmpretrain::mocov2/mocov2_resnet50_8xb32-coslr-200e_in1k.py',
}


def config_id(path):
    return osp.relpath(path, osp.join(ROOT, 'configs'))


def moco_model(config, tmp):
    data = 'imagenet' if 'imagenet' in osp.basename(config) else 'mnist5k'
    teacher = MOCO_TEACHERS[data]
    if teacher.startswith('mmpretrain::'):
        wrapper = tmp / 'moco_teacher.py'
        wrapper.write_text(f'_base_ = [{teacher!r}]\n')
        teacher = str(wrapper)
    return Config.fromfile(teacher).model


class StandIns:
    """Random teacher checkpoints and KDEP bases, written once per teacher
    layout for the whole module (ImageNet teachers take seconds)."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.ckpts = {}
        self.bases = {}

    def teacher_ckpt(self, model, config):
        key_map = model.get('teacher_ckpt_map')
        if key_map == 'moco':
            source = moco_model(config, self.tmp)
        elif key_map is None:
            source = model.teacher
        else:
            raise NotImplementedError(f'{config_id(config)}: write a '
                                      f'checkpoint for teacher_ckpt_map='
                                      f'{key_map!r} here')
        prefix = model.get('teacher_ckpt_prefix', '')
        key = json.dumps([source.to_dict(), prefix], sort_keys=True,
                         default=str)
        if key not in self.ckpts:
            path = str(self.tmp / f'teacher{len(self.ckpts)}.pth')
            save_random_weights(source, path)
            if prefix:
                ckpt = torch.load(path)
                ckpt['state_dict'] = {prefix + k: v for k, v in
                                      ckpt['state_dict'].items()}
                torch.save(ckpt, path)
            self.ckpts[key] = path
        return self.ckpts[key]

    def basis(self, model, dim):
        """An SVD basis of 64 random dim-wide features, bound to the weights
        of the model's teacher."""
        ckpt = model.teacher_ckpt
        if (ckpt, dim) not in self.bases:
            g = torch.Generator().manual_seed(0)
            acc = StreamingBasis(dim)
            acc.update(torch.randn(64, dim, generator=g, dtype=torch.float64))
            path = str(self.tmp / f'basis{len(self.bases)}.pth')
            weights = teacher_weights(
                model.teacher, ckpt,
                checkpoint_prefix=model.get('teacher_ckpt_prefix', ''),
                key_map=model.get('teacher_ckpt_map'))
            save_basis(path, acc.solve(), acc.n, 'random features',
                       'teacher', weights, ckpt)
            self.bases[(ckpt, dim)] = path
        return self.bases[(ckpt, dim)]


@pytest.fixture(scope='module')
def stand_ins(tmp_path_factory):
    return StandIns(tmp_path_factory.mktemp('stand_ins'))


def basis_holders(node):
    """The dicts of a model config that name a KDEP ``basis``."""
    if isinstance(node, dict):
        if 'basis' in node:
            yield node
        for v in node.values():
            yield from basis_holders(v)
    elif isinstance(node, (list, tuple)):
        for v in node:
            yield from basis_holders(v)


def test_every_config_is_built_here_or_with_the_toolboxes():
    every = [c for c in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'),
                                  recursive=True)
             if '_base_' not in c.split(osp.sep)]
    assert sorted(CONFIGS + TOOLBOX_CONFIGS) == sorted(every)
    assert TOOLBOX_CONFIGS and all(
        osp.dirname(c).endswith(('mmdet', 'mmseg')) for c in TOOLBOX_CONFIGS)


@pytest.mark.parametrize('config', CONFIGS, ids=config_id)
def test_config_builds(config, stand_ins):
    cfg = Config.fromfile(config)
    model = cfg.model
    with DefaultScope.overwrite_default_scope(
            cfg.get('default_scope', 'kd_plugins')):
        if 'teacher_ckpt' in model:
            model.teacher_ckpt = stand_ins.teacher_ckpt(model, config)
            for holder in basis_holders(model):
                dim = model.teacher.head.in_channels  # its feature width
                holder.basis = stand_ins.basis(model, dim)
        for entry in model.get('teachers', []):  # SSLD's several teachers
            entry.ckpt = stand_ins.teacher_ckpt(ConfigDict(
                teacher=entry.model, teacher_ckpt_map=entry.get('ckpt_map'),
                teacher_ckpt_prefix=entry.get('ckpt_prefix', '')), config)
        net = MODELS.build(model)
    assert sum(p.numel() for p in net.parameters()) > 0
