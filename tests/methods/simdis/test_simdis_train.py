"""SimDis end to end through tools/train.py on the embedded MNIST data:
mmpretrain's BYOL teacher config, then each preset (SimDis-Off from the
teacher's checkpoint, SimDis-On, SimDis-On-7v); resume restores both EMA
targets and the EMA hook's step exactly; the student backbone exports."""
import glob
import json
import os.path as osp

import pytest
import torch
from helpers import PY, run_tool
from mmengine.runner.checkpoint import CheckpointLoader

from kd_plugins.export import student_backbone_state

pytestmark = pytest.mark.slow

TEACHER_CFG = 'configs/simdis/byol_r18w16_mnist5k.py'
OFF_CFG = 'configs/simdis/simdis_off_r18w8_mnist5k.py'
ON_CFG = 'configs/simdis/simdis_on_r18w8_mnist5k.py'
ON7V_CFG = 'configs/simdis/simdis_on7v_r18w8_mnist5k.py'


def options(root, iters, ckpt_every=None, extra=()):
    return ['--cfg-options',
            f'train_dataloader.dataset.data_root={root}',
            'train_dataloader.batch_size=8', 'train_dataloader.num_workers=0',
            f'train_cfg.max_iters={iters}', 'default_hooks.logger.interval=1',
            f'default_hooks.checkpoint.interval={ckpt_every or iters}',
            'default_hooks.checkpoint.max_keep_ckpts=5', 'randomness.seed=0',
            'randomness.deterministic=True', *extra]


def load(path):
    return CheckpointLoader.load_checkpoint(path, map_location='cpu')


def scalars(work_dir):
    files = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    assert len(files) == 1, files
    with open(files[0]) as f:
        return {r['iter']: r for r in map(json.loads, f) if 'loss' in r}


@pytest.fixture(scope='module')
def byol_teacher(tmp_path_factory, mnist_root):
    """Two steps of mmpretrain's BYOL with the teacher config."""
    wd = str(tmp_path_factory.mktemp('byol_teacher'))
    run_tool([PY, 'tools/train.py', TEACHER_CFG, '--work-dir', wd,
              *options(mnist_root, 2)])
    return osp.join(wd, 'iter_2.pth')


def test_offline_preset_trains_from_a_byol_checkpoint(tmp_path, mnist_root,
                                                      byol_teacher):
    wd = str(tmp_path / 'off')
    out = run_tool([PY, 'tools/train.py', OFF_CFG, '--work-dir', wd,
                    *options(mnist_root, 3,
                             extra=[f'model.teacher_ckpt={byol_teacher}'])])
    assert 'EMA targets' in out and 'tau from 0.99 to 1.0 over 3' in out
    logs = scalars(wd)
    assert sorted(logs) == [1, 2, 3]
    assert all('v_teacher_ema_other' in r and 'v_student_ema_other' in r
               for r in logs.values())
    assert logs[3]['ema_decay'] == pytest.approx(1.0)  # tau_K = 1
    ckpt = load(osp.join(wd, 'iter_3.pth'))
    assert not any(k.startswith('teacher') for k in ckpt['state_dict'])
    assert ckpt['ema_target']['steps'] == 3
    backbone = student_backbone_state(ckpt['state_dict'])
    assert backbone and all(not k.startswith(('neck', 'head', 'target'))
                            for k in backbone)


@pytest.mark.parametrize('cfg', [ON7V_CFG])
def test_online_7v_preset_trains(tmp_path, mnist_root, cfg):
    wd = str(tmp_path / 'on7v')
    run_tool([PY, 'tools/train.py', cfg, '--work-dir', wd,
              *options(mnist_root, 2)])
    logs = scalars(wd)
    assert sorted(logs) == [1, 2]
    assert sum(k.startswith('v_') for k in logs[2]) == 7
    assert 'loss_teacher' in logs[2] and 'loss_student' in logs[2]
    state = load(osp.join(wd, 'iter_2.pth'))['state_dict']
    assert any(k.startswith('teacher.target_net.module.') for k in state)


@pytest.fixture(scope='module')
def online_run(tmp_path_factory, mnist_root):
    """SimDis-On for four uninterrupted steps, checkpoints at 2 and 4."""
    wd = str(tmp_path_factory.mktemp('on_full'))
    run_tool([PY, 'tools/train.py', ON_CFG, '--work-dir', wd,
              *options(mnist_root, 4, 2)])
    return wd


def test_online_preset_trains_and_targets_move(online_run):
    a = load(osp.join(online_run, 'iter_2.pth'))
    b = load(osp.join(online_run, 'iter_4.pth'))
    assert a['ema_target']['steps'] == 2 and b['ema_target']['steps'] == 4
    for prefix in ('student.target_net.module.', 'teacher.target_net.module.'):
        keys = [k for k in a['state_dict'] if k.startswith(prefix)
                and a['state_dict'][k].is_floating_point()]
        assert keys
        assert any(not torch.equal(a['state_dict'][k], b['state_dict'][k])
                   for k in keys), f'{prefix} never moved'


def test_resume_restores_both_ema_targets_and_hook_state(online_run, tmp_path,
                                                         mnist_root):
    wd = str(tmp_path / 'resumed')
    out = run_tool([PY, 'tools/train.py', ON_CFG, '--work-dir', wd,
                    '--resume', osp.join(online_run, 'iter_2.pth'),
                    *options(mnist_root, 4, 2)])
    assert 'at step 2' in out  # the hook's state came back from iter_2.pth
    full, resumed = scalars(online_run), scalars(wd)
    assert sorted(resumed) == [3, 4]
    for it in (3, 4):
        assert resumed[it]['ema_decay'] == full[it]['ema_decay']
        assert resumed[it]['loss'] == pytest.approx(full[it]['loss'],
                                                    rel=1e-5), it
    a = load(osp.join(online_run, 'iter_4.pth'))
    b = load(osp.join(wd, 'iter_4.pth'))
    assert a['ema_target'] == b['ema_target']
    targets = [k for k in a['state_dict'] if '.target_net.' in k]
    assert any(k.startswith('student.') for k in targets)
    assert any(k.startswith('teacher.') for k in targets)
    for k in a['state_dict']:
        assert torch.allclose(a['state_dict'][k].double(),
                              b['state_dict'][k].double(), atol=1e-6), k


def test_resume_from_a_checkpoint_without_ema_state_fails(
        online_run, tmp_path, mnist_root):
    ckpt = load(osp.join(online_run, 'iter_2.pth'))
    del ckpt['ema_target']
    bad = str(tmp_path / 'no_ema.pth')
    torch.save(ckpt, bad)
    with pytest.raises(AssertionError, match='holds no EMA state'):
        run_tool([PY, 'tools/train.py', ON_CFG, '--work-dir',
                  str(tmp_path / 'r'), '--resume', bad,
                  *options(mnist_root, 4, 2)])


def test_export_tool_writes_the_student_backbone(online_run, tmp_path):
    out = str(tmp_path / 'backbone.pth')
    run_tool([PY, 'tools/export_backbone.py',
              osp.join(online_run, 'iter_4.pth'), out])
    exported = torch.load(out, weights_only=True)['state_dict']
    state = load(osp.join(online_run, 'iter_4.pth'))['state_dict']
    own = {k[len('student.backbone.'):]: v for k, v in state.items()
           if k.startswith('student.backbone.')}
    assert set(exported) == set(own)
    assert all(torch.equal(exported[k], own[k]) for k in own)


def test_linear_probe_config_on_the_exported_backbone(online_run, tmp_path,
                                                      mnist_root):
    backbone = str(tmp_path / 'backbone.pth')
    run_tool([PY, 'tools/export_backbone.py',
              osp.join(online_run, 'iter_4.pth'), backbone])
    wd = str(tmp_path / 'probe')
    out = run_tool([
        PY, 'tools/train.py',
        'configs/simdis/linear_probe_simdis_r18w8_mnist5k.py',
        '--work-dir', wd, '--cfg-options',
        f'model.backbone.init_cfg.checkpoint={backbone}',
        f'train_dataloader.dataset.data_root={mnist_root}',
        f'val_dataloader.dataset.data_root={mnist_root}',
        'train_dataloader.num_workers=0', 'val_dataloader.num_workers=0',
        'train_cfg.max_iters=2', 'train_cfg.val_interval=2'])
    assert 'accuracy/top1' in out
    # the backbone stayed frozen at the exported weights
    exported = torch.load(backbone, weights_only=True)['state_dict']
    state = load(osp.join(wd, 'iter_2.pth'))['state_dict']
    for k, v in exported.items():
        assert torch.equal(state['backbone.' + k], v), k


def test_online_7v_two_processes_gloo(tmp_path, mnist_root):
    """DDP with find_unused_parameters=False: every trainable parameter of
    both pairs and all seven predictors gets a gradient in every step."""
    import socket
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    wd = str(tmp_path / 'dist')
    out = run_tool(['bash', 'tools/dist_train.sh', ON7V_CFG, '2',
                    '--work-dir', wd, *options(mnist_root, 2)],
                   env=dict(PYTHON=PY, PORT=str(port)))
    assert 'Distributed training: True' in out
    assert sorted(scalars(wd)) == [1, 2]
    assert load(osp.join(wd, 'iter_2.pth'))['ema_target']['steps'] == 2
