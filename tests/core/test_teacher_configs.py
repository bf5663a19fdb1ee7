"""The shipped ImageNet configs with teachers as their publishers ship them:
the design card's SSKD command with a local legacy-format copy of the mmcls
ResNet-34 release, SEED with FAIR's MoCo-v2 file, KDEP's basis pass and
training with a teacher named by URL (KDEP's own robustness format, served
by a local http server). Only ``model.teacher_ckpt``, paths, batch sizes and
epoch counts change; the data is the tiny ImageNet-format fixture."""
import os.path as osp

import pytest
import torch
from helpers import PY, ROOT, run_tool
from helpers.files import serve_directory
from helpers.imagenet import loader_options
from helpers.published_teachers import (
    fair_moco,
    images,
    mmcls_release,
    normalised,
    robustness_checkpoint,
)
from mmengine.config import Config
from mmengine.registry import DefaultScope

from kd_plugins.methods.kdep import load_basis
from kd_plugins.registry import MODELS

pytestmark = pytest.mark.slow

SSKD = 'configs/sskd/sskd_r18_r34_imagenet.py'
SEED = 'configs/seed/seed_r18_mocov2r50_imagenet.py'
KDEP = 'configs/kdep/kdep_r18_r50_imagenet10pct_90e.py'


def test_design_card_with_the_legacy_mmcls_release(imagenet_root, tmp_path):
    ckpt = tmp_path / 'resnet34_8xb32_in1k_20210831-f257d4e6.pth'
    mmcls_release(ckpt, depth=34)
    with open(ckpt, 'rb') as f:
        assert f.read(2) == b'\x80\x02'  # torch's pre-1.6 format
    out = run_tool([
        PY, 'tools/train.py', SSKD, '--work-dir', str(tmp_path / 'wd'),
        '--cfg-options', *loader_options(imagenet_root, str(ckpt)),
        f'train_dataloader.dataset.data_root={imagenet_root}',
        'custom_hooks.0.epochs_per_stage=1', 'custom_hooks.0.milestones=[]',
        'custom_hooks.0.head_epochs=1', 'custom_hooks.0.head_milestones=[]',
        'train_cfg.max_epochs=5', 'train_cfg.val_begin=5'])
    assert 'layout mmpretrain / mmcls model' in out
    assert 'SSKD: starting head phase' in out and 'accuracy/top1' in out


def test_seed_config_with_fair_moco_v2(tmp_path):
    """``moco_v2_800ep_pretrain.pth.tar`` as published: ResNet-50, the
    65,536-entry queue, legacy format; the teacher embeds as encoder_q."""
    path = tmp_path / 'moco_v2_800ep_pretrain.pth.tar'
    encoder_q = fair_moco(path, arch='resnet50')
    cfg = Config.fromfile(osp.join(ROOT, SEED)).model.to_dict()
    cfg['teacher_ckpt'] = str(path)
    with DefaultScope.overwrite_default_scope('kd_plugins'):
        model = MODELS.build(cfg)
    x = normalised(images(size=64))
    diff = (model.teacher(x) - encoder_q(x)).abs().max().item()
    assert diff <= 1e-4, diff


def test_kdep_basis_and_training_with_a_url_teacher(imagenet_root, tmp_path):
    served = tmp_path / 'served'
    served.mkdir()
    robustness_checkpoint(served / 'MicrosoftVision-ResNet50.pth',
                          arch='resnet50')
    env = dict(TORCH_HOME=str(tmp_path / 'torch_home'))
    basis = str(tmp_path / 'basis.pth')
    data = [f'train_dataloader.dataset.data_root={imagenet_root}',
            'train_dataloader.dataset.ann_file=meta/train.txt']
    with serve_directory(served) as base:
        url = base + 'MicrosoftVision-ResNet50.pth'
        out = run_tool([PY, 'tools/kdep_svd.py', KDEP, '--out', basis,
                        '--num-workers', '0', '--cfg-options',
                        f'model.teacher_ckpt={url}', *data], env=env)
        assert 'basis of 6 images, D=2048' in out
        assert 'MadryLab robustness' in out
        assert load_basis(basis)['teacher_ckpt'] == url
        wd = tmp_path / 'wd'
        out = run_tool([
            PY, 'tools/train.py', KDEP, '--work-dir', str(wd),
            '--cfg-options', f'model.teacher_ckpt={url}',
            f'model.align.basis={basis}', *data,
            'train_dataloader.batch_size=2',
            'train_dataloader.num_workers=0',
            'default_hooks.logger.interval=1', 'train_cfg.max_epochs=1',
            'default_hooks.checkpoint.interval=1'], env=env)
    assert 'loss_kdep' in out and osp.isfile(wd / 'epoch_1.pth')
    state = torch.load(wd / 'epoch_1.pth', map_location='cpu',
                       weights_only=False)['state_dict']
    assert all(k.startswith('student.') for k in state)
