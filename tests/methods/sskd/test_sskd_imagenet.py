"""The SSKD ImageNet config runs as written, on tiny data in ImageNet's format.

Nothing of ImageNet can be fetched here: the ``imagenet_root`` fixture
(tests/conftest.py) writes a few JPEGs in mmpretrain's ImageNet layout. The
config runs unchanged except for paths, teacher weights (random, same
architecture), batch size and epoch counts.
"""

import pytest
from helpers import PY, run_tool
from helpers.imagenet import loader_options, random_teacher

pytestmark = pytest.mark.slow


def test_sskd_imagenet_config(imagenet_root, tmp_path):
    cfg_file = 'configs/sskd/sskd_r18_r34_imagenet.py'
    ckpt = random_teacher(cfg_file, tmp_path)
    out = run_tool([
        PY, 'tools/train.py', cfg_file, '--work-dir', str(tmp_path / 'wd'),
        '--cfg-options', *loader_options(imagenet_root, ckpt),
        f'train_dataloader.dataset.data_root={imagenet_root}',
        'custom_hooks.0.epochs_per_stage=1', 'custom_hooks.0.milestones=[]',
        'custom_hooks.0.head_epochs=1', 'custom_hooks.0.head_milestones=[]',
        'train_cfg.max_epochs=5', 'train_cfg.val_begin=5'])
    for what in ('stage 2', 'stage 4', 'head phase'):
        assert f'SSKD: starting {what}' in out
    assert 'accuracy/top1' in out
