"""The KDEP ImageNet configs run as written, on tiny data in ImageNet's
format, after the documented subset and basis steps.

Nothing of ImageNet can be fetched here: the ``imagenet_root`` fixture
(tests/conftest.py) writes a few JPEGs in mmpretrain's ImageNet layout. The
configs run unchanged except for paths, teacher weights (random, same
architecture), batch size and epoch counts.
"""
import os.path as osp

import pytest
from helpers import PY, ROOT, run_tool
from helpers.imagenet import random_teacher
from mmengine.config import Config

KDEP_10PCT = 'configs/kdep/kdep_r18_r50_imagenet10pct_90e.py'


@pytest.fixture(scope='module')
def kdep_subset_and_basis(imagenet_root, tmp_path_factory):
    """The documented steps 1-2: a random half of the training list (the
    fixture has 6 images), then the basis of a random-weight R50 over it."""
    tmp = tmp_path_factory.mktemp('kdep')
    out = run_tool([PY, 'tools/make_subset.py',
                    osp.join(imagenet_root, 'meta', 'train.txt'),
                    osp.join(imagenet_root, 'meta', 'train_half.txt'),
                    '--fraction', '0.5', '--seed', '0'])
    assert 'wrote' in out and '3 of 6 images' in out
    ckpt = random_teacher(KDEP_10PCT, tmp)
    basis = str(tmp / 'basis.pth')
    out = run_tool([PY, 'tools/kdep_svd.py', KDEP_10PCT, '--out', basis,
                    '--checkpoint', ckpt, '--num-workers', '0',
                    '--cfg-options',
                    f'train_dataloader.dataset.data_root={imagenet_root}',
                    'train_dataloader.dataset.ann_file=meta/train_half.txt'])
    assert 'basis of 3 images, D=2048' in out
    return ckpt, basis


@pytest.mark.slow
@pytest.mark.parametrize('cfg_file', [
    KDEP_10PCT, 'configs/kdep/kdep_mbv2_r50_imagenet10pct_90e.py'])
def test_kdep_imagenet_config(cfg_file, imagenet_root, kdep_subset_and_basis,
                              tmp_path):
    ckpt, basis = kdep_subset_and_basis
    wd = tmp_path / 'wd'
    out = run_tool([
        PY, 'tools/train.py', cfg_file, '--work-dir', str(wd),
        '--cfg-options', f'model.teacher_ckpt={ckpt}',
        f'model.align.basis={basis}',
        f'train_dataloader.dataset.data_root={imagenet_root}',
        'train_dataloader.dataset.ann_file=meta/train_half.txt',
        'train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
        'default_hooks.logger.interval=1', 'train_cfg.max_epochs=1',
        'default_hooks.checkpoint.interval=1'])
    assert 'loss_kdep' in out and osp.isfile(wd / 'epoch_1.pth')


def test_kdep_full_imagenet_9_epoch_variant():
    base = Config.fromfile(osp.join(ROOT, KDEP_10PCT))
    cfg = Config.fromfile(
        osp.join(ROOT, 'configs/kdep/kdep_r18_r50_imagenet_9e.py'))
    # same iterations as 10% x 90 epochs: steps every 3 instead of 30 epochs
    assert cfg.train_cfg.max_epochs * 10 == base.train_cfg.max_epochs
    assert [m * 10 for m in cfg.param_scheduler.milestones] == \
        base.param_scheduler.milestones
    assert cfg.train_dataloader.dataset.ann_file == ''  # all of meta/train
    assert cfg.model.align.basis != base.model.align.basis
    assert cfg.optim_wrapper == base.optim_wrapper
