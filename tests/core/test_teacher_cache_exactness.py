"""Training from a teacher cache equals training with the live teacher.

For SSLD, KDEP, SEED and SimDis-Off, on the embedded MNIST-5k configs and
on the ImageNet configs (tiny ImageNet-format data, random teachers): the
same start, the same views in the same order, and the losses step by
step. float32 targets give the live run's losses exactly; float16 targets
within 1e-3. Then through the tools: a killed cache-writing run resumes to
the same bytes, and tools/train.py trains from the cache with no teacher
file at hand."""
import os
import os.path as osp
import signal
import subprocess
import time

import pytest
import torch
from helpers import PY, ROOT, free_port, run_tool
from helpers.imagenet import random_teacher
from helpers.teacher_cache import CONFIGS, files_of, method_setup, sharpen

from kd_plugins.core.teacher_cache.check import compare
from kd_plugins.core.teacher_cache.writer import write_cache

pytestmark = pytest.mark.slow

METHODS = ('SSLD', 'KDEP', 'SEED', 'SimDis')


@pytest.mark.parametrize('method', METHODS)
def test_losses_from_the_cache_equal_the_live_teachers(method, tmp_path,
                                                       mnist_root):
    cfg = method_setup(method, tmp_path, mnist_root)
    exact = str(tmp_path / 'f32')
    write_cache(cfg, exact, epochs=1, shard_batches=4, dtype='float32',
                progress=False)
    cached, live, diffs = compare(cfg, exact, 6)
    assert len(cached) == 6 and cached[0]['loss'] > 0
    assert max(diffs) <= 1e-6, diffs
    half = str(tmp_path / 'f16')
    write_cache(cfg, half, epochs=1, shard_batches=4, progress=False)
    _, _, diffs = compare(cfg, half, 3)
    assert max(diffs) <= 1e-3, diffs


IMAGENET = dict(
    SSLD='configs/ssld/ssld_r18_r34_imagenet.py',
    KDEP='configs/kdep/kdep_r18_r50_imagenet10pct_90e.py',
    SEED='configs/seed/seed_r18_mocov2r50_imagenet.py',
    SimDis='configs/simdis/simdis_off_r18_r50_8xb128-sgd-100e_in1k.py')


def imagenet_options(method, root, tmp_path):
    cfg_file = IMAGENET[method]
    if method == 'SEED':  # the layout mmpretrain's MoCo writes
        from mmengine.config import Config
        from mmengine.registry import DefaultScope

        from kd_plugins.registry import MODELS
        with DefaultScope.overwrite_default_scope('kd_plugins'):
            teacher = MODELS.build(Config.fromfile(
                osp.join(ROOT, cfg_file)).model.teacher)
        state = {('neck.' + k[len('head.'):] if k.startswith('head.')
                  else k): v for k, v in teacher.state_dict().items()}
        state.update(queue=torch.zeros(128, 16), queue_ptr=torch.zeros(1))
        ckpt = str(tmp_path / 'mocov2_r50.pth')
        torch.save(dict(state_dict=state), ckpt)
    else:
        ckpt = random_teacher(cfg_file, tmp_path)
    if method == 'SSLD':
        sharpen(ckpt)  # a random network's softmax is nearly flat
    opts = [f'model.teacher_ckpt={ckpt}', 'train_dataloader.batch_size=2',
            'train_dataloader.num_workers=0']
    if method == 'SSLD':
        opts += [f'train_dataloader.dataset.labeled.data_root={root}',
                 'train_dataloader.dataset.unlabeled.data_root='
                 f'{osp.join(root, "gallery")}',
                 'train_dataloader.dataset.unlabeled.ann_file='
                 f'{osp.join(root, "mined.txt")}']
    else:
        opts.append(f'train_dataloader.dataset.data_root={root}')
    if method == 'SEED':
        opts.append('model.queue.K=8')
    if method == 'KDEP':
        opts.append('train_dataloader.dataset.ann_file=meta/train.txt')
        basis = str(tmp_path / 'basis.pth')
        run_tool([PY, 'tools/kdep_svd.py', cfg_file, '--out', basis,
                  '--checkpoint', ckpt, '--num-workers', '0',
                  '--cfg-options', *opts[-2:]])
        opts.append(f'model.align.basis={basis}')
    return cfg_file, opts


@pytest.mark.parametrize('method', METHODS)
def test_imagenet_config_from_the_cache_through_the_tool(
        method, imagenet_root, tmp_path):
    cfg_file, opts = imagenet_options(method, imagenet_root, tmp_path)
    # SSLD keeps all 1,000 probabilities: the replay is what is checked
    # (what top-k loses: docs/teacher_cache.md)
    topk = ['--topk', '1000'] if method == 'SSLD' else []
    out = run_tool([PY, 'tools/cache_teacher.py', cfg_file, '--epochs', '2',
                    '--out', str(tmp_path / 'cache'), '--check', '2', *topk,
                    '--cfg-options', *opts])
    assert f'teacher cache {tmp_path / "cache"}: {method}, 2 epochs' in out
    line = [ln for ln in out.splitlines()
            if ln.startswith('largest relative difference')][-1]
    assert float(line.split(': ')[1].split()[0]) <= 1e-3, line


def test_killed_writer_resumes_to_the_same_bytes(tmp_path, mnist_root):
    cfg = method_setup('KDEP', tmp_path, mnist_root)
    opts = ['--cfg-options', f'model.teacher_ckpt={cfg.model.teacher_ckpt}',
            f'model.align.basis={cfg.model.align.basis}',
            f'train_dataloader.dataset.data_root={mnist_root}',
            'train_dataloader.batch_size=4',
            'train_dataloader.num_workers=0']
    args = [PY, 'tools/cache_teacher.py', CONFIGS['KDEP'], '--epochs', '3',
            '--shard-batches', '1']
    whole = str(tmp_path / 'whole')
    run_tool(args + ['--out', whole] + opts)
    killed = str(tmp_path / 'killed')
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='1')
    proc = subprocess.Popen(args + ['--out', killed] + opts, cwd=ROOT,
                            env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        done = [d for d in os.listdir(osp.join(killed, 'e0000'))] \
            if osp.isdir(osp.join(killed, 'e0000')) else []
        if len(done) >= 5:
            break
        time.sleep(0.05)
    assert proc.poll() is None, 'the writer finished before it was killed'
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert files_of(killed) != files_of(whole)  # it was cut short
    out = run_tool(args + ['--out', killed] + opts)
    assert 'already written' in out
    assert files_of(killed) == files_of(whole)
    # two processes through torchrun write the same cache
    two = str(tmp_path / 'two')
    out = run_tool(['bash', 'tools/dist_cache_teacher.sh', CONFIGS['KDEP'],
                    '2', '--epochs', '3', '--shard-batches', '1', '--out',
                    two] + opts,
                   env=dict(PYTHON=PY, PORT=str(free_port())))
    assert 'process 1 of 2' in out and 'process 0 of 2' in out
    assert files_of(two) == files_of(whole)
    # the folder holds this cache: writing another one into it is refused
    proc = subprocess.run(args + ['--out', killed, '--seed', '7'] + opts,
                          cwd=ROOT, env=env, capture_output=True, text=True)
    assert proc.returncode != 0
    assert 'already holds a teacher cache made otherwise' in proc.stderr
    assert 'seed: 0 (cache) vs 7 (this run)' in proc.stderr


def test_train_from_the_cache_without_the_teacher_file(tmp_path,
                                                       mnist_root):
    """SEED through tools/train.py: the queue is warm-filled from the
    cache, epochs past the cached ones replay them, said in the log."""
    cfg = method_setup('SEED', tmp_path, mnist_root)
    cache = str(tmp_path / 'cache')
    write_cache(cfg, cache, epochs=2, shard_batches=50, progress=False)
    out = run_tool([
        PY, 'tools/train.py', CONFIGS['SEED'], '--work-dir',
        str(tmp_path / 'wd'), '--cfg-options',
        f'model.teacher_cache={cache}', 'model.teacher_ckpt=/nowhere/t.pth',
        'model.queue.K=32', f'train_dataloader.dataset.data_root={mnist_root}',
        'train_dataloader.batch_size=8', 'train_dataloader.num_workers=1',
        'train_cfg.max_iters=60', 'default_hooks.logger.interval=10'])
    assert 'the teacher is not built' in out
    assert 'is not on this machine' in out
    assert 'epoch 2 is past the 2 cached epochs' in out
    assert 'Iter(train) [60/60]' in out and 'loss_seed' in out


def test_batch_statistics_teacher_across_epochs_of_an_endless_stream(
        tmp_path, mnist_root):
    """SSLD's teacher normalises with batch statistics; with mmengine's
    InfiniteSampler training's batches run across epoch boundaries
    (300 images, batch 8), and the losses still equal the live run's."""
    cfg = method_setup('SSLD', tmp_path, mnist_root)
    cfg.train_dataloader.sampler = dict(type='InfiniteSampler', shuffle=True)
    cache = str(tmp_path / 'f32')
    write_cache(cfg, cache, epochs=2, shard_batches=10, dtype='float32',
                progress=False)
    cached, live, diffs = compare(cfg, cache, 45)  # past the boundary
    assert max(diffs) <= 1e-6, diffs
