"""Shared fixtures: tiny classifier configs, teacher checkpoints, MNIST data."""
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

import kd_plugins  # noqa: F401

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
# tools/ holds script-side modules (made_data) that tests import too
sys.path.insert(0, osp.join(ROOT, 'tools'))


def tiny_classifier(width: int = 4, num_classes: int = 10) -> dict:
    """A CIFAR-style ResNet-18 of the given width (fast on the CPU)."""
    return dict(
        type='ImageClassifier',
        backbone=dict(type='ResNet_CIFAR', depth=18, stem_channels=width,
                      base_channels=width, out_indices=(3, )),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=num_classes,
                  in_channels=width * 8, loss=dict(type='CrossEntropyLoss'),
                  topk=(1, )))


def save_random_weights(cfg: dict, path: str, seed: int = 0) -> str:
    """Write an mmengine-style checkpoint of a freshly built network."""
    from kd_plugins.registry import MODELS
    torch.manual_seed(seed)
    model = MODELS.build(dict(cfg))
    model.init_weights()
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), path)
    return path


@pytest.fixture
def teacher_ckpt(tmp_path):
    return save_random_weights(tiny_classifier(8), str(tmp_path / 't.pth'))


@pytest.fixture(scope='session')
def mnist_root(tmp_path_factory):
    """A small MNIST-5k split: 100 val, 100 train, 200 unlabeled images."""
    from kd_plugins.datasets.mnist5k import write_mnist5k
    root = str(tmp_path_factory.mktemp('data') / 'mnist5k')
    write_mnist5k(root, val_per_class=10, train_per_class=10,
                  unlabeled_per_class=20)
    return root


def run_tool(args, cwd=ROOT, env=None, timeout=600):
    """Run a command under this interpreter; fail with its output."""
    full_env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='1')
    full_env.update(env or {})
    proc = subprocess.run(args, cwd=cwd, env=full_env, timeout=timeout,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True)
    if proc.returncode != 0:
        raise AssertionError(f'{args} failed ({proc.returncode}):\n'
                             f'{proc.stdout[-6000:]}')
    return proc.stdout


PY = sys.executable
