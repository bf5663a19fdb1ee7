"""KDEP teacher analysis: Std Ratio, compactness, sampling, and the tool."""
import json
import os.path as osp

import numpy as np
import pytest
import torch
from helpers import PY, ROOT, run_tool, save_random_weights
from mmengine.config import Config

from kd_plugins.methods.kdep.analysis import (
    compactness,
    feature_report,
    sample_per_class,
    std_ratio,
)
from kd_plugins.methods.kdep.basis import StreamingBasis

KDEP_CFG = 'configs/kdep/kdep_r18w8_r18w16_mnist5k.py'


def naive_std_ratio(x):
    x = np.asarray(x, dtype=np.float64)
    stds = []
    for j in range(x.shape[1]):
        col = x[:, j]
        m = sum(col) / len(col)
        stds.append((sum((v - m) ** 2 for v in col) / (len(col) - 1)) ** 0.5)
    live = [s for s in stds if s > 1e-8]
    return max(live) / min(live), len(stds) - len(live)


def naive_compactness(x, y):
    x = np.asarray(x, dtype=np.float64)
    z = [row / np.sqrt(sum(v * v for v in row)) for row in x]
    classes = sorted(set(y))
    cent = {k: sum(z[i] for i in range(len(z)) if y[i] == k) /
            sum(1 for v in y if v == k) for k in classes}
    intra = sum(np.sqrt(sum((z[i] - cent[y[i]]) ** 2))
                for i in range(len(z))) / len(z)
    pairs = [(a, b) for a in classes for b in classes if a != b]
    inter = sum(np.sqrt(sum((cent[a] - cent[b]) ** 2))
                for a, b in pairs) / len(pairs)
    return intra, inter, inter / intra


def test_std_ratio_matches_naive_and_skips_constant_channels():
    torch.manual_seed(0)
    x = torch.randn(50, 6) * torch.tensor([1., 10., 0.5, 3., 1., 2.])
    x[:, 4] = 7.0  # a dead channel
    got = std_ratio(x)
    ratio, dead = naive_std_ratio(x.numpy())
    assert got['std_ratio'] == pytest.approx(ratio, rel=1e-9)
    assert got['constant_channels'] == dead == 1
    with pytest.raises(ValueError, match='N >= 2'):
        std_ratio(torch.randn(1, 3))
    with pytest.raises(ValueError, match='every feature channel is constant'):
        std_ratio(torch.ones(5, 3))


def test_compactness_golden_and_naive():
    # two classes on the unit circle: centroids (.5,.5) and (-.5,-.5);
    # every point is sqrt(.5) from its centroid; centroids sqrt(2) apart.
    x = torch.tensor([[1., 0.], [0., 1.], [-2., 0.], [0., -3.]])
    got = compactness(x, torch.tensor([0, 0, 1, 1]))
    assert got['intra'] == pytest.approx(0.5 ** 0.5)
    assert got['inter'] == pytest.approx(2 ** 0.5)
    assert got['compactness'] == pytest.approx(2.0)

    torch.manual_seed(1)
    x = torch.randn(60, 5)
    y = torch.arange(60) % 3
    x[y == 1] += 2
    got = compactness(x, y)
    intra, inter, ratio = naive_compactness(x.numpy(), y.tolist())
    assert (got['intra'], got['inter'], got['compactness']) == \
        pytest.approx((intra, inter, ratio), rel=1e-9)
    tight = compactness(x * 0.01 + 5 * torch.nn.functional.one_hot(y, 5), y)
    assert tight['compactness'] > 10 * got['compactness']
    with pytest.raises(ValueError, match='at least 2 classes'):
        compactness(x, torch.zeros(60, dtype=torch.long))


def test_feature_report_views():
    torch.manual_seed(2)
    f = torch.randn(200, 16) * torch.linspace(0.1, 5, 16) + 1
    y = torch.arange(200) % 4
    acc = StreamingBasis(16)
    acc.update(f)
    basis = acc.solve()
    report = feature_report(f, y, basis, dim=8)
    names = list(report)
    assert names[0] == 'teacher (pre-ReLU)' and names[1] == 'SVD to 8'
    assert report['SVD + SN']['std_ratio'] == pytest.approx(1.0, rel=1e-6)
    assert report['SVD to 8']['std_ratio'] == pytest.approx(
        float(basis['proj_std'][0] / basis['proj_std'][7]), rel=1e-6)
    pts = next(k for k in names if 'PTS' in k)
    assert report[pts]['std_ratio'] < report['SVD to 8']['std_ratio']
    sm = report['SVD + SM']
    top = basis['std'].sort(descending=True).values[:8]
    assert sm['std_ratio'] == pytest.approx(float(top[0] / top[-1]), rel=1e-6)
    with pytest.raises(ValueError, match='dim must be in'):
        feature_report(f, y, basis, dim=17)


def test_sample_per_class():
    labels = [k for k in range(5) for _ in range(10 + k)]
    a = sample_per_class(labels, 3, 4, seed=0)
    assert a == sample_per_class(labels, 3, 4, seed=0)
    picked = [labels[i] for i in a]
    assert len(set(picked)) == 3 and all(picked.count(k) == 4
                                         for k in set(picked))
    everything = sample_per_class(labels, 9, 100)
    assert sorted(everything) == list(range(len(labels)))
    with pytest.raises(ValueError, match='labeled dataset'):
        sample_per_class([-1] * 5, 2, 1)
    with pytest.raises(ValueError, match='num_classes >= 2'):
        sample_per_class(labels, 1, 1)


@pytest.mark.slow
def test_teacher_report_tool(tmp_path, mnist_root):
    cfg = Config.fromfile(osp.join(ROOT, KDEP_CFG))
    ckpt = save_random_weights(cfg.model.teacher, str(tmp_path / 't.pth'))
    out_dir = tmp_path / 'report'
    data = f'train_dataloader.dataset.data_root={mnist_root}'
    args = [PY, 'tools/kdep_teacher_report.py', KDEP_CFG, '--checkpoint',
            ckpt, '--out-dir', str(out_dir), '--num-classes', '4',
            '--per-class', '5', '--num-workers', '0']
    # 20 images cannot give a 64-d basis (the config's student width)
    with pytest.raises(AssertionError, match='rank < 20, below the student '
                       'width 64'):
        run_tool(args + ['--cfg-options', data])
    log = run_tool(args + ['--dim', '8', '--cfg-options', data])
    assert '20 images of 4 classes' in log and 'std ratio' in log
    record = json.loads((out_dir / 'report.json').read_text())
    assert record['dim'] == 8 and len(record['classes']) == 4
    assert record['report']['SVD + SN']['std_ratio'] == pytest.approx(
        1.0, rel=1e-4)
    for png in ('tsne_teacher.png', 'tsne_target.png'):
        assert (out_dir / png).read_bytes()[:4] == b'\x89PNG'

    # a basis made with another teacher is refused
    other = save_random_weights(cfg.model.teacher, str(tmp_path / 'o.pth'),
                                seed=1)
    basis = str(tmp_path / 'basis.pth')
    run_tool([PY, 'tools/kdep_svd.py', KDEP_CFG, '--out', basis,
              '--checkpoint', other, '--num-workers', '0',
              '--cfg-options', data])
    with pytest.raises(AssertionError, match='another teacher'):
        run_tool([PY, 'tools/kdep_teacher_report.py', KDEP_CFG,
                  '--checkpoint', ckpt, '--out-dir', str(out_dir),
                  '--basis', basis, '--no-tsne', '--num-workers', '0',
                  '--cfg-options', data])
