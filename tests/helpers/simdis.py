"""SimDis models on tiny mmpretrain BYOL pairs, and their contract check."""
import torch
from mmengine.optim import OptimWrapper
from mmpretrain.structures import DataSample

from kd_plugins.methods.simdis.ema_hook import EMATargetHook, ema_update_
from kd_plugins.registry import MODELS


def tiny_byol(width: int = 4, dim: int = 16, hid: int = 32) -> dict:
    """mmpretrain BYOL pair on a CIFAR-style ResNet-18 of the given width."""
    def mlp(in_channels, pool):
        return dict(type='NonLinearNeck', in_channels=in_channels,
                    hid_channels=hid, out_channels=dim, num_layers=2,
                    with_bias=True, with_last_bn=False, with_avg_pool=pool,
                    norm_cfg=dict(type='BN1d'))
    return dict(type='BYOL',
                backbone=dict(type='ResNet_CIFAR', depth=18,
                              stem_channels=width, base_channels=width,
                              out_indices=(3, )),
                neck=mlp(width * 8, True),
                head=dict(type='LatentPredictHead',
                          loss=dict(type='CosineSimilarityLoss'),
                          predictor=mlp(dim, False)))


def save_byol(path, width=8, seed=0, drop=()):
    """A checkpoint of an mmpretrain BYOL model (as its config writes one)."""
    torch.manual_seed(seed)
    model = MODELS.build(tiny_byol(width))
    model.init_weights()
    # make the target differ from the online network, as after training
    with torch.no_grad():
        for p in model.target_net.parameters():
            p.add_(0.01 * torch.randn_like(p))
    state = {k: v for k, v in model.state_dict().items()
             if not k.startswith(tuple(drop))}
    torch.save(dict(state_dict=state, meta=dict()), str(path))
    return str(path)


def simdis_cfg(tmp_path, targets='SimDis-Off', **kw):
    return dict(type='SimDis', student=tiny_byol(4), teacher=tiny_byol(8),
                teacher_ckpt=save_byol(tmp_path / 'byol.pth'),
                targets=targets, **kw)


def online_cfg(targets='SimDis-On', **kw):
    return dict(type='SimDisOnline', student=tiny_byol(4),
                teacher=tiny_byol(8), targets=targets, **kw)


def two_view_batch(n=4, size=16, seed=1):
    g = torch.Generator().manual_seed(seed)
    views = [torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8,
                           generator=g) for _ in range(2)]
    return dict(inputs=views, data_samples=[DataSample() for _ in range(n)])


def build(cfg, ema_driven=True):
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    model.init_weights()
    if ema_driven:  # the tests update the targets themselves
        model.mark_ema_driven()
    return model


def check_simdis(cfg, steps=3):
    """Contract of both SimDis algorithms (tests/core/test_contract.py and
    tests/methods/simdis/test_simdis.py)."""
    model = build(cfg)
    online = cfg['type'] == 'SimDisOnline'
    teacher = model.teacher.model if not online else model.teacher
    student_before = {k: v.clone() for k, v in
                      model.student.state_dict().items()}
    teacher_before = {k: v.clone() for k, v in teacher.state_dict().items()}
    if not online:
        ids = {id(p) for p in teacher.parameters()}
        assert ids and not ids & {id(p) for p in model.parameters()}
        assert not any(k.startswith('teacher') for k in model.state_dict())
    data = model.data_preprocessor(two_view_batch(), True)
    losses = model(**data, mode='loss')
    total = sum(v for k, v in losses.items() if k.startswith('loss'))
    assert total.dim() == 0 and torch.isfinite(total)
    total.backward()
    assert all(p.grad is not None for p in model.student.backbone.parameters())
    assert all(p.grad is None for p in model.student.target_net.parameters())
    if online:
        assert all(p.grad is not None for p in teacher.backbone.parameters())
    else:
        assert all(p.grad is None for p in teacher.parameters())
    model.zero_grad()
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1,
                                         momentum=0.9))
    hook = EMATargetHook()
    hook._total = 10
    for _ in range(steps):
        log_vars = model.train_step(two_view_batch(), optim)
        assert torch.isfinite(torch.as_tensor(log_vars['loss']))
        hook.steps += 1
        for _, on, tg in model.ema_pairs():
            ema_update_(tg, on, hook.decay(hook.steps))
    after = teacher.state_dict()
    moved = [k for k, v in teacher_before.items()
             if not torch.equal(v, after[k])]
    if online:
        assert moved, 'the online teacher never trained'
    else:
        assert not moved, f'frozen teacher changed: {moved[:5]}'
    assert any(not torch.equal(v, model.student.state_dict()[k])
               for k, v in student_before.items()), 'the student never moved'
    return model
