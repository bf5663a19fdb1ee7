"""SimDis: EMA schedule and buffer policies, view losses, offline and online
algorithms (teacher frozen / teacher gradients from its own loss only)."""
import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from helpers.simdis import (
    build,
    check_simdis,
    online_cfg,
    save_byol,
    simdis_cfg,
    tiny_byol,
    two_view_batch,
)

from kd_plugins.methods.simdis import (
    SIMDIS_OFF,
    SIMDIS_ON_7V,
    VIEWS,
    normalized_mse,
    parse_targets,
)
from kd_plugins.methods.simdis.byol_pair import (
    online_encoder,
    project,
    target_encoder,
)
from kd_plugins.methods.simdis.ema_hook import (
    EMATargetHook,
    cosine_decay,
    ema_update_,
)
from kd_plugins.registry import MODELS


# ------------------------------------------------------------ EMA schedule
def naive_tau(k, K, base=0.99, final=1.0):
    return final - (final - base) * (math.cos(math.pi * k / K) + 1) / 2


def test_cosine_decay_start_middle_end():
    K = 1000
    assert cosine_decay(0, K) == pytest.approx(0.99, abs=1e-12)
    assert cosine_decay(K // 2, K) == pytest.approx(0.995, abs=1e-12)
    assert cosine_decay(K, K) == pytest.approx(1.0, abs=1e-12)
    for k in (1, 137, 250, 999):
        assert cosine_decay(k, K) == pytest.approx(naive_tau(k, K), abs=1e-12)
    # monotone, clamped past the end, other end points
    taus = [cosine_decay(k, K) for k in range(K + 1)]
    assert all(a <= b for a, b in zip(taus, taus[1:]))
    assert cosine_decay(K + 50, K) == 1.0
    assert cosine_decay(5, 20, 0.9, 0.95) == pytest.approx(
        naive_tau(5, 20, 0.9, 0.95))


@pytest.mark.parametrize('bad', [-0.1, 1.5, 99, float('nan')])
def test_decay_outside_unit_interval_is_refused(bad):
    with pytest.raises(ValueError, match=r'\[0, 1\]'):
        EMATargetHook(base_decay=bad)
    with pytest.raises(ValueError, match=r'\[0, 1\]'):
        cosine_decay(1, 10, bad)
    with pytest.raises(ValueError, match=r'\[0, 1\]'):
        ema_update_(nn.Linear(2, 2), nn.Linear(2, 2), bad)


def test_hook_rejects_bad_arguments():
    with pytest.raises(ValueError, match='buffer_policy'):
        EMATargetHook(buffer_policy='mean')
    with pytest.raises(ValueError, match='total_steps'):
        EMATargetHook(total_steps=0)


# ---------------------------------------------------------- buffer policy
def _net(seed):
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(3, 5), nn.BatchNorm1d(5))
    net.train()
    net(torch.randn(8, 3))  # running statistics away from their defaults
    with torch.no_grad():
        net[1].running_mean.add_(torch.randn(5))
    return net


@pytest.mark.parametrize('policy', ['skip', 'copy', 'average'])
def test_ema_update_parameters_and_buffer_policy(policy):
    target, online = _net(0), _net(1)
    online[1].num_batches_tracked.fill_(7)
    t0 = {k: v.clone() for k, v in target.state_dict().items()}
    o = {k: v.clone() for k, v in online.state_dict().items()}
    tau = 0.9
    ema_update_(target, online, tau, policy)
    t1 = target.state_dict()
    for k in ('0.weight', '0.bias', '1.weight', '1.bias'):  # parameters
        assert torch.allclose(t1[k], tau * t0[k] + (1 - tau) * o[k])
    for k in ('1.running_mean', '1.running_var'):
        expected = dict(skip=t0[k], copy=o[k],
                        average=tau * t0[k] + (1 - tau) * o[k])[policy]
        assert torch.allclose(t1[k], expected), (policy, k)
        assert not torch.allclose(t0[k], o[k])  # the check can fail
    count = t1['1.num_batches_tracked']
    assert count == (t0['1.num_batches_tracked'] if policy == 'skip' else 7)
    # the online network is never written
    for k, v in online.state_dict().items():
        assert torch.equal(v, o[k])


def test_ema_update_refuses_mismatched_networks():
    with pytest.raises(ValueError, match='different parameters'):
        ema_update_(nn.Linear(2, 2), nn.Sequential(nn.Linear(2, 2)), 0.9)


# ------------------------------------------------------------------ losses
def test_normalized_mse_matches_naive_reference():
    torch.manual_seed(0)
    p = torch.randn(6, 8, requires_grad=True)
    z = torch.randn(6, 8, requires_grad=True)
    naive = sum(((p[i] / p[i].norm() - z[i] / z[i].norm()) ** 2).sum()
                for i in range(6)) / 6
    value = normalized_mse(p, z)
    assert value.item() == pytest.approx(naive.item(), rel=1e-5)
    assert value.item() == pytest.approx(
        (2 - 2 * F.cosine_similarity(p, z)).mean().item(), rel=1e-5)
    value.backward()
    assert p.grad is not None and z.grad is None
    with pytest.raises(ValueError, match='shape'):
        normalized_mse(torch.randn(2, 4), torch.randn(2, 5))


def test_view_names_and_presets():
    assert parse_targets('SimDis-Off') == SIMDIS_OFF == (
        'student_ema_other', 'teacher_ema_other')
    assert parse_targets('SimDis-On-7v') == SIMDIS_ON_7V == VIEWS
    assert len(VIEWS) == 7
    assert parse_targets(['teacher_ema_same', 'student_ema_other']) == (
        'student_ema_other', 'teacher_ema_same')
    with pytest.raises(ValueError, match="unknown SimDis target view.*"
                       "'teacher_ema'"):
        parse_targets(['student_ema_other', 'teacher_ema'])
    with pytest.raises(ValueError, match='unknown SimDis preset'):
        parse_targets('SimDis-Offline')
    with pytest.raises(ValueError, match='student_ema_other'):
        parse_targets(['teacher_ema_other'])
    with pytest.raises(ValueError, match='twice'):
        parse_targets(['student_ema_other', 'student_ema_other'])


def test_view_losses_against_a_naive_computation(tmp_path):
    """Each view's loss and their mean, recomputed from the parts."""
    model = build(simdis_cfg(tmp_path, targets=list(SIMDIS_ON_7V),
                             teacher_bn_mode='eval'))
    model.eval()  # BN in eval: repeated forwards give identical outputs
    v1, v2 = [x.float() for x in two_view_batch()['inputs']]
    losses = model.loss([v1, v2])
    s_on, s_tg = online_encoder(model.student), target_encoder(model.student)
    t = model.teacher.model
    t_on, t_tg = online_encoder(t), target_encoder(t)
    with torch.no_grad():
        z = [project(s_on, v) for v in (v1, v2)]
        src = dict(student_online=z,
                   student_ema=[project(s_tg, v) for v in (v1, v2)],
                   teacher_online=[project(t_on, v) for v in (v1, v2)],
                   teacher_ema=[project(t_tg, v) for v in (v1, v2)])

        def nmse(a, b):
            return ((F.normalize(a, dim=1) - F.normalize(b, dim=1)) ** 2
                    ).sum(1).mean()
        per_view = []
        for view in VIEWS:
            head = model.student.head.predictor \
                if view == 'student_ema_other' else model.predictors[view]
            source, which = view.rsplit('_', 1)
            tg = src[source] if which == 'same' else src[source][::-1]
            value = nmse(head([z[0]])[0], tg[0]) + nmse(head([z[1]])[0], tg[1])
            assert losses[f'v_{view}'].item() == pytest.approx(
                value.item(), rel=1e-4), view
            per_view.append(value)
    assert losses['loss_student'].item() == pytest.approx(
        torch.stack(per_view).mean().item(), rel=1e-4)


# ---------------------------------------------------------------- offline
def test_offline_contract_and_frozen_teacher(tmp_path):
    for targets in ('SimDis-Off', list(SIMDIS_ON_7V)):
        model = check_simdis(simdis_cfg(tmp_path, targets=targets))
        # one predictor per view besides BYOL's own head
        assert set(model.predictors) == set(model.targets) - {
            'student_ema_other'}


def test_offline_loads_mmpretrain_byol_checkpoint_exactly(tmp_path):
    ckpt = save_byol(tmp_path / 'byol.pth', seed=3)
    model = build(dict(simdis_cfg(tmp_path), teacher_ckpt=ckpt))
    saved = torch.load(ckpt)['state_dict']
    for k, v in model.teacher.model.state_dict().items():
        assert torch.equal(v, saved[k]), k
    # the target differs from the online network: both were loaded
    assert not torch.equal(saved['target_net.module.0.conv1.weight'],
                           saved['backbone.conv1.weight'])


def test_offline_teacher_checkpoint_missing_keys(tmp_path):
    ckpt = save_byol(tmp_path / 'no_target.pth', drop=('target_net.', ))
    with pytest.raises(ValueError, match='missing from the checkpoint.*'
                       'target_net.module'):
        MODELS.build(dict(simdis_cfg(tmp_path), teacher_ckpt=ckpt))
    with pytest.raises(ValueError, match='teacher_ckpt'):
        MODELS.build(dict(simdis_cfg(tmp_path), teacher_ckpt=None))


def test_offline_refuses_bad_configs(tmp_path):
    from helpers import tiny_classifier
    with pytest.raises(TypeError, match='BYOL pair'):
        MODELS.build(dict(simdis_cfg(tmp_path), teacher=tiny_classifier(8)))
    wide = tiny_byol(4, dim=24)
    with pytest.raises(ValueError, match='out_channels=16'):
        MODELS.build(dict(simdis_cfg(tmp_path), student=wide))
    with pytest.raises(ValueError, match='no teacher view'):
        MODELS.build(simdis_cfg(tmp_path, targets=['student_ema_other',
                                                   'student_ema_same']))
    with pytest.raises(ValueError, match='unknown SimDis target view'):
        MODELS.build(simdis_cfg(tmp_path, targets=['student_ema_other',
                                                   'teacher_target']))


def test_init_weights_makes_targets_copies(tmp_path):
    model = build(online_cfg())
    for name, online, target in model.ema_pairs():
        o, t = online.state_dict(), target.state_dict()
        assert set(o) == set(t)
        for k in o:
            assert torch.equal(o[k], t[k]), (name, k)


def test_student_backbone_exports_under_student_prefix(tmp_path):
    from kd_plugins.export import student_backbone_state
    model = build(online_cfg('SimDis-On-7v'))
    exported = student_backbone_state(model.state_dict())
    own = model.student.backbone.state_dict()
    assert set(exported) == set(own)
    assert all(torch.equal(exported[k], own[k]) for k in own)


# ----------------------------------------------------------------- online
@pytest.mark.parametrize('targets', ['SimDis-On', 'SimDis-On-7v'])
def test_online_contract(targets):
    check_simdis(online_cfg(targets))


@pytest.mark.parametrize('targets', ['SimDis-On', 'SimDis-On-7v'])
def test_online_teacher_gradient_comes_only_from_its_own_loss(targets):
    model = build(online_cfg(targets))
    v = [x.float() for x in two_view_batch()['inputs']]
    teacher = model.teacher

    def teacher_grads():
        return {n: p.grad.clone() for n, p in teacher.named_parameters()
                if p.grad is not None}

    # 1) the whole SimDis loss
    losses = model.loss(v)
    (losses['loss_student'] + losses['loss_teacher']).backward()
    full = teacher_grads()
    assert full, 'the teacher got no gradient at all'
    model.zero_grad(set_to_none=True)
    # 2) the teacher's own BYOL loss alone, computed independently
    on, tg = online_encoder(teacher), target_encoder(teacher)
    z = [project(on, x) for x in v]
    with torch.no_grad():
        zt = [project(tg, x) for x in v]
    pred = teacher.head.predictor
    own = normalized_mse(pred([z[0]])[0], zt[1]) + \
        normalized_mse(pred([z[1]])[0], zt[0])
    own.backward()
    alone = teacher_grads()
    assert set(full) == set(alone)
    for n in full:
        assert torch.allclose(full[n], alone[n], rtol=1e-5, atol=1e-7), n
    # 3) the student's loss alone sends the teacher nothing
    model.zero_grad(set_to_none=True)
    model.loss(v)['loss_student'].backward()
    assert not teacher_grads()
    assert any(p.grad is not None for p in model.student.parameters())


def test_online_teacher_is_registered_and_optimised():
    model = build(online_cfg())
    names = [n for n, _ in model.named_parameters()]
    assert any(n.startswith('teacher.backbone.') for n in names)
    assert any(n.startswith('teacher.head.predictor.') for n in names)
    # targets are registered (in the checkpoint) but not trainable
    state = model.state_dict()
    assert any(k.startswith('teacher.target_net.module.') for k in state)
    assert any(k.startswith('student.target_net.module.') for k in state)
    assert not any(p.requires_grad for n, p in model.named_parameters()
                   if 'target_net' in n)
    assert [n for n, _, _ in model.ema_pairs()] == ['student', 'teacher']


def test_training_without_the_hook_warns_once():
    model = build(online_cfg(), ema_driven=False)
    v = [x.float() for x in two_view_batch()['inputs']]
    with pytest.warns(UserWarning, match="dict\\(type='EMATargetHook'\\)"):
        model.loss(v)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        model.loss(v)


def test_predict_mode_explains_linear_probe(tmp_path):
    model = build(online_cfg())
    with pytest.raises(RuntimeError, match='linear probe'):
        model(torch.zeros(1), mode='predict')
    with pytest.raises(ValueError, match='two augmented views'):
        model.loss([torch.zeros(2, 3, 8, 8)])


# ------------------------------------------------------------ hook (unit)
class _Runner:
    """The few runner attributes EMATargetHook reads."""

    def __init__(self, model, max_iters=8, resume=True):
        from mmengine.logging import MessageHub, MMLogger
        self.model = model
        self.max_iters = max_iters
        self.cfg = dict(resume=resume)
        self.logger = MMLogger.get_instance('simdis_test')
        self.message_hub = MessageHub.get_instance('simdis_test')


def test_hook_updates_with_the_schedule_and_saves_its_step():
    model = build(online_cfg())
    runner = _Runner(model, max_iters=8)
    hook = EMATargetHook(buffer_policy='copy')
    hook.before_train(runner)
    pairs = model.ema_pairs()
    with torch.no_grad():  # move the online networks away from the targets
        for _, online, _ in pairs:
            for p in online.parameters():
                p.add_(0.1)
    before = [{k: v.clone() for k, v in t.state_dict().items()}
              for _, _, t in pairs]
    online = [{k: v.clone() for k, v in o.state_dict().items()}
              for _, o, _ in pairs]
    hook.after_train_iter(runner, 0)
    tau = naive_tau(1, 8)
    for (_, o, t), b, on in zip(pairs, before, online):
        for k, p in t.named_parameters():
            assert torch.allclose(p, tau * b[k] + (1 - tau) * on[k]), k
        for k, buf in t.named_buffers():
            assert torch.equal(buf, on[k]), k  # 'copy'
    assert runner.message_hub.get_scalar('train/ema_decay').current() == \
        pytest.approx(tau)
    ckpt = {}
    hook.before_save_checkpoint(runner, ckpt)
    assert ckpt['ema_target'] == dict(steps=1, total_steps=8, base_decay=0.99,
                                      final_decay=1.0, buffer_policy='copy')
    # resume restores the step; load_from leaves it; settings changes warn
    fresh = EMATargetHook(buffer_policy='copy')
    fresh.after_load_checkpoint(_Runner(model, resume=False), ckpt)
    assert fresh.steps == 0
    fresh.after_load_checkpoint(runner, ckpt)
    assert fresh.steps == 1
    other = EMATargetHook(buffer_policy='skip')
    with pytest.warns(UserWarning, match='buffer_policy'):
        other.after_load_checkpoint(runner, ckpt)
    with pytest.raises(ValueError, match='no EMA state'):
        EMATargetHook().after_load_checkpoint(runner, {})


def test_hook_refuses_a_model_without_ema_pairs():
    from helpers import tiny_classifier
    runner = _Runner(MODELS.build(tiny_classifier(4)))
    with pytest.raises(TypeError, match='ema_pairs'):
        EMATargetHook().before_train(runner)
