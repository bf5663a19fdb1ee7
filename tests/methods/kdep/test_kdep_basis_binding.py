"""The KDEP basis belongs to the teacher's weights, not to a path or to a
file's bytes: the same weights by URL, in a legacy file or in a zip copy
are the same teacher; other weights are refused; a teacher named by URL
gets its basis (the pass no longer ends in ``sha256_file(<URL>)``), and a
teacher that cannot load stops the tool before the pass."""
import os.path as osp

import pytest
import torch
from helpers import ROOT, save_random_weights
from helpers.files import code_running_checkpoint, serve_directory
from mmengine.config import Config

import kd_plugins.methods.kdep.teacher_pass as teacher_pass
from kd_plugins.compat import UnsafeCheckpointError
from kd_plugins.methods.kdep import load_basis
from kd_plugins.methods.kdep.teacher_pass import (
    compute_kdep_basis,
    teacher_pass_inputs,
)
from kd_plugins.registry import MODELS

KDEP_CFG = 'configs/kdep/kdep_r18w8_r18w16_mnist5k.py'


@pytest.fixture
def teacher_files(tmp_path, monkeypatch):
    """One teacher's weights three ways (zip, legacy, by URL), and another
    teacher's; yields (config, {name: checkpoint}, other)."""
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    cfg = Config.fromfile(osp.join(ROOT, KDEP_CFG))
    served = tmp_path / 'served'
    served.mkdir()
    zip_copy = save_random_weights(cfg.model.teacher, str(served / 't.pth'))
    legacy = str(tmp_path / 't_legacy.pth')
    torch.save(torch.load(zip_copy), legacy,
               _use_new_zipfile_serialization=False)
    other = save_random_weights(cfg.model.teacher, str(tmp_path / 'o.pth'),
                                seed=1)
    with serve_directory(served) as base:
        yield cfg, dict(url=base + 't.pth', legacy=legacy,
                        zip=zip_copy), other


def basis_by_url(cfg, files, mnist_root, out):
    run = teacher_pass_inputs(
        osp.join(ROOT, KDEP_CFG),
        {'train_dataloader.dataset.data_root': mnist_root}, files['url'])
    compute_kdep_basis(run.teacher, files['url'], run.dataset,
                       run.data_preprocessor, out, batch_size=50,
                       num_workers=0)
    return out


def kdep(cfg, ckpt, basis):
    model = cfg.model.to_dict()
    model.update(teacher_ckpt=ckpt, align=dict(type='SVDProjection',
                                               basis=basis))
    return MODELS.build(model)


def test_same_weights_any_source_are_the_same_teacher(teacher_files,
                                                      mnist_root, tmp_path):
    cfg, files, other = teacher_files
    basis = basis_by_url(cfg, files, mnist_root, str(tmp_path / 'b.pth'))
    record = load_basis(basis)
    assert record['teacher_ckpt'] == files['url']
    for name, ckpt in files.items():
        model = kdep(cfg, ckpt, basis)  # accepted: the same weights
        assert torch.equal(model.align.mean, record['mean'].float()), name
    with pytest.raises(ValueError) as err:
        kdep(cfg, other, basis)
    msg = str(err.value)
    assert 'another teacher' in msg and files['url'] in msg
    assert 'kdep_svd.py' in msg


def test_a_teacher_that_cannot_load_stops_before_the_pass(
        tmp_path, mnist_root, monkeypatch):
    passes = []
    monkeypatch.setattr(teacher_pass, 'teacher_features',
                        lambda *a, **k: passes.append(a) or iter(()))
    served = tmp_path / 'served'
    served.mkdir()
    code_running_checkpoint(served / 'evil.pth', tmp_path / 'ran')
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    with serve_directory(served) as base:
        run = teacher_pass_inputs(
            osp.join(ROOT, KDEP_CFG),
            {'train_dataloader.dataset.data_root': mnist_root},
            base + 'evil.pth')
        with pytest.raises(UnsafeCheckpointError):
            compute_kdep_basis(run.teacher, base + 'evil.pth', run.dataset,
                               run.data_preprocessor,
                               str(tmp_path / 'b.pth'), num_workers=0)
    assert not passes and not (tmp_path / 'ran').exists()
    assert not (tmp_path / 'b.pth').exists()
