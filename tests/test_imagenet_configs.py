"""The ImageNet configs run as written, on tiny data in ImageNet's format.

Nothing of ImageNet can be fetched here, so a fixture writes a few JPEGs in
mmpretrain's ImageNet layout (``train/<wnid>/*.JPEG``, ``val/*.JPEG``,
``meta/{train,val}.txt``) plus an unlabeled gallery with a mined list. The
configs run unchanged except for paths, teacher weights (random, same
architecture), batch size and epoch counts.
"""
import os.path as osp

import numpy as np
import pytest
from conftest import PY, ROOT, run_tool, save_random_weights
from mmengine.config import Config
from PIL import Image

N_CLASSES = 3


@pytest.fixture(scope='module')
def imagenet_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('imagenet')
    rng = np.random.default_rng(0)
    lines = {'train': [], 'val': []}
    for c in range(N_CLASSES):
        folder = root / 'train' / f'n0000000{c}'
        folder.mkdir(parents=True)
        for k in range(2):
            name = f'n0000000{c}_{k}.JPEG'
            Image.fromarray(rng.integers(0, 256, (72, 96, 3), np.uint8)).save(
                folder / name)
            lines['train'].append(f'n0000000{c}/{name} {c}')
        (root / 'val').mkdir(exist_ok=True)
        name = f'ILSVRC2012_val_{c:08d}.JPEG'
        Image.fromarray(rng.integers(0, 256, (80, 64, 3), np.uint8)).save(
            root / 'val' / name)
        lines['val'].append(f'{name} {c}')
    (root / 'meta').mkdir()
    for split, ls in lines.items():
        (root / 'meta' / f'{split}.txt').write_text('\n'.join(ls) + '\n')
    gallery = root / 'gallery'
    gallery.mkdir()
    for k in range(4):
        Image.fromarray(rng.integers(0, 256, (64, 64, 3), np.uint8)).save(
            gallery / f'g{k}.jpg')
    (root / 'mined.txt').write_text(''.join(f'g{k}.jpg\n' for k in range(4)))
    return str(root)


def common(root, ckpt):
    return [f'model.teacher_ckpt={ckpt}',
            'train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
            'val_dataloader.batch_size=2', 'val_dataloader.num_workers=0',
            'test_dataloader.num_workers=0',
            f'val_dataloader.dataset.data_root={root}',
            f'test_dataloader.dataset.data_root={root}',
            'default_hooks.logger.interval=1']


def teacher_ckpt(cfg_file, tmp_path):
    cfg = Config.fromfile(osp.join(ROOT, cfg_file))
    return save_random_weights(cfg.model.teacher, str(tmp_path / 't.pth'))


@pytest.mark.parametrize('cfg_file', ['configs/ssld/ssld_r18_r34_imagenet.py',
                                      'configs/ssld/ssld_mbv3l_r50d_imagenet.py'])
def test_ssld_imagenet_config(cfg_file, imagenet_root, tmp_path):
    ckpt = teacher_ckpt(cfg_file, tmp_path)
    out = run_tool([
        PY, 'tools/train.py', cfg_file, '--work-dir', str(tmp_path / 'wd'),
        '--cfg-options', *common(imagenet_root, ckpt),
        f'train_dataloader.dataset.labeled.data_root={imagenet_root}',
        f'train_dataloader.dataset.unlabeled.data_root='
        f'{osp.join(imagenet_root, "gallery")}',
        f'train_dataloader.dataset.unlabeled.ann_file='
        f'{osp.join(imagenet_root, "mined.txt")}',
        'train_cfg.max_epochs=1', 'train_cfg.val_interval=1'])
    assert 'loss_ssld' in out and 'accuracy/top1' in out
    assert osp.isfile(tmp_path / 'wd' / 'epoch_1.pth')


def test_sskd_imagenet_config(imagenet_root, tmp_path):
    cfg_file = 'configs/sskd/sskd_r18_r34_imagenet.py'
    ckpt = teacher_ckpt(cfg_file, tmp_path)
    out = run_tool([
        PY, 'tools/train.py', cfg_file, '--work-dir', str(tmp_path / 'wd'),
        '--cfg-options', *common(imagenet_root, ckpt),
        f'train_dataloader.dataset.data_root={imagenet_root}',
        'custom_hooks.0.epochs_per_stage=1', 'custom_hooks.0.milestones=[]',
        'custom_hooks.0.head_epochs=1', 'custom_hooks.0.head_milestones=[]',
        'train_cfg.max_epochs=5', 'train_cfg.val_begin=5'])
    for what in ('stage 2', 'stage 4', 'head phase'):
        assert f'SSKD: starting {what}' in out
    assert 'accuracy/top1' in out


# ------------------------------------------------------------------- KDEP
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
    ckpt = teacher_ckpt(KDEP_10PCT, tmp)
    basis = str(tmp / 'basis.pth')
    out = run_tool([PY, 'tools/kdep_svd.py', KDEP_10PCT, '--out', basis,
                    '--checkpoint', ckpt, '--num-workers', '0',
                    '--cfg-options',
                    f'train_dataloader.dataset.data_root={imagenet_root}',
                    'train_dataloader.dataset.ann_file=meta/train_half.txt'])
    assert 'basis of 3 images, D=2048' in out
    return ckpt, basis


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
    cfg = Config.fromfile(osp.join(ROOT, 'configs/kdep/kdep_r18_r50_imagenet_9e.py'))
    # same iterations as 10% x 90 epochs: steps every 3 instead of 30 epochs
    assert cfg.train_cfg.max_epochs * 10 == base.train_cfg.max_epochs
    assert [m * 10 for m in cfg.param_scheduler.milestones] == \
        base.param_scheduler.milestones
    assert cfg.train_dataloader.dataset.ann_file == ''  # all of meta/train
    assert cfg.model.align.basis != base.model.align.basis
    assert cfg.optim_wrapper == base.optim_wrapper
