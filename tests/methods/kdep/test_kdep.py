"""KDEP: PTS, streaming SVD basis, pre-ReLU taps, SVDProjection, errors,
and tools/kdep_svd.py + tools/train.py end to end."""
import os.path as osp

import pytest
import torch
from helpers import PY, ROOT, batch, run_tool, save_random_weights
from helpers.kdep import kdep_cfg, teacher_weights
from mmengine.config import Config

from kd_plugins.core.checkpoint import weights_sha256
from kd_plugins.methods.kdep import (
    PTS,
    PreReLUTap,
    StreamingBasis,
    load_basis,
    power_temperature_scaling,
    save_basis,
    svd_project,
)
from kd_plugins.registry import MODELS

KDEP_CFG = 'configs/kdep/kdep_r18w8_r18w16_mnist5k.py'


# ------------------------------------------------------------------- PTS
def naive_pts(x, T, n):
    out = torch.empty_like(x)
    for i, v in enumerate(x.flatten().tolist()):
        mag = abs(v / T) ** (1.0 / n)
        out.view(-1)[i] = mag if v > 0 else (-mag if v < 0 else 0.0)
    return out


@pytest.mark.parametrize('T, n', [(0.1, 3), (0.5, 2), (2.0, 1)])
def test_pts_matches_naive_reference(T, n):
    torch.manual_seed(0)
    x = torch.randn(5, 7, dtype=torch.float64) * 3
    assert torch.allclose(power_temperature_scaling(x, T, n),
                          naive_pts(x, T, n))
    assert torch.allclose(PTS(T=T, n=n)(x), naive_pts(x, T, n))


def test_pts_golden_value():
    # by hand, T=0.1, n=3: 0.8/0.1=8 -> 2; 0.0027/0.1=0.027 -> 0.3; 64 -> 4
    x = torch.tensor([0.8, -0.0027, 0.0, 6.4], dtype=torch.float64)
    expected = torch.tensor([2.0, -0.3, 0.0, 4.0], dtype=torch.float64)
    assert torch.allclose(PTS()(x), expected)


def test_pts_rejects_bad_parameters():
    with pytest.raises(ValueError, match='T must be > 0'):
        PTS(T=0.0)
    with pytest.raises(ValueError, match='n must be > 0'):
        PTS(n=-1)


# ----------------------------------------------------------------- basis
def random_features(n=300, d=6, seed=0):
    torch.manual_seed(seed)
    scales = torch.tensor([10.0, 5.0, 3.0, 2.0, 1.0, 0.5][:d],
                          dtype=torch.float64)
    mix = torch.linalg.qr(torch.randn(d, d, dtype=torch.float64))[0]
    return (torch.randn(n, d, dtype=torch.float64) * scales) @ mix + 100.0


def test_streaming_basis_equals_full_svd():
    X = random_features()
    acc = StreamingBasis(X.shape[1])
    for chunk in X.split(37):  # uneven batches
        acc.update(chunk)
    got = acc.solve()
    mean = X.mean(dim=0)
    U, S, Vh = torch.linalg.svd(X - mean, full_matrices=False)
    V = Vh.T  # D x D, the official torch.svd's V
    assert acc.n == X.shape[0]
    assert torch.allclose(got['mean'], mean)
    assert torch.allclose(got['singular_values'], S, rtol=1e-8)
    # each column equal up to its sign
    cos = (got['V'] * V).sum(dim=0)
    assert torch.allclose(cos.abs(), torch.ones_like(cos), atol=1e-8)
    assert torch.allclose(got['std'], X.std(dim=0))
    assert torch.allclose(got['proj_std'], ((X - mean) @ got['V']).std(dim=0))


def test_streaming_basis_rejects_bad_input():
    acc = StreamingBasis(4)
    with pytest.raises(ValueError, match='B x 4'):
        acc.update(torch.zeros(3, 5))
    acc.update(torch.zeros(1, 4))
    with pytest.raises(ValueError, match='at least 2'):
        acc.solve()


#: weights_sha256 of two different teachers
TEACHER = weights_sha256(dict(w=torch.ones(3)))
OTHER = weights_sha256(dict(w=torch.zeros(3)))


def write_basis(path, teacher_weights, X):
    acc = StreamingBasis(X.shape[1])
    acc.update(X)
    save_basis(str(path), acc.solve(), acc.n, 'test', 'teacher',
               teacher_weights, 'teacher.pth')
    return str(path)


def test_basis_file_loads_with_weights_only(tmp_path):
    path = write_basis(tmp_path / 'b.pth', TEACHER, random_features())
    record = torch.load(path, weights_only=True)
    assert record['num_images'] == 300 and record['feature_dim'] == 6
    assert record['teacher_ckpt'] == 'teacher.pth'
    assert load_basis(path, TEACHER)['V'].shape == (6, 6)


def test_basis_binds_weights_not_a_path(tmp_path):
    path = write_basis(tmp_path / 'b.pth', TEACHER, random_features())
    with pytest.raises(ValueError, match="another teacher.*'teacher.pth'"):
        load_basis(path, OTHER)
    with pytest.raises(ValueError, match='64 hex digits'):
        load_basis(path, str(tmp_path / 'teacher.pth'))


@pytest.mark.parametrize('content', [b'', b'not a basis\n', None])
def test_unreadable_basis_is_named(tmp_path, content):
    path = write_basis(tmp_path / 'b.pth', TEACHER, random_features())
    data = open(path, 'rb').read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2] if content is None else content)
    with pytest.raises(ValueError, match='cannot read KDEP basis.*b.pth'):
        load_basis(path, TEACHER)


def test_basis_of_the_file_bound_format_is_recomputed(tmp_path):
    path = write_basis(tmp_path / 'b.pth', TEACHER, random_features())
    record = torch.load(path, weights_only=True)
    record['format'] = 'kd_plugins.kdep_basis.v1'
    torch.save(record, path)
    with pytest.raises(ValueError, match='earlier version.*kdep_svd.py'):
        load_basis(path, TEACHER)


# ------------------------------------------------------------ pre-ReLU tap
@pytest.mark.parametrize('cfg, size', [
    (dict(type='ResNet_CIFAR', depth=18, stem_channels=4, base_channels=4),
     16),                                                 # BasicBlock
    (dict(type='ResNet', depth=50), 32),                  # Bottleneck
    (dict(type='ResNetV1d', depth=18, base_channels=8), 32),
    (dict(type='MobileNetV2', widen_factor=0.25), 32),    # ConvModule+ReLU6
])
@pytest.mark.parametrize('train', [True, False])
def test_pre_relu_feature_before_the_last_activation(cfg, size, train):
    torch.manual_seed(0)
    backbone = MODELS.build(cfg)  # default init: no zero-init residual
    backbone.train(train)
    tap = PreReLUTap(backbone)
    out = backbone(torch.randn(2, 3, size, size))[-1]  # N x C x H x W
    pre = tap.pop_map()
    activation = (lambda z: z.clamp(0, 6)) \
        if cfg['type'] == 'MobileNetV2' else torch.relu
    assert pre.shape == out.shape and pre.shape[1] == tap.channels
    assert (pre < 0).any(), 'the tap must see values before the ReLU'
    assert torch.equal(activation(pre), out)
    with pytest.raises(RuntimeError, match='holds no feature'):
        tap.pop()


def test_pre_relu_tap_keeps_student_gradients():
    backbone = MODELS.build(dict(type='ResNet_CIFAR', depth=18,
                                 stem_channels=4, base_channels=4))
    tap = PreReLUTap(backbone, 'student')
    backbone(torch.randn(2, 3, 16, 16))
    tap.pop().sum().backward()  # N x C pooled
    assert backbone.layer4[1].conv2.weight.grad.abs().sum() > 0


def test_pre_relu_unsupported_family():
    with pytest.raises(ValueError, match='VGG is not supported.*MobileNetV2'):
        PreReLUTap(MODELS.build(dict(type='VGG', depth=11)), 'student')
    with pytest.raises(ValueError, match='SEBottleneck'):
        PreReLUTap(MODELS.build(dict(type='SEResNet', depth=50)))


# ---------------------------------------------------------- SVDProjection
@pytest.fixture
def basis_file(tmp_path):
    return write_basis(tmp_path / 'b.pth', TEACHER, random_features()), \
        TEACHER


def test_svd_projection_matches_naive(basis_file):
    path, ckpt = basis_file
    proj = MODELS.build(dict(type='SVDProjection', student_channels=4,
                             teacher_channels=6, basis=path,
                             teacher_weights=ckpt))
    record = load_basis(path)
    f = random_features(8, seed=3).float()
    s = torch.randn(8, 4)
    s_out, t_out = proj(s, f)
    naive = (f.double() - record['mean']) @ record['V'][:, :4]
    assert s_out is s
    assert torch.allclose(t_out.double(), naive, atol=1e-4)
    assert torch.allclose(svd_project(f, proj.mean, proj.V_d), t_out)
    assert not proj.state_dict() and not list(proj.parameters())


def test_svd_projection_errors(basis_file, tmp_path):
    path, _ = basis_file
    with pytest.raises(ValueError, match='another teacher.*kdep_svd.py'):
        MODELS.build(dict(type='SVDProjection', student_channels=4,
                          teacher_channels=6, basis=path,
                          teacher_weights=OTHER))
    with pytest.raises(ValueError, match='student wider than the basis'):
        MODELS.build(dict(type='SVDProjection', student_channels=8,
                          teacher_channels=6, basis=path))
    proj = MODELS.build(dict(type='SVDProjection', student_channels=4,
                             teacher_channels=6, basis=path))
    with pytest.raises(ValueError, match='student wider than the basis'):
        proj.check((7, ), (6, ))
    with pytest.raises(ValueError, match='computed on 6-d'):
        proj.check((4, ), (5, ))
    with pytest.raises(FileNotFoundError, match='kdep_svd.py'):
        load_basis(str(tmp_path / 'missing.pth'))


# --------------------------------------------------------------- KDEP
def test_kdep_loss_is_mse_of_pts_projection(tmp_path):
    model = MODELS.build(kdep_cfg(tmp_path))
    data = model.data_preprocessor(batch(), True)
    loss = model(**data, mode='loss')['loss_kdep']
    # the same loss by hand
    x = data['inputs']
    model.teacher.model.backbone(x)
    f_t = model.teacher_feat.pop()
    model.student(x)
    f_s = model.student_feat.pop()
    t = power_temperature_scaling(
        (f_t - model.align.mean) @ model.align.V_d, 0.1, 3)
    assert torch.allclose(loss, 3 * ((f_s - t) ** 2).mean())


def test_kdep_errors(tmp_path):
    with pytest.raises(ValueError, match='student wider than the basis'):
        MODELS.build(kdep_cfg(tmp_path, student_width=16))
    cfg = kdep_cfg(tmp_path)
    cfg['align'] = dict(type='SVDProjection')
    with pytest.raises(ValueError, match='needs basis=PATH'):
        MODELS.build(cfg)
    cfg = kdep_cfg(tmp_path)
    other = save_random_weights(cfg['teacher'], str(tmp_path / 'o.pth'), 1)
    cfg['teacher_ckpt'] = other
    with pytest.raises(ValueError, match='another teacher'):
        MODELS.build(cfg)


def test_kdep_conv_connector_baseline(tmp_path):
    model = MODELS.build(kdep_cfg(tmp_path, align=dict(type='ConvConnector'),
                                  transform=None))
    assert model.align.conv.in_channels == 32
    assert model.align.conv.out_channels == 64
    data = model.data_preprocessor(batch(), True)
    loss = model(**data, mode='loss')['loss_kdep']
    loss.backward()
    assert model.align.conv.weight.grad.abs().sum() > 0


# ----------------------------------------------------------- the tools
@pytest.mark.slow
def test_kdep_svd_then_train(tmp_path, mnist_root):
    cfg = Config.fromfile(osp.join(ROOT, KDEP_CFG))
    ckpt = save_random_weights(cfg.model.teacher, str(tmp_path / 't.pth'))
    basis = str(tmp_path / 'basis.pth')
    out = run_tool([PY, 'tools/kdep_svd.py', KDEP_CFG, '--out', basis,
                    '--checkpoint', ckpt, '--batch-size', '32',
                    '--num-workers', '0', '--cfg-options',
                    f'train_dataloader.dataset.data_root={mnist_root}'])
    assert 'basis of 100 images, D=128' in out
    record = load_basis(basis, teacher_weights(cfg.model.teacher, ckpt))
    assert record['V'].shape == (128, 128) and record['num_images'] == 100
    assert 'ResNet_CIFAR' in record['teacher_config']

    wd = str(tmp_path / 'work')
    run_tool([PY, 'tools/train.py', KDEP_CFG, '--work-dir', wd,
              '--cfg-options', f'model.teacher_ckpt={ckpt}',
              f'model.align.basis={basis}',
              f'train_dataloader.dataset.data_root={mnist_root}',
              'train_dataloader.batch_size=8',
              'train_dataloader.num_workers=0', 'train_cfg.max_iters=3',
              'default_hooks.logger.interval=1',
              'default_hooks.checkpoint.interval=3'])
    ckpt_out = torch.load(osp.join(wd, 'iter_3.pth'), map_location='cpu',
                          weights_only=False)
    assert all(k.startswith('student.') for k in ckpt_out['state_dict'])


def test_conv_baseline_config_builds(tmp_path):
    cfg = Config.fromfile(osp.join(ROOT, 'configs/kdep/'
                                   'kdep_r18w8_r18w16_mnist5k_conv.py'))
    assert cfg.model.align == dict(type='ConvConnector')
    model_cfg = cfg.model.to_dict()
    model_cfg['teacher_ckpt'] = save_random_weights(
        cfg.model.teacher, str(tmp_path / 't.pth'))
    model = MODELS.build(model_cfg)
    assert (model.align.conv.in_channels,
            model.align.conv.out_channels) == (64, 128)
    data = model.data_preprocessor(batch(), True)
    assert torch.isfinite(model(**data, mode='loss')['loss_kdep'])


def test_post_relu_student_feature(tmp_path):
    """The post-ReLU baseline feeds relu(pre-ReLU feature), pooled."""
    cfg = kdep_cfg(tmp_path, align=dict(type='ConvConnector'),
                   transform=None)
    pre = MODELS.build(cfg)
    post = MODELS.build(dict(cfg, student_feature='post_relu'))
    post.load_state_dict(pre.state_dict())
    data = pre.data_preprocessor(batch(), True)
    seen = {}
    for name, model in (('pre', pre), ('post', post)):
        model.align.register_forward_hook(
            lambda m, args, out, name=name: seen.__setitem__(name, args[0]))
        model(**data, mode='loss')
    assert (seen['pre'] < 0).any(), 'pre-ReLU features take negative values'
    # pooling then ReLU is not ReLU then pooling: rebuild from the map
    backbone = post.student
    tap_map = post.student_feat
    backbone(data['inputs'])
    expected = torch.relu(tap_map.pop_map()).mean(dim=(2, 3))
    torch.testing.assert_close(seen['post'], expected)
    assert (seen['post'] >= 0).all()
    with pytest.raises(ValueError, match="student_feature='after'"):
        MODELS.build(dict(cfg, student_feature='after'))


def test_post_relu_config_builds(tmp_path):
    cfg = Config.fromfile(osp.join(
        ROOT, 'configs/kdep/kdep_r18w8_r18w16_mnist5k_conv_post_relu.py'))
    assert cfg.model.student_feature == 'post_relu'
    model_cfg = cfg.model.to_dict()
    model_cfg['teacher_ckpt'] = save_random_weights(
        cfg.model.teacher, str(tmp_path / 't.pth'))
    model = MODELS.build(model_cfg)
    data = model.data_preprocessor(batch(), True)
    assert torch.isfinite(model(**data, mode='loss')['loss_kdep'])
