"""The SSLD ImageNet configs run as written, on tiny data in ImageNet's format.

Nothing of ImageNet can be fetched here: the ``imagenet_root`` fixture
(tests/conftest.py) writes a few JPEGs in mmpretrain's ImageNet layout. The
configs run unchanged except for paths, teacher weights (random, same
architecture), batch size and epoch counts.
"""
import os.path as osp

import pytest
from helpers import PY, run_tool
from helpers.imagenet import loader_options, random_teacher

pytestmark = pytest.mark.slow


@pytest.mark.parametrize('cfg_file', ['configs/ssld/ssld_r18_r34_imagenet.py',
                                      'configs/ssld/ssld_mbv3l_r50d_imagenet.py'])
def test_ssld_imagenet_config(cfg_file, imagenet_root, tmp_path):
    ckpt = random_teacher(cfg_file, tmp_path)
    out = run_tool([
        PY, 'tools/train.py', cfg_file, '--work-dir', str(tmp_path / 'wd'),
        '--cfg-options', *loader_options(imagenet_root, ckpt),
        f'train_dataloader.dataset.labeled.data_root={imagenet_root}',
        f'train_dataloader.dataset.unlabeled.data_root='
        f'{osp.join(imagenet_root, "gallery")}',
        f'train_dataloader.dataset.unlabeled.ann_file='
        f'{osp.join(imagenet_root, "mined.txt")}',
        'train_cfg.max_epochs=1', 'train_cfg.val_interval=1'])
    assert 'loss_ssld' in out and 'accuracy/top1' in out
    assert osp.isfile(tmp_path / 'wd' / 'epoch_1.pth')
