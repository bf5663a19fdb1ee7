"""Running the ImageNet configs on the tiny ImageNet-format data of the
``imagenet_root`` fixture (tests/conftest.py): only paths, batch sizes,
epoch counts and the teacher's weights (random, same architecture) change."""
import os.path as osp

from mmengine.config import Config

from . import ROOT, save_random_weights


def loader_options(root, ckpt):
    """--cfg-options for the teacher file, small loaders and val data."""
    return [f'model.teacher_ckpt={ckpt}',
            'train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
            'val_dataloader.batch_size=2', 'val_dataloader.num_workers=0',
            'test_dataloader.num_workers=0',
            f'val_dataloader.dataset.data_root={root}',
            f'test_dataloader.dataset.data_root={root}',
            'default_hooks.logger.interval=1']


def random_teacher(cfg_file, tmp_path):
    """A random-weight checkpoint of the config's teacher."""
    cfg = Config.fromfile(osp.join(ROOT, cfg_file))
    return save_random_weights(cfg.model.teacher, str(tmp_path / 't.pth'))
