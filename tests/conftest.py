"""Fixtures shared by the whole suite: MNIST-5k and ImageNet-format data.

Helper functions live in the ``helpers`` package beside this file; test
modules import them from there, never from another test module.
"""
import os.path as osp
import sys

import numpy as np
import pytest

TESTS = osp.dirname(osp.abspath(__file__))
# tests/ holds the helpers package; tools/ holds script-side modules
# (made_data) that tests import too
for path in (TESTS, osp.join(osp.dirname(TESTS), 'tools')):
    if path not in sys.path:
        sys.path.insert(0, path)

from helpers import (  # noqa: E402,F401  (names once imported from here)
    PY,
    ROOT,
    run_tool,
    save_random_weights,
    tiny_classifier,
)


@pytest.fixture(scope='session')
def mnist_root(tmp_path_factory):
    """A small MNIST-5k split: 100 val, 100 train, 200 unlabeled images."""
    from kd_plugins.datasets.mnist5k import write_mnist5k
    root = str(tmp_path_factory.mktemp('data') / 'mnist5k')
    write_mnist5k(root, val_per_class=10, train_per_class=10,
                  unlabeled_per_class=20)
    return root


@pytest.fixture(scope='session')
def ssld_demo_teacher(tmp_path_factory):
    """Random weights of the SSLD demo config's teacher (its checkpoint
    layout), for runs of configs/ssld/ssld_r18w4_r18w16_mnist5k.py."""
    from mmengine.config import Config
    cfg = Config.fromfile(
        osp.join(ROOT, 'configs/ssld/ssld_r18w4_r18w16_mnist5k.py'))
    path = tmp_path_factory.mktemp('teacher') / 'teacher.pth'
    return save_random_weights(cfg.model.teacher, str(path))


IMAGENET_CLASSES = 3


@pytest.fixture(scope='session')
def imagenet_root(tmp_path_factory):
    """A few JPEGs in mmpretrain's ImageNet layout (``train/<wnid>/*.JPEG``,
    ``val/*.JPEG``, ``meta/{train,val}.txt``): 2 training images and 1
    validation image for each of 3 classes, plus an unlabeled gallery of 4
    images and its mined list ``mined.txt``."""
    from PIL import Image
    root = tmp_path_factory.mktemp('imagenet')
    rng = np.random.default_rng(0)
    lines = {'train': [], 'val': []}
    for c in range(IMAGENET_CLASSES):
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
