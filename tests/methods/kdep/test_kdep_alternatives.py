"""KDEP's alternative alignments and transforms against naive references."""
import pytest
import torch
from helpers import batch, save_random_weights, tiny_classifier
from helpers.kdep import kdep_basis, kdep_cfg, teacher_weights

from kd_plugins.methods.kdep import load_basis
from kd_plugins.registry import MODELS


@pytest.fixture
def basis(tmp_path):
    teacher = tiny_classifier(8)
    ckpt = save_random_weights(teacher, str(tmp_path / 't.pth'))
    return kdep_basis(tmp_path, teacher, ckpt), teacher_weights(teacher, ckpt)


def test_channel_selection_by_variance(basis):
    path, weights = basis
    std = load_basis(path)['std']
    conn = MODELS.build(dict(type='ChannelSelection', student_channels=5,
                             teacher_channels=64, basis=path,
                             teacher_weights=weights))
    f = torch.randn(3, 64)
    _, t = conn(torch.zeros(3, 5), f)
    top = sorted(range(64), key=lambda c: -float(std[c]))[:5]  # naive
    assert torch.equal(t, f[:, sorted(top)])


def test_channel_selection_random_is_fixed_by_seed():
    build = lambda seed: MODELS.build(dict(  # noqa: E731
        type='ChannelSelection', student_channels=4, teacher_channels=10,
        mode='random', seed=seed))
    assert torch.equal(build(1).index, build(1).index)
    assert not torch.equal(build(1).index, build(2).index)
    assert len(set(build(1).index.tolist())) == 4


def test_channel_interpolation_matches_naive():
    conn = MODELS.build(dict(type='ChannelInterpolation', student_channels=3,
                             teacher_channels=5))
    f = torch.tensor([[0., 1., 2., 3., 4.], [5., 5., 1., 1., 9.]])
    _, t = conn(torch.zeros(2, 3), f)
    # corners aligned: positions 0, 2, 4 of the 5 channels
    assert torch.allclose(t, f[:, [0, 2, 4]])
    conn7 = MODELS.build(dict(type='ChannelInterpolation',
                              student_channels=4, teacher_channels=7))
    _, t7 = conn7(torch.zeros(1, 4), torch.arange(7.)[None])
    assert torch.allclose(t7, torch.tensor([[0., 2., 4., 6.]]))


def test_scale_norm_and_std_match_match_naive(basis):
    path, weights = basis
    rec = load_basis(path)
    x = torch.randn(6, 8)
    sn = MODELS.build(dict(type='ScaleNorm', basis=path,
                           teacher_weights=weights))
    sm = MODELS.build(dict(type='StdMatch', basis=path,
                           teacher_weights=weights))
    p = rec['proj_std'].float()[:8]
    top = torch.sort(rec['std'].float(), descending=True).values[:8]
    for n in range(6):
        for c in range(8):
            assert sn(x)[n, c] == pytest.approx(float(x[n, c] / p[c]),
                                                rel=1e-5)
            assert sm(x)[n, c] == pytest.approx(
                float(x[n, c] * top[c] / p[c]), rel=1e-5)


def test_bad_inputs(basis, tmp_path):
    path, _ = basis
    with pytest.raises(ValueError, match='wider than the teacher'):
        MODELS.build(dict(type='ChannelInterpolation', student_channels=9,
                          teacher_channels=4))
    with pytest.raises(ValueError, match='needs basis'):
        MODELS.build(dict(type='ChannelSelection', student_channels=2,
                          teacher_channels=4))
    other = save_random_weights(tiny_classifier(8), str(tmp_path / 'o.pth'),
                                seed=1)
    with pytest.raises(ValueError, match='another teacher'):
        MODELS.build(dict(type='ScaleNorm', basis=path,
                          teacher_weights=teacher_weights(
                              tiny_classifier(8), other)))
    sn = MODELS.build(dict(type='ScaleNorm', basis=path))
    with pytest.raises(ValueError, match='D <= 64'):
        sn(torch.zeros(2, 65))


@pytest.mark.parametrize('align, transform', [
    (dict(type='ChannelSelection', mode='random'), None),
    (dict(type='ChannelInterpolation'), None),
    ('svd', 'ScaleNorm'), ('svd', 'StdMatch')])
def test_kdep_trains_with_each_variant(tmp_path, align, transform):
    cfg = kdep_cfg(tmp_path)
    path = cfg['align']['basis']
    if align != 'svd':
        cfg['align'] = align
    cfg['transform'] = None if transform is None else dict(type=transform,
                                                           basis=path)
    model = MODELS.build(cfg)
    data = model.data_preprocessor(batch(), True)
    loss = model(**data, mode='loss')['loss_kdep']
    assert torch.isfinite(loss)
    loss.backward()
    assert any(p.grad is not None for p in model.student.parameters())
