"""The SimDis ImageNet configs build as written and train on tiny data in
ImageNet's format (paths, batch size, dataset length and epochs changed)."""
import glob
import os.path as osp

import pytest
from helpers import PY, ROOT, run_tool
from mmengine.config import Config
from torch.nn import SyncBatchNorm

from kd_plugins.registry import MODELS

LARS = '32xb64-lars-100e_in1k'
SGD = '8xb128-sgd-100e_in1k'


def cfg_of(name):
    return Config.fromfile(osp.join(ROOT, 'configs/simdis', name))


@pytest.mark.parametrize('setting', [LARS, SGD])
def test_configs_follow_the_paper(setting):
    off = cfg_of(f'simdis_off_r18_r50_{setting}.py')
    on = cfg_of(f'simdis_on_r18_r50_{setting}.py')
    on7 = cfg_of(f'simdis_on7v_r18_r50_{setting}.py')
    assert (off.model.type, on.model.type, on7.model.type) == (
        'SimDis', 'SimDisOnline', 'SimDisOnline')
    assert (off.model.targets, on.model.targets, on7.model.targets) == (
        'SimDis-Off', 'SimDis-On', 'SimDis-On-7v')
    for cfg in (off, on, on7):
        assert cfg.model.student.backbone.depth == 18
        assert cfg.model.teacher.backbone.depth == 50
        assert cfg.model.student.neck.hid_channels == 4096
        assert cfg.model.student.neck.out_channels == 256
        assert cfg.train_cfg.max_epochs == 100
        assert [h.type for h in cfg.custom_hooks] == ['EMATargetHook']
        assert cfg.custom_hooks[0].base_decay == 0.99
        opt = cfg.optim_wrapper.optimizer
        norm = cfg.model.student.backbone.norm_cfg.type
        if setting == LARS:  # 0.3 per 256 images, 2048 images per step
            assert (opt.type, norm) == ('LARS', 'SyncBN')
            assert opt.lr == pytest.approx(0.3 * 32 * 64 / 256)
            assert opt.weight_decay == 1e-4
        else:  # 0.05 per 256 images, 8 x 128 per step, no SyncBN
            assert (opt.type, norm) == ('SGD', 'BN')
            assert opt.lr == pytest.approx(0.05 * 8 * 128 / 256)
            assert cfg.model.teacher.neck.norm_cfg.type == 'BN1d'


def test_online_lars_7v_builds_with_syncbn():
    cfg = cfg_of(f'simdis_on7v_r18_r50_{LARS}.py')
    model = MODELS.build(cfg.model)
    assert any(isinstance(m, SyncBatchNorm) for m in model.student.modules())
    assert len(model.predictors) == 6


def tiny(root, extra=()):
    return ['--cfg-options', f'train_dataloader.dataset.data_root={root}',
            'train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
            'train_dataloader.dataset.indices=2', 'train_cfg.max_epochs=1',
            'default_hooks.logger.interval=1', *extra]


@pytest.mark.slow
def test_sgd_teacher_then_offline_config_train(tmp_path,
                                               imagenet_root):
    """mmpretrain's BYOL R50 (teacher config), then SimDis-Off from it."""
    teacher_wd = str(tmp_path / 'teacher')
    run_tool([PY, 'tools/train.py',
              f'configs/simdis/byol_r50_{SGD}.py', '--work-dir',
              teacher_wd, *tiny(imagenet_root)])
    ckpt = osp.join(teacher_wd, 'epoch_1.pth')
    name = f'simdis_off_r18_r50_{SGD}.py'
    wd = str(tmp_path / 'off')
    run_tool([PY, 'tools/train.py', f'configs/simdis/{name}', '--work-dir',
              wd, *tiny(imagenet_root, [f'model.teacher_ckpt={ckpt}'])])
    assert glob.glob(osp.join(wd, 'epoch_1.pth'))


@pytest.mark.slow
def test_online_7v_lars_config_trains(tmp_path, imagenet_root):
    wd = str(tmp_path / 'on7v')
    out = run_tool([PY, 'tools/train.py',
                    f'configs/simdis/simdis_on7v_r18_r50_{LARS}.py',
                    '--work-dir', wd, *tiny(imagenet_root)])
    assert 'v_teacher_online_same' in out and 'loss_teacher' in out
    assert glob.glob(osp.join(wd, 'epoch_1.pth'))


def test_teacher_and_linear_probe_configs():
    # (tests/configs/test_configs_build.py builds them)
    for name in (f'byol_r50_{LARS}.py', f'byol_r50_{SGD}.py'):
        cfg = cfg_of(name)
        assert cfg.model.type == 'BYOL' and cfg.model.base_momentum == 0.01
    probe = cfg_of('simdis_linear_r18_8xb512-coslr-90e_in1k.py')
    assert probe.model.backbone.depth == 18 and \
        probe.model.backbone.frozen_stages == 4
    assert probe.model.backbone.init_cfg.prefix is None  # exported backbone
    assert probe.model.head.in_channels == 512
