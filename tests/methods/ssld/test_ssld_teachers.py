"""SSLD with several teachers (the ensemble soft label) and with teachers
from outside mmpretrain's ResNets, each in its own normalisation.

- The single-teacher numbers are those of the code before the ensemble
  path, bit for bit (the reference functions below are verbatim copies of
  it).
- With two teachers the soft label is the mean of the teachers'
  probabilities, each teacher fed its own pipeline's tensor.
- A timm ResNet and ViT teachers (plain and DINOv2-style) drive SSLD.
"""
import csv
import math
import os
import os.path as osp
import shutil

import pytest
import torch
import torch.nn.functional as F
from helpers import (
    PY,
    ROOT,
    batch,
    logged_losses,
    run_tool,
    save_random_weights,
    tiny_classifier,
)
from helpers.foreign_teachers import (
    CLIP_NORM,
    FAMILIES,
    IMG,
    STUDENT_NORM,
    TIMM_RESNET,
    own_network,
)
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper

import kd_plugins.core.teacher as teacher_path
from kd_plugins.core import FrozenTeacher
from kd_plugins.datasets import UnlabeledImageFolder
from kd_plugins.methods.ssld import JSDivLoss, mine_unlabeled
from kd_plugins.methods.ssld.jsd_loss import (
    jensen_shannon,
    soft_cross_entropy,
    symmetric_kl,
    teacher_log_probs,
    teacher_probs,
)
from kd_plugins.registry import MODELS

CFG_2T = 'configs/ssld/ssld_r18w4_2teachers_mnist5k.py'


# ------------------------------------------- the code before, verbatim
def old_jensen_shannon(student_logits, teacher_logits):
    log_ps = F.log_softmax(student_logits, dim=1)  # N x C
    log_pt = F.log_softmax(teacher_logits, dim=1)  # N x C
    log_m = torch.logsumexp(torch.stack([log_ps, log_pt]), dim=0) \
        - torch.log(torch.tensor(2.0, dtype=log_ps.dtype,
                                 device=log_ps.device))
    kl_s = (log_ps.exp() * (log_ps - log_m)).sum(dim=1)  # N
    kl_t = (log_pt.exp() * (log_pt - log_m)).sum(dim=1)  # N
    return ((kl_s + kl_t) / 2).mean()


def old_symmetric_kl(student_logits, teacher_logits):
    log_ps = F.log_softmax(student_logits, dim=1)  # N x C
    log_pt = F.log_softmax(teacher_logits, dim=1)  # N x C
    kl_ts = (log_pt.exp() * (log_pt - log_ps)).sum(dim=1)  # N
    kl_st = (log_ps.exp() * (log_ps - log_pt)).sum(dim=1)  # N
    return ((kl_ts + kl_st) / 2).mean()


def old_soft_cross_entropy(student_logits, teacher_logits):
    p_t = F.softmax(teacher_logits, dim=1)  # N x C
    return -(p_t * F.log_softmax(student_logits, dim=1)).sum(dim=1).mean()


OLD = dict(jsd=old_jensen_shannon, sym_kl=old_symmetric_kl,
           soft_ce=old_soft_cross_entropy)
NEW = dict(jsd=jensen_shannon, sym_kl=symmetric_kl,
           soft_ce=soft_cross_entropy)


def naive_loss(mode, s_logits, p_t):
    """The loss against a given teacher distribution, in plain Python."""
    total = 0.0
    for s_row, pt in zip(s_logits.tolist(), p_t.tolist()):
        zs = sum(math.exp(v) for v in s_row)
        ps = [math.exp(v) / zs for v in s_row]
        if mode == 'jsd':
            m = [(a + b) / 2 for a, b in zip(ps, pt)]
            total += (sum(a * math.log(a / c) for a, c in zip(ps, m)) +
                      sum(b * math.log(b / c) for b, c in zip(pt, m))) / 2
        elif mode == 'sym_kl':
            total += (sum(b * math.log(b / a) for a, b in zip(ps, pt)) +
                      sum(a * math.log(a / b) for a, b in zip(ps, pt))) / 2
        else:
            total += -sum(b * math.log(a) for a, b in zip(ps, pt))
    return total / len(p_t)


# ------------------------------------------------------- single teacher
@pytest.mark.parametrize('mode', sorted(OLD))
def test_single_teacher_numbers_are_bit_identical(mode, tmp_path):
    torch.manual_seed(0)
    s, t = torch.randn(8, 10) * 3, torch.randn(8, 10) * 3
    assert torch.equal(NEW[mode](s, t), OLD[mode](s, t))
    loss = JSDivLoss(mode=mode, loss_weight=0.7)
    assert torch.equal(loss(s, t), 0.7 * OLD[mode](s, t))
    # and through the algorithm, with its one teacher
    teacher = tiny_classifier(8)
    model = MODELS.build(dict(
        type='SSLD', student=tiny_classifier(4), teacher=teacher,
        teacher_ckpt=save_random_weights(teacher, str(tmp_path / 't.pth')),
        loss=dict(type='JSDivLoss', mode=mode),
        data_preprocessor=STUDENT_NORM))
    x = model.data_preprocessor(batch(), True)['inputs']
    got = model.loss(x)['loss_ssld']
    ref = OLD[mode](model.student(x, mode='tensor').float(),
                    model.teacher(x, mode='tensor').float())
    assert torch.equal(got, ref)


# ------------------------------------------------------ the ensemble
@pytest.mark.parametrize('mode', sorted(OLD))
def test_ensemble_target_is_the_mean_probability(mode):
    torch.manual_seed(1)
    s = torch.randn(5, 7, dtype=torch.float64) * 2
    zs = [torch.randn(5, 7, dtype=torch.float64) * 3 for _ in range(3)]
    mean_p = sum(F.softmax(z, dim=1) for z in zs) / 3
    torch.testing.assert_close(teacher_probs(zs), mean_p)
    torch.testing.assert_close(teacher_log_probs(zs).exp(), mean_p)
    assert NEW[mode](s, zs).item() == pytest.approx(
        naive_loss(mode, s, mean_p), rel=1e-9)


def two_teachers(tmp_path, second=None, **kw):
    """SSLD with a w8 ResNet teacher in the student's normalisation and a
    second teacher (default: a w6 ResNet in CLIP's normalisation)."""
    first = tiny_classifier(8)
    second = second or dict(tiny_classifier(6),
                            data_preprocessor=dict(CLIP_NORM))
    entries = []
    for i, cfg in enumerate((first, second)):
        ckpt = save_random_weights(cfg, str(tmp_path / f't{i}.pth'), seed=i)
        entries.append(dict(model=cfg, ckpt=ckpt, bn_mode='eval'))
    cfg = dict(type='SSLD', student=tiny_classifier(4), teachers=entries,
               data_preprocessor=STUDENT_NORM)
    cfg.update(kw)
    return cfg


@pytest.mark.parametrize('mode', sorted(OLD))
def test_soft_label_is_the_mean_of_the_teachers_probabilities(tmp_path,
                                                              mode):
    cfg = two_teachers(tmp_path, loss=dict(type='JSDivLoss', mode=mode))
    model = MODELS.build(cfg)
    data = batch(n=6, size=IMG)
    x = model.data_preprocessor(data, False)['inputs']
    expected = 0
    for entry in cfg['teachers']:  # each on its own pipeline's tensor
        net, own = own_network(entry['model'], entry['ckpt'])
        with torch.no_grad():
            expected = expected + F.softmax(
                net(own(batch(n=6, size=IMG), False)['inputs']), dim=1) / 2
    assert (model.soft_label(x) - expected).abs().max() <= 1e-6
    student = model.student(x, mode='tensor').double()
    assert model.loss(x)['loss_ssld'].item() == pytest.approx(
        naive_loss(mode, student, expected.double()), rel=1e-4, abs=1e-7)


def test_two_teachers_through_the_one_path(tmp_path, monkeypatch):
    loads = []
    real = teacher_path.load_teacher_weights
    monkeypatch.setattr(teacher_path, 'load_teacher_weights',
                        lambda *a, **k: (loads.append(a[1]), real(*a, **k)))
    cfg = two_teachers(tmp_path)
    cfg['teachers'][1]['bn_mode'] = 'train'
    model = MODELS.build(cfg)
    assert len(loads) == 2 and len(model.teachers) == 2
    assert [t.bn_mode for t in model.teachers] == ['eval', 'train']
    assert model.teachers[0].bridge is None
    assert model.teachers[1].bridge is not None  # CLIP's normalisation
    ids = {id(p) for t in model.teachers for p in t.parameters()}
    assert all(type(t) is FrozenTeacher for t in model.teachers)
    assert not ids & {id(p) for p in model.parameters()}
    assert all(k.startswith(('student.', 'distill_loss.'))
               for k in model.state_dict())
    optim = build_optim_wrapper(model, dict(
        type='OptimWrapper', optimizer=dict(type='SGD', lr=0.1)))
    before = [{k: v.clone() for k, v in t.state_dict().items()}
              for t in model.teachers]
    model.train()
    for _ in range(2):
        model.train_step(batch(n=4, size=IMG), optim)
    for t, state in zip(model.teachers, before):
        assert all(torch.equal(v, state[k])
                   for k, v in t.state_dict().items())
    assert not ids & {id(p) for g in optim.optimizer.param_groups
                      for p in g['params']}
    model.double()
    assert all(p.dtype == torch.float64 for t in model.teachers
               for p in t.parameters())


@pytest.mark.parametrize('change, match', [
    (dict(teacher=tiny_classifier(8)), 'not both'),
    (dict(teachers=[]), 'non-empty list'),
    (dict(teachers=dict(model=tiny_classifier(8))), 'non-empty list'),
    (dict(teachers=[dict(model=tiny_classifier(8))]), r"lacks \['ckpt'\]"),
    (dict(teachers=[dict(model=tiny_classifier(8), ckpt='x.pth',
                         bn='eval')]), r"unknown keys \['bn'\]"),
])
def test_bad_teacher_lists_are_named(tmp_path, change, match):
    cfg = two_teachers(tmp_path)
    cfg.update(change)
    with pytest.raises(ValueError, match=match):
        MODELS.build(cfg)


def test_each_teacher_is_checked(tmp_path):
    cfg = two_teachers(tmp_path, second=tiny_classifier(6, num_classes=7))
    with pytest.raises(ValueError, match=r'teachers\[1\] 7'):
        MODELS.build(cfg)
    with pytest.raises(ValueError, match='SSLD needs a teacher'):
        MODELS.build(dict(type='SSLD', student=tiny_classifier(4)))


# ---------------------------------------- teachers from other families
@pytest.mark.parametrize('family', sorted(FAMILIES))
def test_foreign_teacher_drives_ssld(family, tmp_path):
    make, needs_timm = FAMILIES[family]
    if needs_timm:
        pytest.importorskip('timm')
    teacher = make(num_classes=10)
    ckpt = save_random_weights(teacher, str(tmp_path / 't.pth'))
    model = MODELS.build(dict(
        type='SSLD', student=tiny_classifier(4), teacher=teacher,
        teacher_ckpt=ckpt, teacher_bn_mode='eval',
        data_preprocessor=STUDENT_NORM))
    assert model.teacher.bridge is not None
    # the teacher's logits are those of its own pipeline
    net, own = own_network(teacher, ckpt)
    data = batch(n=4, size=IMG)
    x = model.data_preprocessor(data, False)['inputs']
    with torch.no_grad():
        ref = net(own(batch(n=4, size=IMG), False)['inputs'])
    assert (model.teacher(x) - ref).abs().max() <= 1e-4
    optim = build_optim_wrapper(model, dict(
        type='OptimWrapper', optimizer=dict(type='SGD', lr=0.1)))
    state = {k: v.clone() for k, v in model.teacher.state_dict().items()}
    losses = [model.train_step(batch(n=4, size=IMG), optim)['loss_ssld']
              for _ in range(3)]
    assert all(torch.isfinite(v) for v in losses)
    assert all(torch.equal(v, state[k])
               for k, v in model.teacher.state_dict().items())


def test_timm_file_as_published_with_timms_own_normalisation(tmp_path):
    """A timm ResNet saved as timm publishes it (a bare state dict in
    model.safetensors), its normalisation taken from timm's own data
    config: SSLD's teacher logits equal timm's model on timm's tensor."""
    timm = pytest.importorskip('timm')
    from safetensors.torch import save_file
    torch.manual_seed(0)
    net = timm.create_model(num_classes=10, **TIMM_RESNET).eval()
    path = str(tmp_path / 'model.safetensors')
    save_file(net.state_dict(), path)
    data_cfg = timm.data.resolve_data_config({}, model=net)
    norm = dict(mean=[255 * m for m in data_cfg['mean']],
                std=[255 * s for s in data_cfg['std']], to_rgb=True)
    teacher = dict(type='TimmClassifier', num_classes=10,
                   data_preprocessor=norm, **TIMM_RESNET)
    model = MODELS.build(dict(
        type='SSLD', student=tiny_classifier(4), teacher=teacher,
        teacher_ckpt=path, teacher_bn_mode='eval',
        data_preprocessor=STUDENT_NORM))
    raw = torch.stack(batch(n=4, size=IMG)['inputs'])  # N x 3 x H x W, BGR
    rgb = raw.flip(1).float() / 255  # what timm's ToTensor gives
    mean = torch.tensor(data_cfg['mean']).view(1, 3, 1, 1)
    std = torch.tensor(data_cfg['std']).view(1, 3, 1, 1)
    with torch.no_grad():
        ref = net((rgb - mean) / std)
    x = model.data_preprocessor(batch(n=4, size=IMG), False)['inputs']
    assert (model.teacher(x) - ref).abs().max() <= 1e-4


def test_timm_teacher_needs_the_same_classes(tmp_path):
    pytest.importorskip('timm')
    teacher = FAMILIES['timm_resnet'][0](num_classes=7)
    ckpt = save_random_weights(teacher, str(tmp_path / 't.pth'))
    with pytest.raises(ValueError, match='the teacher 7'):
        MODELS.build(dict(type='SSLD', student=tiny_classifier(4),
                          teacher=teacher, teacher_ckpt=ckpt))


def test_mining_runs_the_teacher_in_its_own_normalisation(tmp_path,
                                                          mnist_root):
    teacher = dict(tiny_classifier(8), data_preprocessor=dict(CLIP_NORM))
    ckpt = save_random_weights(teacher, str(tmp_path / 't.pth'))
    gallery = tmp_path / 'gallery'
    gallery.mkdir()
    src = osp.join(mnist_root, 'unlabeled')
    for name in sorted(os.listdir(src))[:12]:
        shutil.copy(osp.join(src, name), gallery / name)
    pipe = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
    result = mine_unlabeled(
        teacher, ckpt, pipe, STUDENT_NORM, str(gallery),
        osp.join(mnist_root, 'val'), str(tmp_path / 'list.txt'), topk=12,
        batch_size=5, num_workers=0)
    net, own = own_network(teacher, ckpt)
    rows = list(csv.DictReader(open(result.table_file)))
    assert len(rows) == 12
    ds = UnlabeledImageFolder(data_root=str(gallery), pipeline=pipe)
    packed = {osp.relpath(ds.get_data_info(i)['img_path'], str(gallery)):
              ds[i]['inputs'] for i in range(len(ds))}
    for r in rows:
        with torch.no_grad():
            x = own(dict(inputs=[packed[r['path']]]), False)['inputs']
            p = F.softmax(net(x), dim=1)[0]
        assert int(r['predicted_class']) == int(p.argmax())
        assert float(r['confidence']) == pytest.approx(float(p.max()),
                                                       abs=1e-5)


# ------------------------------------------------------- from a config
@pytest.mark.slow
def test_two_teachers_train_from_the_config(tmp_path, mnist_root):
    cfg = Config.fromfile(osp.join(ROOT, CFG_2T))
    options = []
    for i, entry in enumerate(cfg.model.teachers):
        ckpt = save_random_weights(entry.model, str(tmp_path / f't{i}.pth'),
                                   seed=i)
        options.append(f'model.teachers.{i}.ckpt={ckpt}')
    wd = str(tmp_path / 'work')
    out = run_tool([
        PY, 'tools/train.py', CFG_2T, '--work-dir', wd, '--cfg-options',
        *options,
        f'train_dataloader.dataset.labeled.data_root={mnist_root}',
        f'train_dataloader.dataset.unlabeled.data_root={mnist_root}',
        f'val_dataloader.dataset.data_root={mnist_root}',
        f'test_dataloader.dataset.data_root={mnist_root}',
        'train_dataloader.batch_size=8', 'train_dataloader.num_workers=0',
        'val_dataloader.num_workers=0', 'train_cfg.max_iters=3',
        'train_cfg.val_interval=3', 'default_hooks.logger.interval=1',
        'default_hooks.checkpoint.interval=3'])
    assert 'accuracy/top1' in out
    losses = logged_losses(wd)
    assert sorted(losses) == [1, 2, 3]
    assert all(math.isfinite(v) for v in losses.values())
    ckpt = torch.load(osp.join(wd, 'iter_3.pth'), map_location='cpu',
                      weights_only=False)
    assert all(k.startswith('student.') for k in ckpt['state_dict'])
