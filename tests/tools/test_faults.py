"""Fault cases through the tools, as a careless or unlucky user meets them
(issue 18): each asserts the message or the recovery. Every test starts
processes, on the embedded MNIST-5k configs with a few steps.

Guarantees and the tests that show them: docs/reliability.md.
"""
import glob
import os
import os.path as osp
import random
import resource
import shutil
import signal
import socket
import subprocess
import time

import pytest
import torch
from helpers import PY, ROOT, load_ckpt, run_tool, save_random_weights
from helpers.seed import moco_checkpoint
from helpers.ssld import ssld_demo_options
from mmengine.config import Config
from PIL import Image

pytestmark = pytest.mark.slow

SSLD_CFG = 'configs/ssld/ssld_r18w4_r18w16_mnist5k.py'
SEED_CFG = 'configs/seed/seed_r18w8_mocov2r18w16_mnist5k.py'


def ssld_options(root, teacher, iters=6, ckpt_every=2, keep=1, extra=()):
    return ssld_demo_options(root, teacher, iters, ckpt_every, keep, extra)


def env():
    return dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='1')


def run_fails(args, preexec_fn=None, timeout=600):
    """Run a command that must fail; its output."""
    proc = subprocess.run(args, cwd=ROOT, env=env(), timeout=timeout,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, preexec_fn=preexec_fn)
    assert proc.returncode != 0, f'{args} succeeded:\n{proc.stdout[-4000:]}'
    return proc.stdout


def one_line(text):
    """The output with wrapped lines joined (mmengine wraps nothing; the
    tracebacks' final message is one line)."""
    return ' '.join(text.split())


@pytest.fixture(scope='module')
def teacher(ssld_demo_teacher):
    return ssld_demo_teacher


@pytest.fixture(scope='module')
def ssld_run(tmp_path_factory, mnist_root, teacher):
    """Six SSLD steps, checkpoints at 2, 4, 6 (two kept)."""
    wd = str(tmp_path_factory.mktemp('ssld'))
    out = run_tool([PY, 'tools/train.py', SSLD_CFG, '--work-dir', wd,
                    *ssld_options(mnist_root, teacher, keep=2)])
    return wd, out


# ------------------------------------------------------------------ NaN


def test_non_finite_loss_stops_the_run_before_it_is_saved(
        tmp_path, mnist_root, teacher):
    wd = str(tmp_path / 'nan')
    out = run_fails([PY, 'tools/train.py', SSLD_CFG, '--work-dir', wd,
                     *ssld_options(mnist_root, teacher, ckpt_every=1,
                                   keep=10, extra=[
                                       'optim_wrapper.optimizer.lr=1e10'])])
    msg = one_line(out)
    assert 'FloatingPointError: non-finite loss at iteration' in msg
    assert 'loss_ssld=' in msg and 'learning rate' in msg
    saved = glob.glob(osp.join(wd, 'iter_*.pth'))
    assert not osp.isfile(osp.join(wd, 'iter_6.pth'))
    for path in saved:  # whatever was saved is finite
        state = load_ckpt(path)['state_dict']
        assert all(torch.isfinite(v).all() for v in state.values()
                   if v.is_floating_point()), path


# ----------------------------------------------------- kills and resume


def checkpoints_all_whole(wd):
    """Every iter_N.pth under its final name loads (none half-written)."""
    for path in glob.glob(osp.join(wd, 'iter_*.pth')):
        load_ckpt(path)


def test_kill_at_random_moments_then_resume_every_time(
        tmp_path, mnist_root, teacher):
    """SIGKILL during training with a save every step and one checkpoint
    kept: half the kills at the moment a checkpoint is being written (its
    .tmp seen), half at a random moment; after each, every checkpoint on
    disk loads and --resume continues; the last run finishes."""
    rng = random.Random(18)
    wd = str(tmp_path / 'killed')
    iters = 60
    args = [PY, 'tools/train.py', SSLD_CFG, '--work-dir', wd,
            *ssld_options(mnist_root, teacher, iters=iters, ckpt_every=1,
                          keep=1)]
    log = tmp_path / 'log.txt'
    mid_save_kills = 0
    for attempt in range(6):
        with open(log, 'w') as f:
            proc = subprocess.Popen(args + (['--resume'] if attempt else []),
                                    cwd=ROOT, env=env(), stdout=f,
                                    stderr=subprocess.STDOUT)
        deadline = time.time() + 300
        while 'Iter(train)' not in log.read_text():  # resumed and training
            assert proc.poll() is None, log.read_text()[-4000:]
            assert time.time() < deadline, 'no training step in 300 s'
            time.sleep(0.05)
        if attempt % 2:  # at a random moment
            time.sleep(rng.uniform(0, 1.0))
        else:  # while a checkpoint is being written
            end = time.time() + 5
            while not glob.glob(osp.join(wd, '*.tmp')) and time.time() < end:
                time.sleep(0.0005)
            mid_save_kills += bool(glob.glob(osp.join(wd, '*.tmp')))
        assert proc.poll() is None, 'the run ended before it was killed'
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        checkpoints_all_whole(wd)
    assert mid_save_kills >= 1  # at least one kill hit a save
    out = run_tool(args + ['--resume'])
    assert 'resumed epoch' in out
    assert osp.isfile(osp.join(wd, f'iter_{iters}.pth'))
    assert not glob.glob(osp.join(wd, '*.tmp'))


def test_resume_passes_over_a_damaged_newest_checkpoint(
        ssld_run, tmp_path, mnist_root, teacher):
    wd = str(tmp_path / 'damaged')
    shutil.copytree(ssld_run[0], wd)
    newest = osp.join(wd, 'iter_6.pth')
    data = open(newest, 'rb').read()
    with open(newest, 'wb') as f:
        f.write(data[:len(data) // 3])  # cut, as a full disk leaves it
    with open(osp.join(wd, 'last_checkpoint'), 'w') as f:
        f.write(newest)
    out = run_tool([PY, 'tools/train.py', SSLD_CFG, '--work-dir', wd,
                    '--resume', *ssld_options(mnist_root, teacher, iters=8,
                                              keep=2)])
    assert f'--resume: passing over {newest}' in out
    assert f'resuming from {osp.join(wd, "iter_4.pth")}' in out
    assert 'resumed epoch: 0, iter: 4' in out
    # the run length changed on the command line: the schedule scaled alike
    assert 'train_cfg.max_iters 1000 -> 8: param_scheduler scaled' in out
    assert 'CosineAnnealingLR [100, 1000) T_max 900 -> [1, 8) T_max 7' in out
    assert load_ckpt(osp.join(wd, 'iter_8.pth'))['meta']['iter'] == 8


# ------------------------------------------------- checkpoints that do not fit


def test_test_tool_refuses_checkpoint_without_student(
        ssld_run, tmp_path, mnist_root, teacher):
    wd, _ = ssld_run
    ckpt = load_ckpt(osp.join(wd, 'iter_6.pth'))
    plain = str(tmp_path / 'no_student.pth')
    torch.save(dict(meta=ckpt['meta'], state_dict={
        k[len('student.'):]: v for k, v in ckpt['state_dict'].items()}),
        plain)
    out = one_line(run_fails([
        PY, 'tools/test.py', SSLD_CFG, plain, '--work-dir',
        str(tmp_path / 'test'), *ssld_options(mnist_root, teacher)]))
    assert f'{plain} does not fit the model of ' \
        'ssld_r18w4_r18w16_mnist5k.py: no student.* keys' in out
    assert 'accuracy/top1' not in out  # nothing was evaluated


def test_resume_refuses_checkpoint_of_another_config(
        ssld_run, tmp_path, mnist_root, teacher):
    wd, _ = ssld_run
    other = 'configs/ssld/ssld_r18w8_r18w16_mnist5k.py'  # 1/8 width
    out = one_line(run_fails([
        PY, 'tools/train.py', other, '--work-dir', str(tmp_path / 'o'),
        '--resume', osp.join(wd, 'iter_6.pth'),
        *ssld_options(mnist_root, teacher)]))
    assert 'does not fit the model of ssld_r18w8_r18w16_mnist5k.py' in out
    assert 'keys with another shape: student.backbone.' in out
    assert 'must match' not in out  # not the optimizer's late error


def test_seed_resume_with_another_queue_length_is_refused(
        tmp_path, mnist_root):
    moco = str(tmp_path / 'moco.pth')
    moco_checkpoint(moco, width=16, out=128)
    opts = ['--cfg-options', f'model.teacher_ckpt={moco}',
            f'train_dataloader.dataset.data_root={mnist_root}',
            'train_dataloader.batch_size=8', 'train_dataloader.num_workers=0',
            'train_cfg.max_iters=2', 'default_hooks.checkpoint.interval=2']
    wd = str(tmp_path / 'seed')
    run_tool([PY, 'tools/train.py', SEED_CFG, '--work-dir', wd, *opts,
              'model.queue.K=32'])
    out = one_line(run_fails([
        PY, 'tools/train.py', SEED_CFG, '--work-dir', wd, '--resume',
        *opts, 'model.queue.K=64', 'train_cfg.max_iters=4']))
    assert 'queue.queue: checkpoint (32, 128) vs model (64, 128)' in out


def test_seed_too_few_images_for_one_batch(tmp_path, mnist_root):
    moco = str(tmp_path / 'moco.pth')
    moco_checkpoint(moco, width=16, out=128)
    out = one_line(run_fails([
        PY, 'tools/train.py', SEED_CFG, '--work-dir', str(tmp_path / 's'),
        '--cfg-options', f'model.teacher_ckpt={moco}',
        f'train_dataloader.dataset.data_root={mnist_root}',
        'train_dataloader.batch_size=256', 'train_dataloader.num_workers=0',
        'model.queue.K=1024', 'train_cfg.max_iters=2']))
    assert 'train_dataloader gives no batch: its dataset has 200 images, ' \
        'fewer than batch_size=256, and drop_last=True' in out
    assert 'StopIteration' not in out


# ---------------------------------------------------------------- export


def test_export_refuses_its_input_and_asks_before_overwriting(
        ssld_run, tmp_path):
    wd, _ = ssld_run
    ckpt = str(tmp_path / 'iter_6.pth')
    shutil.copy(osp.join(wd, 'iter_6.pth'), ckpt)
    before = open(ckpt, 'rb').read()
    os.symlink(ckpt, tmp_path / 'same.pth')
    for out in (ckpt, str(tmp_path / '.' / 'iter_6.pth'),
                str(tmp_path / 'same.pth')):
        msg = one_line(run_fails([PY, 'tools/export_backbone.py', ckpt, out,
                                  '--force']))
        assert 'is the input checkpoint' in msg
    assert open(ckpt, 'rb').read() == before
    out = str(tmp_path / 'backbone.pth')
    run_tool([PY, 'tools/export_backbone.py', ckpt, out])
    first = open(out, 'rb').read()
    msg = run_fails([PY, 'tools/export_backbone.py', ckpt, out])
    assert f'{out} exists; pass --force to replace it' in msg
    assert open(out, 'rb').read() == first
    run_tool([PY, 'tools/export_backbone.py', ckpt, out, '--force'])


def test_export_input_file_errors_name_the_file(tmp_path, ssld_run):
    wd, _ = ssld_run
    empty = tmp_path / 'empty.pth'
    empty.write_bytes(b'')
    text = tmp_path / 'notes.pth'
    text.write_text('<html>Not Found</html>\n')
    cut = tmp_path / 'cut.pth'
    data = open(osp.join(wd, 'iter_6.pth'), 'rb').read()
    cut.write_bytes(data[:len(data) // 2])
    for bad in (empty, text, cut):
        out = str(tmp_path / f'{bad.stem}_out.pth')
        msg = run_fails([PY, 'tools/export_backbone.py', str(bad), out])
        last = msg.strip().splitlines()[-1]  # the error, not a frame
        assert str(bad) in last, msg[-3000:]
        assert not osp.exists(out) and not osp.exists(out + '.tmp')


def test_export_to_a_full_disk_leaves_no_partial_file(tmp_path, ssld_run):
    """A file-size limit (RLIMIT_FSIZE) stands in for a full disk: the
    write fails part-way like on a full file system."""
    wd, _ = ssld_run
    out = str(tmp_path / 'backbone.pth')

    def small_files():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG, not a kill
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))

    msg = one_line(run_fails([PY, '-B', 'tools/export_backbone.py',
                              osp.join(wd, 'iter_6.pth'), out],
                             preexec_fn=small_files))
    assert f'could not write {out}' in msg and 'Nothing was written' in msg
    assert os.listdir(tmp_path) == []


# ------------------------------------------------------------------ data


@pytest.fixture
def data_copy(tmp_path, mnist_root):
    root = tmp_path / 'mnist'
    shutil.copytree(mnist_root, root)
    return root


def test_image_of_another_size_in_val_found_before_training(
        data_copy, tmp_path, teacher):
    odd = sorted((data_copy / 'val' / '3').iterdir())[0]
    Image.new('L', (32, 32)).save(odd)
    out = one_line(run_fails([
        PY, 'tools/train.py', SSLD_CFG, '--work-dir', str(tmp_path / 'w'),
        *ssld_options(str(data_copy), teacher)]))
    assert 'the images of val_dataloader (CustomDataset' in out
    assert f'are 28x28, 1 are not: {odd} (32x32)' in out
    assert 'Iter(train)' not in out  # before the first step


def test_damaged_training_image_found_before_training(
        data_copy, tmp_path, teacher):
    bad = sorted((data_copy / 'unlabeled').iterdir())[5]
    bad.write_bytes(bad.read_bytes()[:30])  # truncated PNG
    out = one_line(run_fails([
        PY, 'tools/train.py', SSLD_CFG, '--work-dir', str(tmp_path / 'w'),
        *ssld_options(str(data_copy), teacher)]))
    assert '1 of the 200 images of train_dataloader' in out
    assert f'{bad} (' in out
    assert 'Iter(train)' not in out


# ------------------------------------------------------------ launching


def test_taken_port_is_reported():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        s.listen()
        port = s.getsockname()[1]
        proc = subprocess.run(
            ['bash', 'tools/dist_train.sh', SSLD_CFG, '2'], cwd=ROOT,
            env=dict(env(), PORT=str(port), PYTHON=PY), text=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
    assert proc.returncode != 0
    assert f'port {port} on 127.0.0.1 is taken' in proc.stdout
    assert f'PORT={port + 1} bash tools/dist_train.sh' in proc.stdout


# ------------------------------------------------------------------ SSKD


def test_sskd_log_names_the_epoch_a_stage_starts(tmp_path, mnist_root):
    cfg = Config.fromfile(osp.join(ROOT, 'configs/sskd/'
                                   'sskd_r18w8_r18w16_mnist5k.py'))
    ckpt = save_random_weights(cfg.model.teacher, str(tmp_path / 't.pth'))
    wd = str(tmp_path / 'sskd')
    out = run_tool([
        PY, 'tools/train.py', 'configs/sskd/sskd_r18w8_r18w16_mnist5k.py',
        '--work-dir', wd, '--no-validate', '--cfg-options',
        f'model.teacher_ckpt={ckpt}',
        f'train_dataloader.dataset.data_root={mnist_root}',
        'train_dataloader.batch_size=50', 'train_dataloader.num_workers=0',
        'custom_hooks.0.epochs_per_stage=2', 'custom_hooks.0.milestones=[1]',
        'custom_hooks.0.head_epochs=1', 'custom_hooks.0.head_milestones=[]',
        'train_cfg.max_epochs=9', 'default_hooks.logger.interval=1'])
    lines = out.splitlines()
    starts = [i for i, line in enumerate(lines) if 'SSKD: starting' in line]
    assert len(starts) == 4  # stages 2, 3, 4 and the head phase
    for i in starts:
        epoch = lines[i].split(' at epoch ')[1].split(';')[0]
        following = next(line for line in lines[i:]
                         if 'Epoch(train)' in line)
        assert f'Epoch(train)  [{epoch}]' in following or \
            f'Epoch(train) [{epoch}]' in following, (lines[i], following)
