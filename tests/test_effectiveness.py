"""The embedded effectiveness benchmark (tools/effectiveness.py): its plan,
its schedule scaling, the linear probe it reports, and one small run of
the whole command (teacher, KDEP and its baseline, evaluation, files)."""
import json
import os
import os.path as osp
import sys

import pytest
import torch
from conftest import PY, ROOT, run_tool
from mmengine.config import Config

sys.path.insert(0, osp.join(ROOT, 'tools'))
import effectiveness as eff  # noqa: E402

from kd_plugins.downstream.backbone_eval import linear_probe_top1  # noqa


def test_every_planned_run_edits_its_config(tmp_path):
    plan = eff.students(str(tmp_path))
    baselines = {r['baseline'] for r in plan.values() if 'baseline' in r}
    assert baselines == {'supervised', 'mocov2', 'byol'} <= set(plan)
    groups = {r['group'] for r in plan.values()}
    assert groups == {'labels', 'SSLD', 'SSKD', 'KDEP', 'SEED', 'SimDis'}
    for name, run in plan.items():
        cfg = run['edit'](Config.fromfile(osp.join(ROOT, run['config'])),
                          'teacher.pth')
        eff.retarget(cfg, 'elsewhere')
        assert 'data/mnist5k' not in cfg.pretty_text, name
        if 'teacher' in run:
            assert cfg.model.teacher_ckpt == 'teacher.pth', name
        student = cfg.model.get('student', cfg.model)
        backbone = student.get('backbone', student)
        assert backbone.base_channels == 8, name  # one student size


def test_ssld_ablation_differs_only_in_its_data(tmp_path):
    plan = eff.students(str(tmp_path))
    cfgs = {n: plan[n]['edit'](Config.fromfile(osp.join(
        ROOT, plan[n]['config'])), 't.pth') for n in ('ssld', 'ssld_labeled')}
    mined = cfgs['ssld'].train_dataloader.dataset
    assert mined.type == 'LabeledUnlabeledDataset'
    assert mined.unlabeled.ann_file.endswith('ssld_mined/unlabeled.txt')
    assert cfgs['ssld_labeled'].train_dataloader.dataset.type == \
        'CustomDataset'
    assert cfgs['ssld'].model == cfgs['ssld_labeled'].model


@pytest.mark.parametrize('iters', [7, 250, 3000])
def test_set_iterations_scales_the_schedule(iters):
    cfg = Config.fromfile(osp.join(
        ROOT, 'configs/seed/mocov2_r18w16_mnist5k.py'))
    eff.set_iterations(cfg, iters)
    assert cfg.train_cfg.max_iters == iters
    assert cfg.default_hooks.checkpoint.interval == iters
    warm, cosine = cfg.param_scheduler
    assert 0 <= warm.begin < warm.end <= cosine.begin < cosine.end == iters
    assert cosine.T_max == cosine.end - cosine.begin


def test_sskd_epochs_match_the_stage_hook(mnist_root):
    from kd_plugins.methods.sskd.stage_hook import SSKDStageHook
    cfg = Config.fromfile(osp.join(ROOT,
                                   'configs/sskd/sskd_r18w8_r18w16_mnist5k.py'))
    eff.retarget(cfg, mnist_root)
    eff.set_iterations(cfg, 40)  # 100 images, batch 32: 4 steps per epoch
    spec = dict(next(h for h in cfg.custom_hooks
                     if h.type == 'SSKDStageHook'))
    spec.pop('type')
    hook = SSKDStageHook(**spec)  # milestones inside each phase

    class Algo:  # what total_epochs reads
        mode, num_stages = 'stagewise', 4
    assert cfg.train_cfg.max_epochs == 10 == hook.total_epochs(Algo())


def test_linear_probe_separates_and_guesses():
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(400) % 4
    centres = torch.randn(4, 16, generator=g) * 5
    feats = centres[labels] + torch.randn(400, 16, generator=g)
    feats = feats * 1e3  # scale must not matter (standardised)
    assert linear_probe_top1(feats[:200], labels[:200], feats[200:],
                             labels[200:]) == 100.0
    noise = torch.randn(400, 16, generator=g)
    acc = linear_probe_top1(noise[:200], labels[:200], noise[200:],
                            labels[200:])
    assert acc < 45.0  # chance is 25
    with pytest.raises(ValueError, match='empty feature set'):
        linear_probe_top1(feats[:0], labels[:0], feats, labels)


def test_unknown_run_is_refused(tmp_path):
    with pytest.raises(SystemExit, match='no run named'):
        eff.main(['--only', 'kdep', 'nope', '--work-dir', str(tmp_path)])


def test_whole_command_on_a_small_split(tmp_path, mnist_root):
    """KDEP, its teacher and its baseline through the real command, a few
    steps each, two seeds in two processes; a second call reuses every
    finished run."""
    wd = tmp_path / 'eff'
    args = [PY, 'tools/effectiveness.py', '--only', 'kdep', '--data',
            mnist_root, '--work-dir', str(wd), '--seeds', '0', '1', '--jobs',
            '2', '--teacher-iters', '6', '--student-iters', '6',
            '--ft-iters', '3', '--tsne-per-class', '10']
    out = run_tool(args)
    results = json.loads((wd / 'results.json').read_text())
    assert set(results['students']) == {'supervised', 'kdep'}
    assert set(results['teachers']) == {'supervised'}
    for name, row in results['students'].items():
        for key in ('knn', 'probe', 'finetune'):
            assert 0.0 <= row[key]['mean'] <= 100.0, (name, key)
            assert row[key]['n'] == 2
            assert row[key]['min'] <= row[key]['mean'] <= row[key]['max']
        assert row['scalars'], name  # training losses for the curves
    assert results['students']['supervised']['top1']['mean'] >= 0.0
    assert results['random']['probe']['n'] == 2
    assert '[seed 1]' in out  # the second seed's process reported
    for png in ('curves.png', 'kdep_teacher_tsne.png'):
        assert os.path.getsize(wd / png) > 1000
    table = (wd / 'results.md').read_text()
    assert 'KDEP, SVD + PTS' in table and table.strip() in out
    again = run_tool(args)
    assert again.count('reused') >= 4
    assert 'training' not in again  # nothing retrained


def test_data_is_written_into_a_missing_folder(tmp_path):
    """The first step of a clean clone: the digits do not exist yet."""
    out = tmp_path / 'mnist'
    bench = eff.Bench(eff.parse_args(['--work-dir', str(tmp_path / 'w')]))
    bench.tool('MNIST-5k image folders', [
        'tools/prepare_mnist5k.py', '--out', str(out), '--val-per-class',
        '1', '--train-per-class', '1', '--unlabeled-per-class', '1'],
        str(out))
    assert {'train', 'unlabeled', 'val'} <= set(os.listdir(out))
    assert (tmp_path / 'w' / 'tools' / 'mnist.console.log').is_file()
