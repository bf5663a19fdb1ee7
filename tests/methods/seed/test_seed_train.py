"""SEED end to end through tools/train.py on the embedded MNIST-5k config:
resume restores the queue exactly, and a 2-process gloo run fills the queue
exactly as one process fed the same global batches.

The runs use a deterministic pipeline (no random augmentation) so that the
teacher embeddings of an image do not depend on which process, or which
random state, loaded it; the teacher runs in eval mode, so an embedding does
not depend on the rest of its batch either.
"""
import os.path as osp

import pytest
import torch
from helpers import PY, ROOT, free_port, load_ckpt, logged_losses, run_tool
from helpers.seed import moco_checkpoint

pytestmark = pytest.mark.slow

SEED_CFG = osp.join(ROOT, 'configs/seed/seed_r18w8_mocov2r18w16_mnist5k.py')
K, GLOBAL_BATCH, ITERS = 32, 8, 5


def write_config(tmp_path, root, teacher_ckpt, batch_size):
    path = tmp_path / f'seed_test_b{batch_size}.py'
    path.write_text(f"""
_base_ = [{SEED_CFG!r}]
train_dataloader = dict(
    batch_size={batch_size}, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=True, seed=0),
    dataset=dict(data_root={root!r},
                 pipeline=[dict(type='LoadImageFromFile'),
                           dict(type='PackInputs')]))
model = dict(teacher_ckpt={teacher_ckpt!r},
             queue=dict(type='SEEDQueue', K={K}, dim=128))
train_cfg = dict(max_iters={ITERS})
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval=2, max_keep_ckpts=5))
""")
    return str(path)


@pytest.fixture(scope='module')
def setup(tmp_path_factory, mnist_root):
    tmp = tmp_path_factory.mktemp('seed')
    moco = str(tmp / 'moco.pth')
    moco_checkpoint(moco, width=16, out=128)  # the teacher config's MoCo
    one = write_config(tmp, mnist_root, moco, GLOBAL_BATCH)
    two = write_config(tmp, mnist_root, moco, GLOBAL_BATCH // 2)
    return tmp, one, two


@pytest.fixture(scope='module')
def single_run(setup):
    tmp, one, _ = setup
    wd = str(tmp / 'single')
    run_tool([PY, 'tools/train.py', one, '--work-dir', wd])
    return wd


def queue_state(work_dir, it):
    state = load_ckpt(osp.join(work_dir, f'iter_{it}.pth'))['state_dict']
    return {k[len('queue.'):]: v for k, v in state.items()
            if k.startswith('queue.')}


def test_single_process_run_fills_the_queue(single_run):
    losses = logged_losses(single_run)
    assert sorted(losses) == list(range(1, ITERS + 1))
    q2, q5 = queue_state(single_run, 2), queue_state(single_run, ITERS)
    # warm fill (K rows) then one block of GLOBAL_BATCH rows per step
    assert int(q2['num_enqueued']) == K + 2 * GLOBAL_BATCH
    assert int(q5['num_enqueued']) == K + ITERS * GLOBAL_BATCH
    assert int(q5['ptr']) == ITERS * GLOBAL_BATCH % K  # wrapped around
    assert torch.allclose(q5['queue'].norm(dim=1), torch.ones(K))
    # between the checkpoints steps 3, 4, 5 overwrote blocks 2, 3, 0;
    # block 1 still holds step 2's rows
    blocks2, blocks5 = q2['queue'].view(4, 8, -1), q5['queue'].view(4, 8, -1)
    assert torch.equal(blocks2[1], blocks5[1])
    assert not any(torch.equal(blocks2[b], blocks5[b]) for b in (0, 2, 3))
    state = load_ckpt(osp.join(single_run, 'iter_5.pth'))['state_dict']
    assert {k.split('.')[0] for k in state} == {'student', 'queue'}
    assert any(k.startswith('student.backbone.') for k in state)


def test_resume_restores_the_queue_exactly(setup, single_run):
    tmp, one, _ = setup
    wd = str(tmp / 'resumed')
    run_tool([PY, 'tools/train.py', one, '--work-dir', wd, '--resume',
              osp.join(single_run, 'iter_2.pth')])
    full, resumed = logged_losses(single_run), logged_losses(wd)
    assert sorted(resumed) == [3, 4, 5]
    for it in (3, 4, 5):
        assert resumed[it] == pytest.approx(full[it], rel=1e-5), it
    a, b = queue_state(single_run, ITERS), queue_state(wd, ITERS)
    # no second warm fill, and the rows written before the resume survive
    assert int(b['num_enqueued']) == int(a['num_enqueued'])
    assert int(b['ptr']) == int(a['ptr'])
    assert torch.equal(a['queue'], b['queue'])


def test_two_processes_fill_the_queue_like_one(setup, single_run):
    tmp, _, two = setup
    wd = str(tmp / 'dist')
    out = run_tool(['bash', 'tools/dist_train.sh', two, '2', '--work-dir',
                    wd], env=dict(PYTHON=PY, PORT=str(free_port())))
    assert 'Distributed training: True' in out
    # DistributedSampler: process r takes items r, r+2, ... of the seeded
    # permutation, so one global batch holds the same 8 images as the
    # single-process batch, gathered as [rank 0's 4, rank 1's 4]: position
    # p of a block holds single-process position ORDER[p].
    order = [0, 2, 4, 6, 1, 3, 5, 7]
    for it in (2, ITERS):
        dist, single = queue_state(wd, it), queue_state(single_run, it)
        assert int(dist['ptr']) == int(single['ptr'])
        assert int(dist['num_enqueued']) == int(single['num_enqueued'])
        d = dist['queue'].view(K // 8, 8, -1)
        s = single['queue'].view(K // 8, 8, -1)
        written = min(it, K // 8)  # blocks written by steps
        fresh = [b for b in range(K // 8) if b >= written] if it < K // 8 \
            else []
        for blk in range(K // 8):
            if blk in fresh:  # warm-filled rows: items 0..K-1 in order
                assert torch.allclose(d[blk], s[blk], atol=1e-5), (it, blk)
            else:
                assert torch.allclose(d[blk], s[blk][order], atol=1e-5), \
                    (it, blk)
                assert not torch.allclose(d[blk], s[blk], atol=1e-3)


def test_queue_length_not_dividing_the_global_batch_fails(setup, tmp_path):
    _, one, _ = setup
    with pytest.raises(AssertionError, match=r'K=36 is not a multiple of the '
                       r'global batch \(batch_size 8 x 1 processes\)'):
        run_tool([PY, 'tools/train.py', one, '--work-dir',
                  str(tmp_path / 'bad'), '--cfg-options',
                  'model.queue.K=36'])


def test_export_then_linear_probe(single_run, tmp_path, mnist_root):
    backbone = str(tmp_path / 'backbone.pth')
    run_tool([PY, 'tools/export_backbone.py',
              osp.join(single_run, f'iter_{ITERS}.pth'), backbone])
    wd = str(tmp_path / 'probe')
    out = run_tool([
        PY, 'tools/train.py',
        'configs/seed/linear_probe_seed_r18w8_mnist5k.py',
        '--work-dir', wd, '--cfg-options',
        f'model.backbone.init_cfg.checkpoint={backbone}',
        f'train_dataloader.dataset.data_root={mnist_root}',
        f'val_dataloader.dataset.data_root={mnist_root}',
        'train_dataloader.num_workers=0', 'val_dataloader.num_workers=0',
        'train_cfg.max_iters=3', 'train_cfg.val_interval=3',
        'default_hooks.checkpoint.interval=3'])
    assert 'accuracy/top1' in out
    exported = torch.load(backbone, weights_only=True)['state_dict']
    probed = load_ckpt(osp.join(wd, 'iter_3.pth'))['state_dict']
    # the frozen backbone (BN statistics included) never moved
    for k, v in exported.items():
        assert torch.equal(probed['backbone.' + k], v), k


def test_imagenet_config_then_linear_probe(imagenet_root, tmp_path):
    """configs/seed/seed_r18_mocov2r50_imagenet.py as written (MoCo-v2 augment,
    epoch loop, warm fill, the MoCo key map) on ImageNet-format data, then
    the linear probe on mmpretrain's benchmark with the exported backbone.
    Only paths, batch, K and epochs change; the teacher is random."""
    from mmengine.config import Config
    from mmengine.registry import DefaultScope

    from kd_plugins.registry import MODELS
    cfg_file = 'configs/seed/seed_r18_mocov2r50_imagenet.py'
    with DefaultScope.overwrite_default_scope('kd_plugins'):
        teacher = MODELS.build(Config.fromfile(cfg_file).model.teacher)
    # the layout mmpretrain's MoCo writes (query encoder + MoCo's queue)
    state = {('neck.' + k[len('head.'):] if k.startswith('head.') else k): v
             for k, v in teacher.state_dict().items()}
    state.update(queue=torch.zeros(128, 16), queue_ptr=torch.zeros(1))
    ckpt = str(tmp_path / 'mocov2_r50.pth')
    torch.save(dict(state_dict=state), ckpt)
    wd = str(tmp_path / 'seed')
    out = run_tool([
        PY, 'tools/train.py', cfg_file, '--work-dir', wd, '--cfg-options',
        f'model.teacher_ckpt={ckpt}', 'model.queue.K=8',
        f'train_dataloader.dataset.data_root={imagenet_root}',
        'train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
        'train_cfg.max_epochs=1', 'default_hooks.logger.interval=1',
        'default_hooks.checkpoint.interval=1'])
    assert 'loss_seed' in out
    queue = {k: v for k, v in load_ckpt(osp.join(wd, 'epoch_1.pth'))
             ['state_dict'].items() if k.startswith('queue.')}
    assert int(queue['queue.num_enqueued']) == 8 + 3 * 2  # fill + 3 steps
    backbone = str(tmp_path / 'backbone.pth')
    run_tool([PY, 'tools/export_backbone.py', osp.join(wd, 'epoch_1.pth'),
              backbone])
    out = run_tool([
        PY, 'tools/train.py', 'configs/seed/linear_probe_r18_imagenet.py',
        '--work-dir', str(tmp_path / 'probe'), '--cfg-options',
        f'model.backbone.init_cfg.checkpoint={backbone}',
        f'train_dataloader.dataset.data_root={imagenet_root}',
        f'val_dataloader.dataset.data_root={imagenet_root}',
        'train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
        'val_dataloader.batch_size=2', 'val_dataloader.num_workers=0',
        'train_cfg.max_epochs=1', 'default_hooks.logger.interval=1'])
    assert 'accuracy/top1' in out
