"""KDEP's basis pass: which pipeline feeds the teacher (test or train)."""
import os.path as osp

import pytest
import torch
from helpers import PY, ROOT, run_tool, save_random_weights
from helpers.kdep import teacher_weights
from mmengine.config import Config
from mmengine.runner import set_random_seed

from kd_plugins.methods.kdep import load_basis
from kd_plugins.methods.kdep.teacher_pass import (
    compute_kdep_basis,
    teacher_pass_dataset,
    teacher_pass_inputs,
)

KDEP_CFG = 'configs/kdep/kdep_r18w8_r18w16_mnist5k.py'
KDEP_10PCT = 'configs/kdep/kdep_r18_r50_imagenet10pct_90e.py'


def kinds(pipeline):
    return [t['type'] for t in pipeline]


@pytest.mark.parametrize('config, train_only, test_only', [
    (KDEP_CFG, 'RandomCrop', None),
    (KDEP_10PCT, 'RandomResizedCrop', 'CenterCrop'),
])
def test_option_picks_the_pipeline(config, train_only, test_only):
    cfg = Config.fromfile(osp.join(ROOT, config))
    test = teacher_pass_dataset(cfg)  # the default
    train = teacher_pass_dataset(cfg, pipeline='train')
    assert test == teacher_pass_dataset(cfg, pipeline='test')
    assert kinds(train['pipeline']) == kinds(
        cfg.train_dataloader.dataset.pipeline)
    assert kinds(test['pipeline']) == kinds(cfg.test_pipeline)
    assert train_only in kinds(train['pipeline'])
    assert train_only not in kinds(test['pipeline'])
    if test_only:
        assert test_only in kinds(test['pipeline'])
    # only the pipeline differs: the same images
    assert {k: v for k, v in train.items() if k != 'pipeline'} == \
        {k: v for k, v in test.items() if k != 'pipeline'}
    run = teacher_pass_inputs(osp.join(ROOT, config), checkpoint='t.pth',
                              pipeline='train')
    assert run.dataset == train


def test_unknown_pipeline_is_refused():
    cfg = Config.fromfile(osp.join(ROOT, KDEP_CFG))
    with pytest.raises(ValueError, match="'test' or 'train'"):
        teacher_pass_dataset(cfg, pipeline='val')
    with pytest.raises(SystemExit, match="'test' or 'train'"):
        teacher_pass_inputs(osp.join(ROOT, KDEP_CFG), checkpoint='t.pth',
                            pipeline='augmented')


def test_the_pipeline_feeds_the_pass(tmp_path, mnist_root):
    """The test pipeline gives the same basis every time; the training
    pipeline's random crops give another one, the same for the same seed."""
    cfg = Config.fromfile(osp.join(ROOT, KDEP_CFG))
    ckpt = save_random_weights(cfg.model.teacher, str(tmp_path / 't.pth'))
    weights = teacher_weights(cfg.model.teacher, ckpt)
    opts = {'train_dataloader.dataset.data_root': mnist_root}

    def basis(pipeline, name, seed=0):
        run = teacher_pass_inputs(osp.join(ROOT, KDEP_CFG), opts, ckpt,
                                  pipeline=pipeline)
        set_random_seed(seed)
        out = str(tmp_path / f'{name}.pth')
        compute_kdep_basis(run.teacher, ckpt, run.dataset,
                           run.data_preprocessor, out, batch_size=32,
                           num_workers=0)
        return load_basis(out, weights)

    test_a, test_b = basis('test', 'test_a'), basis('test', 'test_b', seed=1)
    train_a, train_b = basis('train', 'train_a'), basis('train', 'train_b')
    train_c = basis('train', 'train_c', seed=1)
    assert test_a['num_images'] == train_a['num_images'] == 100
    assert torch.equal(test_a['mean'], test_b['mean'])  # no randomness
    assert torch.equal(train_a['mean'], train_b['mean'])  # seeded
    assert not torch.allclose(train_a['mean'], test_a['mean'])
    assert not torch.allclose(train_a['mean'], train_c['mean'])


@pytest.mark.slow
def test_tool_pipeline_option(tmp_path, mnist_root):
    cfg = Config.fromfile(osp.join(ROOT, KDEP_CFG))
    ckpt = save_random_weights(cfg.model.teacher, str(tmp_path / 't.pth'))
    weights = teacher_weights(cfg.model.teacher, ckpt)
    means = []
    for name in ('a', 'b'):
        out = str(tmp_path / f'{name}.pth')
        printed = run_tool([
            PY, 'tools/kdep_svd.py', KDEP_CFG, '--out', out, '--checkpoint',
            ckpt, '--pipeline', 'train', '--seed', '3', '--batch-size', '32',
            '--num-workers', '1', '--cfg-options',
            f'train_dataloader.dataset.data_root={mnist_root}'])
        assert 'through the train pipeline (random augmentation, seed 3)' \
            in printed
        means.append(load_basis(out, weights)['mean'])
    assert torch.equal(*means)  # the seed fixes the worker's draws
