"""SEED: loss vs naive reference and golden values, queue FIFO, head, teacher
loading from an mmpretrain MoCo checkpoint, warm-fill hook, build errors."""
import math
import os.path as osp
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from helpers import ROOT
from helpers.seed import (
    moco_checkpoint,
    seed_cfg,
    tiny_encoder,
    unit,
)
from mmengine.config import Config
from mmengine.dataset import InfiniteSampler, default_collate
from mmengine.optim import OptimWrapper
from mmengine.registry import DefaultScope
from mmpretrain.structures import DataSample
from torch.utils.data import DataLoader, Dataset

from kd_plugins.methods.seed import SEEDHead, SEEDQueue, SEEDQueueHook
from kd_plugins.methods.seed.seed_loss import SEEDLoss, seed_loss
from kd_plugins.registry import MODELS


def naive_seed_loss(s, t, Q, tau_t, tau_s):
    """Eq. 4 with python loops over images and queue entries."""
    total = 0.0
    for i in range(s.shape[0]):
        bank = [t[i]] + [Q[j] for j in range(Q.shape[0])]  # D+ = [t; Q]
        sim_t = [float(t[i] @ d) / tau_t for d in bank]
        sim_s = [float(s[i] @ d) / tau_s for d in bank]
        mt, ms = max(sim_t), max(sim_s)
        zt = sum(math.exp(v - mt) for v in sim_t)
        zs = sum(math.exp(v - ms) for v in sim_s)
        for vt, vs in zip(sim_t, sim_s):
            p_t = math.exp(vt - mt) / zt
            log_p_s = vs - ms - math.log(zs)
            total -= p_t * log_p_s
    return total / s.shape[0]


# ---------------------------------------------------------------- the loss
@pytest.mark.parametrize('tau_t,tau_s', [(0.01, 0.2), (1e-4, 0.2), (0.5, 1.0)])
def test_loss_matches_naive_reference(tau_t, tau_s):
    s, t, Q = unit(5, 8, seed=1), unit(5, 8, seed=2), unit(12, 8, seed=3)
    s = F.normalize(s.double(), dim=1)
    got = SEEDLoss(tau_t=tau_t, tau_s=tau_s)(s, t.double(), Q.double())
    assert float(got) == pytest.approx(
        naive_seed_loss(s, t.double(), Q.double(), tau_t, tau_s), rel=1e-6)


def test_loss_golden_values():
    # t = e1, s = e2, one queue entry q = e2: similarities by hand are
    # teacher [t.t, t.q] = [1, 0], student [s.t, s.q] = [0, 1].
    t = torch.tensor([[1.0, 0.0]])
    s = torch.tensor([[0.0, 1.0]])
    Q = torch.tensor([[0.0, 1.0]])
    e = math.e
    # tau_t = tau_s = 1: p_t = [e, 1] / (e + 1), log p_s = [0, 1] - log(1+e)
    golden = math.log(1 + e) - 1 / (1 + e)
    assert float(seed_loss(s, t, Q, 1.0, 1.0)) == pytest.approx(golden,
                                                                rel=1e-6)
    # paper temperatures: p_t = [1, e^-100] / (1 + e^-100),
    # log p_s = [0, 5] - log(1 + e^5)
    w = math.exp(-100) / (1 + math.exp(-100))
    golden = math.log(1 + math.exp(5)) - 5 * w
    assert float(seed_loss(s, t, Q)) == pytest.approx(golden, rel=1e-6)
    assert float(seed_loss(s, t, Q)) == pytest.approx(5.0067153485, rel=1e-7)


def test_tau_t_to_zero_is_infonce():
    s, t, Q = unit(6, 16, seed=4), unit(6, 16, seed=5), unit(50, 16, seed=6)
    # teacher target one-hot on its own entry (t.t = 1 > every t.q)
    assert float((t @ Q.t()).max()) < 0.99
    logits_s = torch.cat([(s * t).sum(1, keepdim=True), s @ Q.t()], 1) / 0.2
    infonce = F.cross_entropy(logits_s, torch.zeros(6, dtype=torch.long))
    got = seed_loss(s, t, Q, tau_t=1e-6, tau_s=0.2)
    assert float(got) == pytest.approx(float(infonce), rel=1e-5)
    # a soft teacher is a different objective
    assert abs(float(seed_loss(s, t, Q, 0.5, 0.2)) - float(infonce)) > 1e-2


def autograd_seed_loss(s, t, Q, tau_t, tau_s):
    """Eq. 4 written out with the [t; Q] concatenation, for autograd."""
    own = (s * t).sum(1, keepdim=True)
    logits_s = torch.cat([own, s @ Q.t()], 1) / tau_s
    logits_t = torch.cat([(t * t).sum(1, keepdim=True), t @ Q.t()], 1) / tau_t
    return -(F.softmax(logits_t, 1) * F.log_softmax(logits_s, 1)).sum(1).mean()


@pytest.mark.parametrize('tau_t,tau_s', [(0.01, 0.2), (0.5, 1.0)])
def test_loss_gradient_matches_autograd(tau_t, tau_s):
    # the loss computes its own gradient (two passes over the queue)
    t, Q = unit(6, 16, seed=11), unit(40, 16, seed=12)
    s = unit(6, 16, seed=13).requires_grad_()
    ref = unit(6, 16, seed=13).requires_grad_()
    (3.0 * seed_loss(s, t, Q, tau_t, tau_s)).backward()
    (3.0 * autograd_seed_loss(ref, t, Q, tau_t, tau_s)).backward()
    assert torch.allclose(s.grad, ref.grad, rtol=1e-4, atol=1e-6)
    assert s.grad.abs().max() > 1e-3


def test_loss_is_float32_under_autocast():
    s, t, Q = unit(4, 8, seed=14), unit(4, 8, seed=15), unit(20, 8, seed=16)
    expected = seed_loss(s, t, Q)
    with torch.autocast(device_type='cpu', dtype=torch.bfloat16):
        got = seed_loss(s.bfloat16(), t.bfloat16(), Q)
    assert got.dtype == torch.float32
    assert float(got) == pytest.approx(
        float(seed_loss(s.bfloat16().float(), t.bfloat16().float(), Q)),
        rel=1e-6)
    assert abs(float(got) - float(expected)) < 0.5


def test_loss_gradients_reach_the_student_only():
    s = unit(4, 8, seed=7).requires_grad_()
    t = unit(4, 8, seed=8).requires_grad_()
    Q = unit(10, 8, seed=9).requires_grad_()
    SEEDLoss()(s, t, Q).backward()
    assert s.grad is not None and s.grad.abs().sum() > 0
    assert t.grad is None and Q.grad is None


def test_loss_rejects_bad_input():
    with pytest.raises(ValueError, match='tau_t must be a positive'):
        SEEDLoss(tau_t=0)
    with pytest.raises(ValueError, match='tau_s must be a positive'):
        SEEDLoss(tau_s=-1)
    with pytest.raises(ValueError, match='set the queue dim to 8'):
        SEEDLoss()(unit(2, 8), unit(2, 8), unit(4, 16))
    with pytest.raises(ValueError, match="student head's out_channels"):
        SEEDLoss()(unit(2, 4), unit(2, 8), unit(4, 8))


# ---------------------------------------------------------------- the queue
def test_queue_starts_normalised_random_and_is_fifo_with_wrap_around():
    torch.manual_seed(0)
    q = SEEDQueue(K=6, dim=2)
    assert torch.allclose(q.queue.norm(dim=1), torch.ones(6))
    assert int(q.ptr) == 0 and int(q.num_enqueued) == 0
    batches = [torch.full((2, 2), float(i)) for i in range(1, 5)]
    for b in batches[:3]:
        q.enqueue(b)
    # three blocks of two rows fill the queue in order; the pointer wraps
    assert torch.equal(q.queue, torch.cat(batches[:3]))
    assert int(q.ptr) == 0
    q.enqueue(batches[3])  # overwrites the oldest block only
    assert torch.equal(q.queue, torch.cat([batches[3], *batches[1:3]]))
    assert int(q.ptr) == 2 and int(q.num_enqueued) == 8


def test_queue_state_is_persistent():
    q = SEEDQueue(K=4, dim=3)
    q.enqueue(unit(2, 3, seed=1))
    state = q.state_dict()
    assert set(state) == {'queue', 'ptr', 'num_enqueued'}
    fresh = SEEDQueue(K=4, dim=3)
    fresh.load_state_dict(state)
    for k, v in state.items():
        assert torch.equal(fresh.state_dict()[k], v)


def test_queue_rejects_bad_batches_with_the_numbers():
    q = SEEDQueue(K=10, dim=2)
    with pytest.raises(ValueError, match=r'K=10 is not a multiple .*\(4 '
                       r'rows per step\).*K=8 or K=12'):
        q.enqueue(unit(4, 2))
    with pytest.raises(ValueError, match='holds 2-d rows'):
        q.enqueue(unit(5, 3))
    with pytest.raises(ValueError, match='exactly 10 rows'):
        q.fill(unit(8, 2))
    with pytest.raises(ValueError, match='K must be a positive'):
        SEEDQueue(K=0)


# ----------------------------------------------------------------- the head
def test_head_layers_and_moco_key_names():
    head = SEEDHead(in_channels=8, out_channels=4)
    assert [type(m).__name__ for m in head.mlp] == ['Linear', 'ReLU',
                                                    'Linear']
    moco = MODELS.build(dict(type='MoCoV2Neck', in_channels=8,
                             hid_channels=8, out_channels=4))
    assert set(head.state_dict()) == set(moco.state_dict())
    deep = SEEDHead(in_channels=8, hid_channels=6, out_channels=4,
                    num_layers=3)
    assert [tuple(m.weight.shape) for m in deep.mlp[::2]] == [(6, 8), (6, 6),
                                                             (4, 6)]
    out = deep((torch.randn(3, 8), ))  # a neck's tuple
    assert out.shape == (3, 4)
    with pytest.raises(ValueError, match='GlobalAveragePooling'):
        head(torch.randn(3, 8, 2, 2))
    with pytest.raises(ValueError, match='num_layers must be 2'):
        SEEDHead(in_channels=8, num_layers=4)


# ------------------------------------------------------- teacher + algorithm
def test_teacher_is_the_moco_query_encoder(tmp_path):
    path = str(tmp_path / 'moco.pth')
    moco = moco_checkpoint(path)
    assert {k.split('.')[0] for k in moco.state_dict()} == {
        'backbone', 'neck', 'encoder_k', 'queue', 'queue_ptr'}
    model = MODELS.build(seed_cfg(path))
    teacher = model.teacher.model
    for k, v in moco.backbone.state_dict().items():
        assert torch.equal(teacher.backbone.state_dict()[k], v), k
    for k, v in moco.neck.state_dict().items():
        assert torch.equal(teacher.head.state_dict()[k], v), k
    moco.eval()
    x = torch.randn(3, 3, 16, 16)
    with torch.no_grad():
        q = F.normalize(moco.neck(moco.backbone(x))[0], dim=1)
    assert torch.allclose(model.teacher_embed(x), q, atol=1e-6)
    assert not any(k.startswith('teacher') for k in model.state_dict())
    assert {k.split('.')[0] for k in model.state_dict()} == {'student',
                                                             'queue'}


def test_teacher_checkpoint_errors_list_keys(tmp_path):
    path = str(tmp_path / 'moco.pth')
    moco_checkpoint(path, width=8)  # wider than the teacher config
    with pytest.raises(ValueError, match='different shape.*backbone'):
        MODELS.build(seed_cfg(path))
    moco_checkpoint(path)
    state = torch.load(path)['state_dict']
    del state['neck.mlp.2.bias']
    state['neck.mlp.3.weight'] = torch.zeros(1)
    torch.save(dict(state_dict=state), path)
    with pytest.raises(ValueError) as err:
        MODELS.build(seed_cfg(path))
    msg = str(err.value)
    assert 'head.mlp.2.bias' in msg and 'head.mlp.3.weight' in msg
    with pytest.raises(FileNotFoundError, match='mocov2_r18w16_mnist5k'):
        MODELS.build(seed_cfg(str(tmp_path / 'none.pth')))
    with pytest.raises(ValueError, match='not a known layout'):
        MODELS.build(seed_cfg(path, teacher_ckpt_map='simclr'))


def test_algorithm_rejects_mismatched_dimensions(tmp_path):
    path = str(tmp_path / 'moco.pth')
    moco_checkpoint(path)
    with pytest.raises(ValueError, match='model.queue.dim=16'):
        MODELS.build(seed_cfg(path, queue=dict(type='SEEDQueue', K=16,
                                                dim=32)))
    with pytest.raises(ValueError, match='out_channels=16'):
        MODELS.build(seed_cfg(path, student=tiny_encoder(2, out=8)))


def images(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(0, 256, (3, 16, 16), dtype=torch.uint8,
                          generator=g) for _ in range(n)]


def test_step_enqueues_the_teacher_batch_after_the_loss(tmp_path):
    path = str(tmp_path / 'moco.pth')
    moco_checkpoint(path)
    model = MODELS.build(seed_cfg(path))
    data = model.data_preprocessor(dict(inputs=images(4)), True)
    queue_before = model.queue.queue.clone()
    z_t = model.teacher_embed(data['inputs'])
    z_s = model.student_embed(data['inputs'])
    expected = seed_loss(z_s, z_t, queue_before)  # the loss sees the old Q
    losses = model(**data, mode='loss')
    assert torch.allclose(losses['loss_seed'], expected)
    assert torch.equal(model.queue.queue[:4], z_t)
    assert torch.equal(model.queue.queue[4:], queue_before[4:])
    assert int(model.queue.ptr) == 4
    losses['loss_seed'].backward()  # the in-place enqueue did not break it
    with pytest.raises(RuntimeError, match='linear probe'):
        model.predict(data['inputs'])


def test_train_step_enqueues_after_the_update_without_a_queue_copy(
        tmp_path):
    """train_step (enqueue after the update, the loss reading the queue
    itself) equals loss + backward + step on a copy of the queue."""
    import copy
    path = str(tmp_path / 'moco.pth')
    moco_checkpoint(path)
    fast = MODELS.build(seed_cfg(path))
    slow = copy.deepcopy(fast)
    opt_fast, opt_slow = (OptimWrapper(torch.optim.SGD(
        m.parameters(), lr=0.1, momentum=0.9)) for m in (fast, slow))
    clones = []
    real_clone = torch.Tensor.clone
    for step in range(3):
        batch = dict(inputs=images(4, seed=step))
        torch.Tensor.clone = lambda t, *a, **k: (
            clones.append(t.data_ptr()), real_clone(t, *a, **k))[1]
        try:
            log_vars = fast.train_step(batch, opt_fast)
        finally:
            torch.Tensor.clone = real_clone
        data = slow.data_preprocessor(batch, True)
        losses = slow(**data, mode='loss')  # clones, enqueues in loss
        opt_slow.update_params(losses['loss_seed'])
        assert float(log_vars['loss']) == pytest.approx(
            float(losses['loss_seed']),
            rel=1e-6)
        assert torch.equal(fast.queue.queue, slow.queue.queue)
        assert int(fast.queue.ptr) == int(slow.queue.ptr) == 4 * (step + 1)
        for (k, a), b in zip(fast.state_dict().items(),
                             slow.state_dict().values()):
            assert torch.allclose(a, b, atol=1e-6), k
    assert clones and fast.queue.queue.data_ptr() not in clones
    assert fast._pending_keys is None and not fast._enqueue_after_update


class ImageSet(Dataset):

    def __init__(self, n):
        self.items = images(n, seed=3)

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return dict(inputs=self.items[i], data_samples=DataSample())


def fake_runner(model, n, batch_size, drop_last=True):
    loader = DataLoader(ImageSet(n), batch_size=batch_size,
                        drop_last=drop_last, collate_fn=default_collate)
    return SimpleNamespace(model=model, train_dataloader=loader)


def test_hook_warm_fills_once_with_teacher_embeddings(tmp_path):
    path = str(tmp_path / 'moco.pth')
    moco_checkpoint(path)
    model = MODELS.build(seed_cfg(path))
    teacher_before = {k: v.clone()
                      for k, v in model.teacher.state_dict().items()}
    runner = fake_runner(model, 10, 4)  # 16 rows cycle over 10 items
    SEEDQueueHook(warm_fill=True).before_train(runner)
    data = model.data_preprocessor(
        default_collate([runner.train_dataloader.dataset[i % 10]
                         for i in range(16)]), False)
    assert torch.allclose(model.queue.queue,
                          model.teacher_embed(data['inputs']), atol=1e-6)
    assert int(model.queue.ptr) == 0 and int(model.queue.num_enqueued) == 16
    # after a (resumed) queue was written, the hook leaves it alone
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    model.train_step(dict(inputs=images(4)), optim)
    written = model.queue.queue.clone()
    SEEDQueueHook(warm_fill=True).before_train(runner)
    assert torch.equal(model.queue.queue, written)
    for k, v in model.teacher.state_dict().items():
        assert torch.equal(v, teacher_before[k]), f'teacher {k} changed'


def test_hook_rejects_batches_that_break_the_queue(tmp_path):
    path = str(tmp_path / 'moco.pth')
    moco_checkpoint(path)
    model = MODELS.build(seed_cfg(path))
    random_start = model.queue.queue.clone()
    with pytest.raises(ValueError, match=r'K=16 is not a multiple of the '
                       r'global batch \(batch_size 6 x 1 processes\)'):
        SEEDQueueHook().before_train(fake_runner(model, 12, 6))
    with pytest.raises(ValueError, match='drop_last=True'):
        SEEDQueueHook().before_train(fake_runner(model, 10, 4, False))
    endless = fake_runner(model, 10, 4, False)
    endless.train_dataloader = DataLoader(
        ImageSet(10), batch_size=4, collate_fn=default_collate,
        sampler=InfiniteSampler(ImageSet(10), shuffle=False))
    SEEDQueueHook(warm_fill=False).before_train(endless)  # always full
    SEEDQueueHook(warm_fill=False).before_train(fake_runner(model, 10, 4))
    assert torch.equal(model.queue.queue, random_start)  # official start
    with pytest.raises(TypeError, match='drives a SEED model'):
        SEEDQueueHook().before_train(
            SimpleNamespace(model=torch.nn.Linear(1, 1)))


# ------------------------------------------------------- the ImageNet configs
@pytest.mark.parametrize('student', ['r18', 'mbv3l', 'effb0'])
def test_imagenet_configs_fit_mmpretrain_mocov2_and_build(student, tmp_path):
    from kd_plugins.core import MOCO_KEY_MAP, rename_prefixes
    cfg = Config.fromfile(osp.join(
        ROOT, f'configs/seed/seed_{student}_mocov2r50_imagenet.py'))
    assert cfg.model.queue.K % (8 * cfg.train_dataloader.batch_size) == 0
    assert cfg.optim_wrapper.optimizer.lr == 0.03
    assert cfg.optim_wrapper.optimizer.weight_decay == (
        1e-4 if student == 'r18' else 1e-5)
    assert cfg.train_cfg.max_epochs == 200
    # the teacher takes exactly the query encoder of mmpretrain's MoCo-v2
    moco_cfg = tmp_path / 'moco.py'
    moco_cfg.write_text("_base_ = ['mmpretrain::mocov2/"
                        "mocov2_resnet50_8xb32-coslr-200e_in1k.py']\n")
    moco = MODELS.build(Config.fromfile(str(moco_cfg)).model)
    mapped = rename_prefixes(moco.state_dict(), MOCO_KEY_MAP)
    with DefaultScope.overwrite_default_scope('kd_plugins'):
        teacher = MODELS.build(cfg.model.teacher)
        student_net = MODELS.build(cfg.model.student)
    own = teacher.state_dict()
    assert set(mapped) == set(own)
    assert all(mapped[k].shape == own[k].shape for k in own)
    out = student_net(torch.randn(2, 3, 64, 64))
    assert out.shape == (2, 128)
    probe = Config.fromfile(osp.join(
        ROOT, f'configs/seed/linear_probe_{student}_imagenet.py'))
    net = MODELS.build(probe.model)
    feat = net.extract_feat(torch.randn(2, 3, 64, 64))[-1]
    assert feat.shape == (2, probe.model.head.in_channels)
    net.train()  # MobileNetV3 freezes its layers in train()
    assert not any(p.requires_grad for p in net.backbone.parameters())
