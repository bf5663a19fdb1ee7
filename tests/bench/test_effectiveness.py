"""The effectiveness benchmark (bench/effectiveness): its plan and the
config files it names, its run-time schedule, the runner's cache and
worker pool, the linear probe it reports, and one small run of the whole
command (teacher, KDEP and its baseline, evaluation, files, reuse)."""
import json
import os
import os.path as osp

import pytest
import torch
from helpers import PY, ROOT, run_tool
from mmengine.config import Config

from bench.effectiveness import command, plan, report, runner, schedule
from kd_plugins.downstream.backbone_eval import linear_probe_top1

METHOD_FOLDERS = ('ssld', 'sskd', 'kdep', 'seed', 'simdis')


def load(config: str) -> Config:
    return Config.fromfile(osp.join(ROOT, config))


def differences(a, b, prefix=''):
    """Dotted keys where two config trees differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = set()
        for k in set(a) | set(b):
            out |= differences(a.get(k), b.get(k), f'{prefix}{k}.')
        return out
    return set() if a == b else {prefix.rstrip('.')}


def as_run(run: plan.Run, work_dir: str, teacher: str = 't.pth') -> Config:
    """``run``'s config with the options the runner applies to it."""
    cfg = load(run.config)
    files = plan.prepared_files(work_dir)
    options = {key: files[name] for key, name in run.inputs}
    if run.teacher:
        options['model.teacher_ckpt'] = teacher
    cfg.merge_from_dict(options)
    return cfg


# ------------------------------------------------------------------ plan
def test_every_run_names_its_own_config(tmp_path):
    students = plan.students()
    assert [r.name for r in plan.STUDENTS] == list(students)
    online = {r.name: r for r in students.values() if not r.from_cache}
    assert {r.baseline for r in online.values()} - {None} == {
        'supervised', 'supervised_r20', 'mocov2', 'byol'}
    assert {r.group for r in students.values()} == {'labels', *plan.GROUPS}
    configs = [r.config for r in online.values()]
    assert len(set(configs)) == len(configs)  # no config run twice
    # a run from the teacher cache is its online run's config, compared
    # with it
    cached = [r for r in students.values() if r.from_cache]
    assert sorted(r.group for r in cached) == sorted(
        {'SSLD', 'KDEP', 'SEED', 'SimDis'})
    for r in cached:
        twin = students[r.baseline]
        assert (r.config, r.teacher, r.inputs) == (
            twin.config, twin.teacher, twin.inputs) and not twin.from_cache
    for run in students.values():
        folder, name = run.config.split('/')[1:]
        assert folder in METHOD_FOLDERS, run.name
        assert 'mnist5k' in name, run.name
        cfg = as_run(run, str(tmp_path))
        if run.teacher:
            assert cfg.model.teacher_ckpt == 't.pth', run.name
        student = cfg.model.get('student', cfg.model)
        backbone = student.get('backbone', student)
        if run.group == 'SSKD-same-width':  # the paper's kind of pair
            assert 'r20' in name and backbone.depth == 20, run.name
        else:  # one student size
            assert 'r18w8' in name, run.name
            assert backbone.base_channels == backbone.stem_channels == 8
        # its probe and fine-tune configs load the student's backbone
        for config in (run.probe, run.finetune):
            evaluated = load(config).model
            assert same_network(evaluated.backbone, backbone), (run.name,
                                                                config)
            assert evaluated.head.in_channels == width(backbone), run.name
        schedule.retarget(cfg, 'elsewhere')
        assert plan.DATA not in cfg.pretty_text, run.name
    for t in plan.TEACHERS:
        model = load(t.config).model
        probe = load(t.probe).model
        assert same_network(probe.backbone, model.backbone), t.name
        assert probe.head.in_channels == width(model.backbone), t.name
    teachers = {t.name for t in plan.TEACHERS}
    assert {r.teacher for r in students.values()} - {None} == teachers


def same_network(a, b) -> bool:
    """The same backbone type, depth and widths (what an exported backbone
    must match to load strictly)."""
    keys = ('type', 'depth', 'stem_channels', 'base_channels')
    return all(a.get(k) == b.get(k) for k in keys)


def width(backbone: dict) -> int:
    """Channels of the backbone's last output on a digit."""
    from mmengine.registry import DefaultScope

    from kd_plugins.registry import MODELS
    cfg = {k: v for k, v in backbone.items() if k != 'init_cfg'}
    with DefaultScope.overwrite_default_scope('kd_plugins'):
        net = MODELS.build(cfg)
    net.eval()  # (mmpretrain's ResNet.train returns None)
    with torch.no_grad():
        return net(torch.zeros(1, 3, 28, 28))[-1].shape[1]


def test_named_configs_differ_from_their_base_only_as_named():
    """Each config added for the benchmark is its ``_base_`` but for what
    its name says (the student's width, the data, the mode)."""
    w8 = {'backbone.stem_channels', 'backbone.base_channels'}
    pairs = [
        ('configs/ssld/supervised_r18w8_mnist5k.py',
         'configs/ssld/supervised_r18w4_mnist5k.py',
         {f'model.{k}' for k in w8} | {'model.head.in_channels'}),
        ('configs/ssld/ssld_r18w8_r18w16_mnist5k.py',
         'configs/ssld/ssld_r18w4_r18w16_mnist5k.py',
         {f'model.student.{k}' for k in w8}
         | {'model.student.head.in_channels'}),
        ('configs/ssld/ssld_r18w8_r18w16_mnist5k_labeled.py',
         'configs/ssld/ssld_r18w8_r18w16_mnist5k.py',
         {'train_dataloader.dataset.type',
          'train_dataloader.dataset.labeled',
          'train_dataloader.dataset.unlabeled',
          'train_dataloader.dataset.data_root',
          'train_dataloader.dataset.data_prefix',
          'train_dataloader.dataset.pipeline'}),
        ('configs/sskd/sskd_r18w8_r18w16_mnist5k_multi_loss.py',
         'configs/sskd/sskd_r18w8_r18w16_mnist5k.py',
         {'model.mode', 'work_dir'}),
        ('configs/seed/mocov2_r18w8_mnist5k.py',
         'configs/seed/mocov2_r18w16_mnist5k.py',
         {f'model.{k}' for k in w8} | {'model.neck.in_channels',
                                       'work_dir'}),
        ('configs/downstream/mnist5k/linear_probe_r18w16.py',
         'configs/downstream/mnist5k/linear_probe_r18w8.py',
         {'model.backbone.stem_channels', 'model.backbone.base_channels',
          'model.backbone.init_cfg.checkpoint', 'model.head.in_channels'}),
    ]
    for new, base, expected in pairs:
        a, b = load(new).to_dict(), load(base).to_dict()
        assert differences(a, b) == expected, new
    labeled = load('configs/ssld/ssld_r18w8_r18w16_mnist5k_labeled.py')
    assert labeled.train_dataloader.dataset == labeled.labeled_train


def test_ssld_ablation_differs_only_in_its_data(tmp_path):
    students = plan.students()
    cfgs = {n: as_run(students[n], str(tmp_path))
            for n in ('ssld', 'ssld_labeled')}
    mined = cfgs['ssld'].train_dataloader.dataset
    assert mined.type == 'LabeledUnlabeledDataset'
    assert mined.unlabeled.ann_file == str(
        tmp_path / 'ssld_mined' / 'unlabeled.txt')
    assert cfgs['ssld_labeled'].train_dataloader.dataset.type == \
        'CustomDataset'
    assert cfgs['ssld'].model == cfgs['ssld_labeled'].model


def test_only_keeps_baselines_teachers_and_their_tools(tmp_path):
    only = plan.students(['seed', 'kdep'])
    assert list(only) == ['supervised', 'kdep', 'mocov2', 'seed']
    assert [t.name for t in plan.teachers(only)] == ['supervised', 'mocov2']
    steps = plan.prepare_steps(only, str(tmp_path), 'd', 't.pth', 0, 10)
    assert [s.argv[0] for s in steps] == ['tools/kdep_svd.py',
                                         'tools/kdep_teacher_report.py']
    assert steps[0].out == plan.prepared_files(str(tmp_path))['kdep_basis']
    ssld = plan.students(['ssld'])
    steps = plan.prepare_steps(ssld, str(tmp_path), 'd', 't.pth', 0, 10)
    assert [s.argv[:2] for s in steps] == [['tools/ssld_mine.py',
                                           plan.SSLD_CONFIG]]
    assert plan.prepare_steps(plan.students(['byol']), str(tmp_path), 'd',
                              't.pth', 0, 10) == []


def test_unknown_run_is_refused_before_anything_runs(tmp_path):
    with pytest.raises(SystemExit, match='no run named'):
        plan.students(['kdep', 'nope'])
    with pytest.raises(SystemExit, match=r"no run named \['nope'\]"):
        command.main(['--only', 'kdep', 'nope', '--work-dir',
                      str(tmp_path / 'w'), '--data', str(tmp_path / 'd')])
    assert not (tmp_path / 'w').exists() and not (tmp_path / 'd').exists()


# -------------------------------------------------------------- schedule
@pytest.mark.parametrize('iters', [7, 250, 3000])
def test_set_iterations_scales_the_schedule(iters):
    cfg = load('configs/seed/mocov2_r18w16_mnist5k.py')
    schedule.set_iterations(cfg, iters)
    assert cfg.train_cfg.max_iters == iters
    assert cfg.default_hooks.checkpoint.interval == iters
    warm, cosine = cfg.param_scheduler
    assert 0 <= warm.begin < warm.end <= cosine.begin < cosine.end == iters
    assert cosine.T_max == cosine.end - cosine.begin


def test_sskd_epochs_match_the_stage_hook(mnist_root):
    from kd_plugins.methods.sskd.stage_hook import SSKDStageHook
    cfg = load('configs/sskd/sskd_r18w8_r18w16_mnist5k.py')
    schedule.retarget(cfg, mnist_root)
    schedule.set_iterations(cfg, 40)  # 100 images, batch 32: 4 per epoch
    spec = dict(next(h for h in cfg.custom_hooks
                     if h.type == 'SSKDStageHook'))
    spec.pop('type')
    hook = SSKDStageHook(**spec)  # milestones inside each phase

    class Algo:  # what total_epochs reads
        mode, num_stages = 'stagewise', 4
    assert cfg.train_cfg.max_epochs == 10 == hook.total_epochs(Algo())


def test_sskd_epochs_follow_the_students_stage_count(mnist_root):
    """ResNet-20 has three stages: three equal stages and the head."""
    cfg = load('configs/sskd/sskd_r20_r56_mnist5k.py')
    schedule.retarget(cfg, mnist_root)
    assert schedule.sskd_stages(cfg) == 3
    assert schedule.sskd_stages(
        load('configs/sskd/sskd_r18w8_r18w16_mnist5k.py')) == 4
    schedule.set_iterations(cfg, 100)  # 100 images, batch 32: 25 epochs
    hook = next(h for h in cfg.custom_hooks if h.type == 'SSKDStageHook')
    assert (hook.epochs_per_stage, hook.head_epochs) == (7, 4)
    assert cfg.train_cfg.max_epochs == 3 * 7 + 4
    assert all(0 < m < 7 for m in hook.milestones)


# ---------------------------------------------------------------- runner
def settings(work_dir, **kw) -> runner.Settings:
    base = dict(work_dir=str(work_dir), data='d', workers=0, verbose=False,
                student_iters=2, teacher_iters=2, ssl_teacher_iters=2,
                ft_iters=2)
    return runner.Settings(**dict(base, **kw))


def test_cache_reuses_only_the_same_settings(tmp_path):
    path = str(tmp_path / 'run' / 'result.json')
    r = runner.Runner(settings(tmp_path))
    saved = r.save(path, dict(settings=dict(iters=2, seed=0), top1=1.5))
    assert r.cached(path, dict(iters=2, seed=0)) == saved
    assert r.cached(path, dict(iters=3, seed=0)) is None
    assert r.cached(str(tmp_path / 'none.json'), {}) is None


def test_a_tool_step_is_reused_once_its_output_exists(tmp_path, capsys):
    out, src = tmp_path / 'out.txt', tmp_path / 'src.png'
    out.write_text('done')
    src.write_bytes(b'png')
    step = plan.Step('a step', ['tools/no_such_tool.py'], str(out),
                     copy=(str(src), str(tmp_path / 'copy.png')))
    runner.Runner(settings(tmp_path)).tool(step)  # never started
    assert 'a step: reused' in capsys.readouterr().out
    assert (tmp_path / 'copy.png').read_bytes() == b'png'


@pytest.mark.slow  # starts a process
def test_a_failed_tool_stops_the_command_and_names_its_log(tmp_path):
    step = plan.Step('a step', ['tools/no_such_tool.py'],
                     str(tmp_path / 'out.txt'))
    with pytest.raises(SystemExit, match='a step failed'):
        runner.Runner(settings(tmp_path)).tool(step)
    log = tmp_path / 'tools' / 'out.txt.console.log'
    assert 'no_such_tool.py' in log.read_text()


@pytest.mark.slow  # starts worker processes
def test_worker_pool_runs_each_job_under_its_tag(tmp_path):
    r = runner.Runner(settings(tmp_path))
    jobs = {'seed 0': ('tag', ), 'seed 1': ('tag', ), 'seed 2': ('tag', )}
    # getattr(runner, 'tag'): each job sees its worker's own Runner
    assert runner.run_jobs(getattr, jobs, r, 2) == {
        'seed 0': 'seed 0', 'seed 1': 'seed 1', 'seed 2': 'seed 2'}
    assert runner.run_jobs(getattr, jobs, r, 1) == dict.fromkeys(jobs, '')
    with pytest.raises(SystemExit, match=r'failed: seed 1 \(Attribute'):
        runner.run_jobs(getattr, {'seed 0': ('tag', ),
                                  'seed 1': ('no_such', )}, r, 2)


# ---------------------------------------------------------------- report
def test_summaries_over_seeds():
    assert report.summarise([1.0, None, 3.0]) == dict(mean=2.0, min=1.0,
                                                      max=3.0, n=2)
    assert report.summarise([None]) is None
    assert report.fmt(report.summarise([1.0, 3.0])) == '2.0 (1.0-3.0)'
    assert report.fmt(report.summarise([1.26])) == '1.3'
    assert report.fmt(None) == '-'


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


# ----------------------------------------------------------- the command
def effectiveness_sh() -> list:
    """``bash tools/effectiveness.sh`` for this interpreter's environment
    when it is the project's (set up: the script only checks it), else
    the Python entry it runs."""
    venv = osp.dirname(osp.dirname(PY))
    if osp.isfile(osp.join(venv, '.kd_plugins_env_v1')):
        return ['bash', 'tools/effectiveness.sh']
    return [PY, '-m', 'bench.effectiveness']


@pytest.mark.slow  # trains, in worker processes
def test_whole_command_on_a_small_split(tmp_path, mnist_root):
    """KDEP, its teacher and its baseline through the real command, a few
    steps each, two seeds in two worker processes; a second call (through
    tools/effectiveness.sh) reuses every finished run."""
    wd = tmp_path / 'eff'
    args = ['--only', 'kdep', '--data', mnist_root, '--work-dir', str(wd),
            '--seeds', '0', '1', '--jobs', '2', '--teacher-iters', '6',
            '--student-iters', '6', '--ft-iters', '3', '--tsne-per-class',
            '10']
    out = run_tool([PY, '-m', 'bench.effectiveness', *args])
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
    assert '[seed 1]' in out  # the second seed's worker reported
    for png in ('curves.png', 'kdep_teacher_tsne.png'):
        assert os.path.getsize(wd / png) > 1000
    table = (wd / 'results.md').read_text()
    assert 'KDEP, SVD + PTS' in table and table.strip() in out
    again = run_tool(effectiveness_sh() + args,
                     env=dict(KD_VENV=osp.dirname(osp.dirname(PY))))
    assert again.count('reused') >= 4
    assert 'training' not in again  # nothing retrained
    assert json.loads((wd / 'results.json').read_text())['students'] == \
        results['students']


@pytest.mark.slow  # starts a tool
def test_data_is_written_into_a_missing_folder(tmp_path):
    """The first step of a clean clone: the digits do not exist yet."""
    out = tmp_path / 'mnist'
    runner.Runner(settings(tmp_path / 'w')).tool(plan.Step(
        'MNIST-5k image folders', [
            'tools/prepare_mnist5k.py', '--out', str(out),
            '--val-per-class', '1', '--train-per-class', '1',
            '--unlabeled-per-class', '1'], str(out)))
    assert {'train', 'unlabeled', 'val'} <= set(os.listdir(out))
    assert (tmp_path / 'w' / 'tools' / 'mnist.console.log').is_file()
