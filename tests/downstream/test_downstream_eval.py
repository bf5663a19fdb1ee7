"""Backbone evaluation: cosine k-NN against a naive reference, the linear
probe keeps the backbone frozen, and the tools on the MNIST-5k split."""
import copy
import os.path as osp
import re

import pytest
import torch
from helpers import PY, ROOT, run_tool, save_random_weights
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmpretrain.structures import DataSample

from kd_plugins.downstream.backbone_eval import (
    build_with_backbone,
    knn_predict,
)
from kd_plugins.export import export_backbone

PROBE = osp.join(ROOT, 'configs', 'downstream', 'mnist5k',
                 'linear_probe_r18w8.py')
FINETUNE = osp.join(ROOT, 'configs', 'downstream', 'mnist5k',
                    'finetune_r18w8.py')


def naive_knn(bank, labels, queries, k, t, num_classes):
    """One query at a time, plain Python loops over the neighbours."""
    out = []
    for q in queries:
        sims = [(float(torch.dot(q, b) / (q.norm() * b.norm())), int(y))
                for b, y in zip(bank, labels)]
        sims.sort(key=lambda s: -s[0])
        votes = [0.0] * num_classes
        for s, y in sims[:k]:
            votes[y] += float(torch.exp(torch.tensor(s / t)))
        out.append(max(range(num_classes), key=lambda c: (votes[c], -c)))
    return torch.tensor(out)


@pytest.mark.parametrize('k,t', [(1, 0.07), (5, 0.07), (20, 0.5)])
def test_knn_matches_naive_reference(k, t):
    g = torch.Generator().manual_seed(k)
    bank = torch.randn(60, 8, generator=g)
    labels = torch.randint(0, 4, (60, ), generator=g)
    queries = torch.randn(25, 8, generator=g)
    fast = knn_predict(bank, labels, queries, k, t, 4, chunk=7)
    assert torch.equal(fast, naive_knn(bank, labels, queries, k, t, 4))


def test_knn_separable_and_bad_arguments():
    centres = torch.eye(3) * 10
    bank = centres.repeat_interleave(5, 0) + torch.randn(15, 3) * 0.1
    labels = torch.arange(3).repeat_interleave(5)
    queries = centres + torch.randn(3, 3) * 0.1
    assert torch.equal(knn_predict(bank, labels, queries, 5, 0.07, 3),
                       torch.arange(3))
    with pytest.raises(ValueError, match='k must be >= 1'):
        knn_predict(bank, labels, queries, 0, 0.07, 3)


def probe_cfg(mnist_root, path=PROBE):
    cfg = Config.fromfile(path)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = mnist_root
        cfg[loader].num_workers = 0
    return cfg


@pytest.fixture(scope='module')
def backbone_file(tmp_path_factory):
    """An exported backbone of a (label-free) random w8 classifier."""
    tmp = tmp_path_factory.mktemp('probe')
    cfg = Config.fromfile(PROBE).model
    cfg.backbone.pop('init_cfg')
    ckpt = save_random_weights(cfg, str(tmp / 'clf.pth'), seed=3)
    out = str(tmp / 'w8.pth')
    export_backbone(ckpt, out, student_prefix='')
    return out


def test_evaluated_model_normalises_as_its_config_says(mnist_root,
                                                      backbone_file):
    """k-NN, probe and the tools see the inputs the config's top-level
    data_preprocessor makes (MNIST mean and std), not raw pixels."""
    cfg = probe_cfg(mnist_root)
    assert 'data_preprocessor' not in cfg.model
    model = build_with_backbone(cfg, backbone_file)
    pre = model.data_preprocessor
    want = torch.tensor(cfg.data_preprocessor.mean).view(-1, 1, 1)
    assert torch.allclose(pre.mean, want)
    data = dict(inputs=[torch.full((3, 28, 28), 255, dtype=torch.uint8)])
    out = pre(data, False)['inputs']
    assert torch.allclose(out, (255 - want) / torch.tensor(
        cfg.data_preprocessor.std).view(-1, 1, 1))


def test_linear_probe_trains_only_the_head(mnist_root, backbone_file):
    cfg = probe_cfg(mnist_root)
    model = build_with_backbone(cfg, backbone_file)
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    data = dict(inputs=[torch.randint(0, 256, (3, 28, 28), dtype=torch.uint8)
                        for _ in range(8)],
                data_samples=[DataSample().set_gt_label(i % 10)
                              for i in range(8)])
    for _ in range(2):
        model.train_step(data, optim)
    after = model.state_dict()
    for k, v in before.items():
        if k.startswith('backbone.'):
            assert torch.equal(v, after[k]), f'{k} changed in a linear probe'
    assert not torch.equal(before['head.fc.weight'], after['head.fc.weight'])
    ft = probe_cfg(mnist_root, FINETUNE)
    assert ft.model.backbone.frozen_stages == -1
    assert not ft.model.backbone.norm_eval


@pytest.mark.slow
def test_knn_tool_and_random_baseline(mnist_root, backbone_file):
    common = ['--cfg-options',
              f'train_dataloader.dataset.data_root={mnist_root}',
              f'val_dataloader.dataset.data_root={mnist_root}',
              'train_dataloader.num_workers=0', 'val_dataloader.num_workers=0']
    out = run_tool([PY, 'tools/knn_eval.py', PROBE, '--checkpoint',
                    backbone_file, '--k', '5', *common])
    assert 'task/s' in out  # progress bar
    top1 = float(re.search(r'k-NN top-1 ([0-9.]+)', out).group(1))
    assert 0.0 <= top1 <= 100.0
    assert 'bank 100, queries 100' in out


@pytest.mark.slow
def test_compare_tool_prints_one_table(mnist_root, backbone_file, tmp_path):
    options = ['--cfg-options', 'train_cfg.max_iters=3',
               'train_cfg.val_interval=3']
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        options += [f'{loader}.dataset.data_root={mnist_root}',
                    f'{loader}.num_workers=0']
    out = run_tool([PY, 'tools/compare_backbones.py', PROBE,
                    '--backbone', f'distilled={backbone_file}',
                    '--backbone', f'supervised={backbone_file}',
                    '--backbone', 'random', '--finetune-config', FINETUNE,
                    '--k', '5', '--work-dir', str(tmp_path / 'cmp'),
                    *options])
    table = out[out.index('| backbone |'):].splitlines()
    assert table[0] == ('| backbone | k-NN top-1 (k=5) | linear probe | '
                        'fine-tune |')
    rows = {line.split('|')[1].strip(): [float(c) for c in
                                          line.split('|')[2:5]]
            for line in table[2:5]}
    assert set(rows) == {'distilled', 'supervised', 'random'}
    # the same file twice: same k-NN and, with seed 0, the same probe
    assert rows['distilled'] == rows['supervised']
    assert all(0.0 <= v <= 100.0 for r in rows.values() for v in r)


def test_compare_tool_refuses_missing_file_and_bad_spec(tmp_path):
    import argparse
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'compare_backbones', osp.join(ROOT, 'tools', 'compare_backbones.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    assert tool.parse_backbone('random') == ('random', None)
    with pytest.raises(argparse.ArgumentTypeError, match='does not exist'):
        tool.parse_backbone(f'x={tmp_path}/none.pth')
    with pytest.raises(argparse.ArgumentTypeError, match='NAME=PATH'):
        tool.parse_backbone('just_a_path.pth')


@pytest.mark.parametrize('name', [
    'linear_probe_r18w4.py', 'finetune_r18w4.py', 'linear_probe_r18w8.py',
    'finetune_r18w8.py'])
def test_mnist5k_eval_configs_take_their_student(name, tmp_path):
    """Each config's classifier takes an exported student of its width."""
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'downstream', 'mnist5k',
                                   name))
    assert cfg.custom_hooks[0].type == 'DistilledBackboneCheckHook'
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.backbone.pop('init_cfg')
    ckpt = save_random_weights(model_cfg, str(tmp_path / 'clf.pth'))
    out = str(tmp_path / 'b.pth')
    export_backbone(ckpt, out, student_prefix='')
    model = build_with_backbone(cfg, out)  # checked to load completely
    model.eval()
    with torch.no_grad():
        logits = model(torch.randn(2, 3, 28, 28), mode='tensor')
    assert logits.shape == (2, 10)
    frozen = cfg.model.backbone.frozen_stages == 4
    assert frozen == name.startswith('linear_probe')
