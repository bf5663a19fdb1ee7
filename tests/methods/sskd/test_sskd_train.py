"""SSKD through tools/train.py: the stage schedule, resume, errors, DDP."""
import glob
import json
import os.path as osp

import pytest
import torch
from helpers import (
    PY,
    ROOT,
    free_port,
    load_ckpt,
    run_tool,
    save_random_weights,
)
from mmengine.config import Config

pytestmark = pytest.mark.slow

CFG = 'configs/sskd/sskd_r18w8_r18w16_mnist5k.py'
# 4 stages x 2 epochs (lr x0.1 after 1) + 2 head epochs = 10 epochs of
# 7 steps (100 labeled digits, batch 16)
SCHEDULE = ['optim_wrapper.optimizer.lr=0.01',
            'custom_hooks.0.epochs_per_stage=2',
            'custom_hooks.0.milestones=[1]',
            'custom_hooks.0.head_epochs=2',
            'custom_hooks.0.head_milestones=[1]',
            'train_cfg.max_epochs=10', 'train_cfg.val_begin=9']


def options(root, teacher, extra=()):
    return ['--cfg-options', f'model.teacher_ckpt={teacher}',
            f'train_dataloader.dataset.data_root={root}',
            f'val_dataloader.dataset.data_root={root}',
            f'test_dataloader.dataset.data_root={root}',
            'train_dataloader.batch_size=16', 'train_dataloader.num_workers=0',
            'val_dataloader.num_workers=0', 'default_hooks.logger.interval=1',
            'log_processor.window_size=1',  # log each step, unsmoothed
            'default_hooks.checkpoint.max_keep_ckpts=20', *SCHEDULE, *extra]


def scalars(work_dir):
    files = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    assert len(files) == 1, files
    with open(files[0]) as f:
        return [json.loads(line) for line in f if '"lr"' in line]


@pytest.fixture(scope='module')
def det_cfg(tmp_path_factory):
    """The MNIST config without random augmentation. mmengine's epoch-based
    resume does not replay the finished epochs' data, so the numpy stream of
    random transforms differs after a resume; with a deterministic pipeline
    the comparison isolates what SSKD must restore."""
    path = tmp_path_factory.mktemp('cfg') / 'sskd_det.py'
    path.write_text(
        f"_base_ = ['{osp.join(ROOT, CFG)}']\n"
        "train_dataloader = dict(dataset=dict(pipeline=["
        "dict(type='LoadImageFromFile'), dict(type='PackInputs')]))\n")
    return str(path)


@pytest.fixture(scope='module')
def teacher(tmp_path_factory):
    cfg = Config.fromfile(osp.join(ROOT, CFG))
    return save_random_weights(cfg.model.teacher, str(
        tmp_path_factory.mktemp('sskd_teacher') / 't.pth'))


@pytest.fixture(scope='module')
def full_run(tmp_path_factory, mnist_root, teacher, det_cfg):
    wd = str(tmp_path_factory.mktemp('sskd_full'))
    out = run_tool([PY, 'tools/train.py', det_cfg, '--work-dir', wd,
                    *options(mnist_root, teacher)])
    return wd, out


def test_schedule_runs_every_stage_then_head(full_run):
    wd, out = full_run
    for what in ('stage 2', 'stage 3', 'stage 4', 'head phase'):
        assert f'SSKD: starting {what}' in out
    recs = scalars(wd)
    assert len(recs) == 70
    # the trained loss is stage k's for epochs 2k-1 and 2k, then the head's;
    # each step logs the running phase's losses only
    for rec in recs:
        epoch = (rec['iter'] - 1) // 7  # 0-based
        logged = {k for k in rec if k.startswith(('loss_', 'dist_'))}
        if epoch < 8:
            k = epoch // 2 + 1
            assert rec['loss'] == pytest.approx(rec[f'loss_stage{k}'])
            assert logged == {f'loss_stage{k}'} | {
                f'dist_stage{j}' for j in range(1, k)}, rec['iter']
        else:
            assert logged == set(), rec['iter']
    # lr: 0.01 then x0.1 inside every stage, reset at each boundary; head 0.1
    lrs = [r['lr'] for r in recs[::7]]
    assert lrs == pytest.approx([0.01, 0.001] * 4 + [0.1, 0.01])
    assert 'accuracy/top1' in out


def test_frozen_stages_bit_identical_in_a_real_run(full_run):
    wd, _ = full_run
    a = load_ckpt(osp.join(wd, 'epoch_4.pth'))['state_dict']  # stages 1-2 done
    b = load_ckpt(osp.join(wd, 'epoch_6.pth'))['state_dict']  # after stage 3
    frozen = [k for k in a if k.startswith(('student.backbone.conv1',
                                            'student.backbone.bn1',
                                            'student.backbone.layer1',
                                            'student.backbone.layer2',
                                            'student.backbone.layer4'))]
    assert frozen
    for k in frozen:
        assert torch.equal(a[k], b[k]), k
    assert any(not torch.equal(a[k], b[k]) for k in a
               if k.startswith('student.backbone.layer3'))


@pytest.mark.parametrize('epoch', [3, 4, 9], ids=['mid-stage',
                                                  'between-stages', 'head'])
def test_resume_is_exact(full_run, tmp_path, mnist_root, teacher, epoch,
                         det_cfg):
    wd_full, _ = full_run
    wd = str(tmp_path / 'resumed')
    out = run_tool([PY, 'tools/train.py', det_cfg, '--work-dir', wd,
                    '--resume', osp.join(wd_full, f'epoch_{epoch}.pth'),
                    *options(mnist_root, teacher)])
    assert 'is not defined in message_hub' not in out  # nothing stale saved
    full = {r['iter']: r for r in scalars(wd_full)}
    resumed = scalars(wd)
    assert resumed[0]['iter'] == epoch * 7 + 1
    for r in resumed:
        f = full[r['iter']]
        assert r['lr'] == pytest.approx(f['lr'])
        assert r['loss'] == pytest.approx(f['loss'], rel=1e-4, abs=1e-6)
        assert set(r) == set(f)  # the same keys logged
    a = load_ckpt(osp.join(wd_full, 'epoch_10.pth'))['state_dict']
    b = load_ckpt(osp.join(wd, 'epoch_10.pth'))['state_dict']
    for k in a:
        assert torch.allclose(a[k].float(), b[k].float(), atol=1e-5), k


def test_multi_loss_from_the_same_config(tmp_path, mnist_root, teacher):
    wd = str(tmp_path / 'multi')
    run_tool([PY, 'tools/train.py', CFG, '--work-dir', wd,
              *options(mnist_root, teacher, ['model.mode=multi_loss'])])
    recs = scalars(wd)
    assert all(f'loss_stage{i}' in recs[0] for i in (1, 2, 3, 4))
    lrs = [r['lr'] for r in recs[::7]]  # one phase of 8 epochs, x0.1 at 4
    assert lrs == pytest.approx([0.01] * 4 + [0.001] * 4 + [0.1, 0.01])


def test_resume_from_another_config_is_refused(full_run, tmp_path,
                                               mnist_root, teacher):
    wd_full, _ = full_run
    with pytest.raises(AssertionError, match='another configuration'):
        run_tool([PY, 'tools/train.py', CFG, '--work-dir', str(tmp_path),
                  '--resume', osp.join(wd_full, 'epoch_3.pth'),
                  *options(mnist_root, teacher, ['model.mode=multi_loss'])])


def test_wrong_total_epochs_is_refused(tmp_path, mnist_root, teacher):
    with pytest.raises(AssertionError, match='needs 10'):
        run_tool([PY, 'tools/train.py', CFG, '--work-dir', str(tmp_path),
                  *options(mnist_root, teacher, ['train_cfg.max_epochs=12'])])


def test_plateau_schedule_advances_and_stops(tmp_path, mnist_root, teacher):
    wd = str(tmp_path / 'plateau')
    out = run_tool([PY, 'tools/train.py', CFG, '--work-dir', wd,
                    *options(mnist_root, teacher, [
                        'custom_hooks.0.schedule=plateau',
                        'custom_hooks.0.min_lr=0.001',
                        'custom_hooks.0.max_epochs_per_stage=2',
                        'train_cfg.max_epochs=40'])])
    assert 'SSKD: starting head phase' in out
    recs = scalars(wd)
    # at most 2 epochs per stage, 2 head epochs, then the hook stops the run
    assert len(recs) <= (4 * 2 + 2) * 7
    assert recs[-1]['iter'] % 7 == 0


def test_two_process_gloo_keeps_frozen_stages(tmp_path, mnist_root, teacher):
    wd = str(tmp_path / 'dist')
    out = run_tool(['bash', 'tools/dist_train.sh', CFG, '2', '--work-dir', wd,
                    *options(mnist_root, teacher)],
                   env=dict(PYTHON=PY, PORT=str(free_port())))
    assert 'Distributed training: True' in out
    a = load_ckpt(osp.join(wd, 'epoch_4.pth'))['state_dict']
    b = load_ckpt(osp.join(wd, 'epoch_6.pth'))['state_dict']
    for k in a:
        if k.startswith(('student.backbone.layer1',
                         'student.backbone.layer2')):
            assert torch.equal(a[k], b[k]), k


def test_stage_curves_png(full_run, tmp_path):
    wd, _ = full_run
    out = str(tmp_path / 'stages.png')
    printed = run_tool([PY, 'tools/plot_curves.py', wd, '--keys',
                        'loss_stage', 'dist_stage', '--out', out])
    for i in (1, 2, 3, 4):
        assert f'loss_stage{i}' in printed
    assert 'dist_stage1' in printed
    with open(out, 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'
