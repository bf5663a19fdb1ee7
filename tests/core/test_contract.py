"""Contract over every registered model component of kd_plugins.

Each component builds from a config dict, returns a finite scalar loss, sends
gradients to the student and none to the teacher, and leaves the teacher's
state bit-identical after optimizer steps. A newly registered component fails
`test_every_component_has_an_example` until it is added here.
"""
import pytest
import torch
from helpers import batch, save_random_weights, tiny_classifier
from helpers.kdep import kdep_basis, kdep_cfg, teacher_weights
from helpers.seed import contract_seed_cfgs, unit
from helpers.simdis import check_simdis, online_cfg, simdis_cfg
from helpers.sskd import sskd_cfg
from helpers.ssld import ssld_cfg
from mmengine.optim import OptimWrapper

from kd_plugins.registry import MODELS


def check_loss(cfg, shape=(4, 10)):
    loss = MODELS.build(cfg)
    student = torch.randn(*shape, requires_grad=True)
    teacher = torch.randn(*shape, requires_grad=True)
    value = loss(student, teacher)
    assert value.dim() == 0 and torch.isfinite(value)
    value.backward()
    assert student.grad is not None and student.grad.abs().sum() > 0
    assert teacher.grad is None


def check_algorithm(cfg):
    model = MODELS.build(cfg)
    model.init_weights()
    teacher_params = {id(p) for p in model.teacher.parameters()}
    assert teacher_params, 'the teacher has parameters to protect'
    assert not teacher_params & {id(p) for p in model.parameters()}
    assert not any(k.startswith('teacher') for k in model.state_dict())
    before = {k: v.clone() for k, v in model.teacher.state_dict().items()}
    student_before = {k: v.clone() for k, v in
                      model.student.state_dict().items()}

    # one explicit forward/backward: gradients reach the student only
    data = model.data_preprocessor(batch(), True)
    losses = model(**data, mode='loss')
    total = sum(v for k, v in losses.items() if k.startswith('loss'))
    assert total.dim() == 0 and torch.isfinite(total)
    total.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0
               for p in model.student.parameters())
    assert all(p.grad is None for p in model.teacher.parameters())
    model.zero_grad()

    # optimizer steps through mmengine's train_step
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1,
                                         momentum=0.9))
    for _ in range(3):
        log_vars = model.train_step(batch(), optim)
        assert torch.isfinite(torch.as_tensor(log_vars['loss']))
    after = model.teacher.state_dict()
    for k, v in before.items():
        assert torch.equal(v, after[k]), f'teacher {k} changed'
    assert any(not torch.equal(v, model.student.state_dict()[k])
               for k, v in student_before.items()), 'the student never moved'


def check_connector(cfg, student_shape, teacher_shape):
    conn = MODELS.build(cfg)
    conn.check(student_shape[1:], teacher_shape[1:])
    student = torch.randn(*student_shape, requires_grad=True)
    teacher = torch.randn(*teacher_shape, requires_grad=True)
    s, t = conn(student, teacher)
    assert s.shape == t.shape == teacher_shape
    value = MODELS.build(dict(type='FeatureMSELoss'))(s, t)
    assert value.dim() == 0 and torch.isfinite(value)
    value.backward()
    assert student.grad is not None and student.grad.abs().sum() > 0
    assert teacher.grad is None


def check_backbone(cfg, size):
    out = MODELS.build(cfg)(torch.randn(2, 3, size, size))
    assert all(torch.isfinite(o).all() for o in out)


def check_svd_projection(tmp):
    teacher = tiny_classifier(8)
    ckpt = save_random_weights(teacher, str(tmp / 'teacher.pth'))
    cfg = dict(type='SVDProjection', student_channels=32, teacher_channels=64,
               basis=kdep_basis(tmp, teacher, ckpt),
               teacher_weights=teacher_weights(teacher, ckpt))
    conn = MODELS.build(cfg)
    conn.check((32, ), (64, ))
    student = torch.randn(4, 32, requires_grad=True)
    teacher_feat = torch.randn(4, 64, requires_grad=True)
    s, t = conn(student, teacher_feat)
    assert s.shape == t.shape == (4, 32)
    assert not list(conn.parameters()) and not conn.state_dict()
    value = MODELS.build(dict(type='FeatureMSELoss'))(s, t)
    assert value.dim() == 0 and torch.isfinite(value)
    value.backward()
    assert student.grad is not None and student.grad.abs().sum() > 0
    assert teacher_feat.grad is None


def check_teacher_side(cfg):
    """A parameter-free connector that maps the teacher to the student."""
    conn = MODELS.build(cfg)
    d_s, d_t = cfg['student_channels'], cfg['teacher_channels']
    conn.check((d_s, ), (d_t, ))
    student = torch.randn(4, d_s, requires_grad=True)
    teacher = torch.randn(4, d_t, requires_grad=True)
    s, t = conn(student, teacher)
    assert s.shape == t.shape == (4, d_s)
    assert not list(conn.parameters()) and not conn.state_dict()
    value = MODELS.build(dict(type='FeatureMSELoss'))(s, t)
    assert value.dim() == 0 and torch.isfinite(value)
    value.backward()
    assert student.grad is not None and teacher.grad is None


def check_transform(cfg, shape=(4, 8)):
    module = MODELS.build(cfg)
    x = (torch.randn(*shape) + 3).requires_grad_()  # away from 0
    y = module(x)
    assert y.shape == x.shape and torch.isfinite(y).all()
    y.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert not list(module.parameters())


def check_seed_loss(cfg):
    loss = MODELS.build(cfg)
    s = unit(4, 8, seed=1).requires_grad_()
    t = unit(4, 8, seed=2).requires_grad_()
    value = loss(s, t, unit(16, 8, seed=3))
    assert value.dim() == 0 and torch.isfinite(value)
    value.backward()
    assert s.grad is not None and s.grad.abs().sum() > 0
    assert t.grad is None


def check_seed_head(cfg):
    head = MODELS.build(cfg)
    x = torch.randn(4, cfg['in_channels'], requires_grad=True)
    out = head((x, ))
    assert out.shape == (4, cfg.get('out_channels', 128))
    out.sum().backward()
    assert x.grad is not None and all(p.grad is not None
                                      for p in head.parameters())


def check_seed_queue(cfg):
    queue = MODELS.build(cfg)
    assert not list(queue.parameters())
    rows = unit(4, queue.dim)
    queue.enqueue(rows)
    assert torch.equal(queue.queue[:4], rows) and int(queue.ptr) == 4
    assert set(queue.state_dict()) == {'queue', 'ptr', 'num_enqueued'}


EXAMPLES = {
    'SEED': lambda tmp: [check_algorithm(c)
                         for c in contract_seed_cfgs(tmp)],
    'SEEDHead': lambda tmp: [check_seed_head(dict(
        type='SEEDHead', in_channels=8, out_channels=4, num_layers=n))
        for n in (2, 3)],
    'SEEDLoss': lambda tmp: [check_seed_loss(dict(type='SEEDLoss', tau_t=t))
                             for t in (0.01, 1e-4)],
    'SEEDQueue': lambda tmp: check_seed_queue(dict(type='SEEDQueue', K=8,
                                                   dim=4)),
    'ChannelSelection': lambda tmp: check_teacher_side(dict(
        type='ChannelSelection', student_channels=4, teacher_channels=8,
        mode='random')),
    'ChannelInterpolation': lambda tmp: check_teacher_side(dict(
        type='ChannelInterpolation', student_channels=4, teacher_channels=8)),
    'ScaleNorm': lambda tmp: check_transform(dict(
        type='ScaleNorm', basis=kdep_cfg(tmp)['align']['basis'])),
    'StdMatch': lambda tmp: check_transform(dict(
        type='StdMatch', basis=kdep_cfg(tmp)['align']['basis'])),
    'FeatureMSELoss': lambda tmp: [
        check_loss(dict(type='FeatureMSELoss', reduction=r), (2, 4, 3, 3))
        for r in ('mean', 'sum_per_sample')],
    'ConvConnector': lambda tmp: [
        check_connector(dict(type='ConvConnector', student_channels=4,
                             teacher_channels=8, with_bn=bn),
                        shape_s, shape_t)
        for bn in (False, True)
        for shape_s, shape_t in (((2, 4, 3, 3), (2, 8, 3, 3)),
                                 ((2, 4), (2, 8)))],
    'IdentityConnector': lambda tmp: check_connector(
        dict(type='IdentityConnector', student_channels=8,
             teacher_channels=8), (2, 8, 3, 3), (2, 8, 3, 3)),
    'CIFARResNet': lambda tmp: check_backbone(
        dict(type='CIFARResNet', depth=20), 32),
    'SSKD': lambda tmp: [check_algorithm(sskd_cfg(tmp, mode=m))
                         for m in ('stagewise', 'multi_loss')],
    'JSDivLoss': lambda tmp: [check_loss(dict(type='JSDivLoss', mode=m))
                              for m in ('jsd', 'sym_kl', 'soft_ce')],
    'KDEP': lambda tmp: [
        check_algorithm(kdep_cfg(tmp)),
        check_algorithm(kdep_cfg(tmp, transform=None)),
        check_algorithm(kdep_cfg(tmp, align=dict(type='ConvConnector'),
                                 transform=None)),
        check_algorithm(kdep_cfg(tmp, align=dict(type='ConvConnector'),
                                 transform=None,
                                 student_feature='post_relu'))],
    'PTS': lambda tmp: [check_transform(dict(type='PTS', T=t, n=n))
                        for t, n in ((0.1, 3), (1.0, 1))],
    'SVDProjection': check_svd_projection,
    'SSLD': lambda tmp: [check_algorithm(ssld_cfg(tmp, teacher_bn_mode=m))
                         for m in ('train', 'eval')],
    'NormalizedMSELoss': lambda tmp: check_loss(
        dict(type='NormalizedMSELoss')),
    'SimDis': lambda tmp: [check_simdis(simdis_cfg(tmp, targets=t,
                                                   teacher_bn_mode=m))
                           for t, m in (('SimDis-Off', 'train'),
                                        ('SimDis-On-7v', 'eval'))],
    'SimDisOnline': lambda tmp: [check_simdis(online_cfg(t))
                                 for t in ('SimDis-On', 'SimDis-On-7v')],
}


def test_every_component_has_an_example():
    from kd_plugins.registry import HOOKS
    registered = set(MODELS.module_dict)
    # SSKDStageHook: tested in test_sskd; EMATargetHook: in test_simdis*
    assert set(HOOKS.module_dict) <= {
        'SEEDQueueHook',  # tested in test_seed
        'SSKDStageHook', 'EMATargetHook',
        'DistilledBackboneCheckHook',  # tested in test_downstream*
        # tested in test_run_safety and tools/test_faults
        'SafeCheckpointHook', 'FiniteLossHook', 'DataCheckHook'}
    assert registered == set(EXAMPLES), (
        f'components without a contract example: {registered - set(EXAMPLES)}')


@pytest.mark.parametrize('name', sorted(EXAMPLES))
def test_contract(name, tmp_path):
    EXAMPLES[name](tmp_path)
