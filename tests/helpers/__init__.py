"""Helpers shared by test modules: tiny networks, checkpoints, tool runs.

Test modules import helpers from here (``from helpers import run_tool``) or
from the per-method modules beside it (``from helpers.seed import ...``),
never from another test module. Fixtures live in ``tests/conftest.py``.
"""
import glob
import json
import os
import os.path as osp
import socket
import subprocess
import sys

import torch
from mmpretrain.structures import DataSample

import kd_plugins  # noqa: F401  (registers the package's modules)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PY = sys.executable


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


def batch(n=4, size=16, classes=10):
    """A labelled batch of uint8 images, as a dataloader hands it over."""
    torch.manual_seed(1)
    return dict(
        inputs=[torch.randint(0, 256, (3, size, size), dtype=torch.uint8)
                for _ in range(n)],
        data_samples=[DataSample().set_gt_label(i % classes)
                      for i in range(n)])


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


def free_port():
    """A TCP port nobody listens on now (for a torchrun rendezvous)."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def load_ckpt(path):
    """An mmengine checkpoint, through the loader kd_plugins registers."""
    from mmengine.runner.checkpoint import CheckpointLoader
    return CheckpointLoader.load_checkpoint(path, map_location='cpu')


def logged_losses(work_dir):
    """iter -> loss from mmengine's scalars.json of the run in work_dir."""
    files = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    assert len(files) == 1, files
    out = {}
    with open(files[0]) as f:
        for line in f:
            rec = json.loads(line)
            if 'loss' in rec:
                out[rec['iter']] = rec['loss']
    return out
