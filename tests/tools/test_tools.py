"""tools/*.py end to end on the embedded MNIST-5k config (CPU, few steps)."""
import glob
import json
import os
import os.path as osp

import pytest
import torch
from helpers import (
    PY,
    ROOT,
    free_port,
    load_ckpt,
    logged_losses,
    run_tool,
)
from helpers.ssld import ssld_demo_options
from mmengine.config import Config

from kd_plugins.registry import MODELS

pytestmark = pytest.mark.slow

SSLD_CFG = 'configs/ssld/ssld_r18w4_r18w16_mnist5k.py'


def ssld_options(root, ckpt, iters, ckpt_every):
    return ssld_demo_options(root, ckpt, iters, ckpt_every, keep=5)


@pytest.fixture(scope='module')
def demo_teacher(ssld_demo_teacher):
    return ssld_demo_teacher


@pytest.fixture(scope='module')
def ssld_run(tmp_path_factory, mnist_root, demo_teacher):
    """Six uninterrupted SSLD steps with checkpoints at 3 and 6."""
    wd = str(tmp_path_factory.mktemp('ssld_full'))
    out = run_tool([PY, 'tools/train.py', SSLD_CFG, '--work-dir', wd,
                    *ssld_options(mnist_root, demo_teacher, 6, 3)])
    return wd, out


def test_train_runs_and_validates(ssld_run):
    wd, out = ssld_run
    assert osp.isfile(osp.join(wd, 'iter_6.pth'))
    assert 'accuracy/top1' in out
    losses = logged_losses(wd)
    assert sorted(losses) == [1, 2, 3, 4, 5, 6]
    ckpt = load_ckpt(osp.join(wd, 'iter_6.pth'))
    assert all(k.startswith('student.') for k in ckpt['state_dict'])


def test_resume_continues_like_uninterrupted(ssld_run, tmp_path, mnist_root,
                                             demo_teacher):
    full_wd, _ = ssld_run
    wd = str(tmp_path / 'resumed')
    run_tool([PY, 'tools/train.py', SSLD_CFG, '--work-dir', wd,
              '--resume', osp.join(full_wd, 'iter_3.pth'),
              *ssld_options(mnist_root, demo_teacher, 6, 3)])
    full, resumed = logged_losses(full_wd), logged_losses(wd)
    assert sorted(resumed) == [4, 5, 6]
    for it in (4, 5, 6):
        assert resumed[it] == pytest.approx(full[it], rel=1e-4, abs=1e-6), it
    a = load_ckpt(osp.join(full_wd, 'iter_6.pth'))['state_dict']
    b = load_ckpt(osp.join(wd, 'iter_6.pth'))['state_dict']
    for k in a:
        assert torch.allclose(a[k].float(), b[k].float(), atol=1e-5), k


def test_load_from_and_test_tool(ssld_run, tmp_path, mnist_root, demo_teacher):
    wd, _ = ssld_run
    out = str(tmp_path / 'metrics.json')
    run_tool([PY, 'tools/test.py', SSLD_CFG, osp.join(wd, 'iter_6.pth'),
              '--work-dir', str(tmp_path), '--out', out, '--out-item',
              'metrics', *ssld_options(mnist_root, demo_teacher, 6, 3)])
    with open(out) as f:
        metrics = json.load(f)
    assert 0.0 <= metrics['accuracy/top1'] <= 100.0


def test_export_then_load_into_mmpretrain(ssld_run, tmp_path):
    wd, _ = ssld_run
    out = str(tmp_path / 'backbone.pth')
    run_tool([PY, 'tools/export_backbone.py', osp.join(wd, 'iter_6.pth'),
              out])
    exported = torch.load(out, weights_only=True)  # loads without kd_plugins
    state = exported['state_dict']
    assert not any(k.startswith(('student.', 'backbone.', 'head.', 'neck.'))
                   for k in state)
    cfg = Config.fromfile(osp.join(ROOT, SSLD_CFG)).model.student
    cfg.backbone.init_cfg = dict(type='Pretrained', checkpoint=out)
    model = MODELS.build(cfg)
    model.init_weights()  # mmengine's Pretrained path, as downstream uses it
    model.backbone.load_state_dict(state, strict=True)  # every key matched
    distilled = load_ckpt(osp.join(wd, 'iter_6.pth'))['state_dict']
    for k, v in model.backbone.state_dict().items():
        assert torch.equal(v, distilled['student.backbone.' + k]), k


def test_export_refuses_checkpoint_without_student(tmp_path):
    plain = str(tmp_path / 'plain.pth')
    torch.save(dict(state_dict={'backbone.conv1.weight': torch.zeros(1)}),
               plain)
    out = tmp_path / 'out.pth'
    with pytest.raises(AssertionError, match='holds no student'):
        run_tool([PY, 'tools/export_backbone.py', plain, str(out)])
    assert not out.exists() and not (tmp_path / 'out.pth.tmp').exists()


def test_dist_train_two_processes_gloo(tmp_path, mnist_root, demo_teacher):
    wd = str(tmp_path / 'dist')
    out = run_tool(['bash', 'tools/dist_train.sh', SSLD_CFG, '2',
                    '--work-dir', wd,
                    *ssld_options(mnist_root, demo_teacher, 4, 4)],
                   env=dict(PYTHON=PY, PORT=str(free_port())))
    assert 'Distributed training: True' in out
    assert osp.isfile(osp.join(wd, 'iter_4.pth'))
    assert sorted(logged_losses(wd)) == [1, 2, 3, 4]


def test_missing_teacher_checkpoint_fails_clearly(tmp_path, mnist_root):
    missing = str(tmp_path / 'no_teacher.pth')
    with pytest.raises(AssertionError, match='no_teacher.pth.*does not exist'):
        run_tool([PY, 'tools/train.py', SSLD_CFG, '--work-dir',
                  str(tmp_path / 'wd'),
                  *ssld_options(mnist_root, missing, 2, 2)])
    assert not os.listdir(tmp_path / 'wd') or not glob.glob(
        str(tmp_path / 'wd' / '*.pth'))
