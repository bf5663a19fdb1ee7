"""What the effectiveness benchmark runs: teachers, students, the
teacher-side preparation between them, and the evaluation configs.

Every run names the config file it trains, unchanged but for run-time
settings (``schedule.py``: steps, data folder, loaders; ``runner.py``: work
dir, seed) and the files it reads from earlier steps (``Run.inputs``: a
config key and the prepared file it takes). Students are the 1/8-width
CIFAR ResNet-18 of their config; teachers the 1/4-width one. SSKD also
runs in the paper's kind of pair: CIFAR ResNet-20 from ResNet-56, same
widths (group ``SSKD-same-width``, its own baseline, teacher, probe and
fine-tune configs).
"""
import os.path as osp
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Tuple

DATA = 'data/mnist5k'  # the MNIST-5k folder the configs read
PROBE_CONFIG = 'configs/downstream/mnist5k/linear_probe_r18w8.py'
FT_CONFIG = 'configs/downstream/mnist5k/finetune_r18w8.py'
R20_PROBE = 'configs/downstream/mnist5k/linear_probe_r20.py'
R20_FT = 'configs/downstream/mnist5k/finetune_r20.py'
GROUPS = ('SSLD', 'SSKD', 'SSKD-same-width', 'KDEP', 'SEED', 'SimDis')


@dataclass(frozen=True)
class Teacher:
    """A teacher, trained once (seed 0) for ``steps`` iterations (the name
    of a command-line setting), evaluated by k-NN and linear probe through
    ``probe`` (a config of its width)."""
    name: str
    config: str
    steps: str
    probe: str = 'configs/downstream/mnist5k/linear_probe_r18w16.py'


@dataclass(frozen=True)
class Run:
    """A student run, for every seed: ``config`` trained from ``teacher``'s
    checkpoint (``model.teacher_ckpt``; None: no teacher), its backbone
    exported from the keys under ``prefix``. ``inputs``: (config key,
    name of a prepared file, see ``prepare_steps``). ``baseline``: the
    same-budget run its deltas are taken against. ``from_cache``: the
    teacher's targets are first written by the teacher cache over the
    run's own epochs of data (docs/teacher_cache.md), then read; its
    baseline is the same run with the live teacher. ``probe``,
    ``finetune``: the evaluation configs of its backbone."""
    name: str
    label: str
    group: str
    config: str
    teacher: Optional[str] = None
    baseline: Optional[str] = None
    prefix: str = 'student.'
    inputs: Tuple[Tuple[str, str], ...] = ()
    from_cache: bool = False
    probe: str = PROBE_CONFIG
    finetune: str = FT_CONFIG


TEACHERS = (
    Teacher('supervised', 'configs/ssld/supervised_r18w16_mnist5k.py',
            'teacher_iters'),
    Teacher('mocov2', 'configs/seed/mocov2_r18w16_mnist5k.py',
            'ssl_teacher_iters'),
    Teacher('byol', 'configs/simdis/byol_r18w16_mnist5k.py',
            'ssl_teacher_iters'),
    Teacher('supervised_r56', 'configs/sskd/supervised_r56_mnist5k.py',
            'teacher_iters', 'configs/downstream/mnist5k/linear_probe_r56.py'),
)

SSLD_CONFIG = 'configs/ssld/ssld_r18w8_r18w16_mnist5k.py'
KDEP_CONFIG = 'configs/kdep/kdep_r18w8_r18w16_mnist5k.py'
MINED = ('train_dataloader.dataset.unlabeled.ann_file', 'ssld_mined')
BASIS = ('model.align.basis', 'kdep_basis')

STUDENTS = (
    Run('supervised', 'supervised (labels)', 'labels',
        'configs/ssld/supervised_r18w8_mnist5k.py', prefix=''),
    Run('ssld', 'SSLD, labeled + mined unlabeled', 'SSLD', SSLD_CONFIG,
        'supervised', 'supervised', inputs=(MINED, )),
    Run('ssld_cache', 'SSLD, from the teacher cache', 'SSLD', SSLD_CONFIG,
        'supervised', 'ssld', inputs=(MINED, ), from_cache=True),
    Run('ssld_labeled', 'SSLD, labeled only', 'SSLD',
        'configs/ssld/ssld_r18w8_r18w16_mnist5k_labeled.py', 'supervised',
        'supervised'),
    Run('sskd', 'SSKD, stage by stage', 'SSKD',
        'configs/sskd/sskd_r18w8_r18w16_mnist5k.py', 'supervised',
        'supervised'),
    Run('sskd_multi', 'SSKD multi-loss', 'SSKD',
        'configs/sskd/sskd_r18w8_r18w16_mnist5k_multi_loss.py',
        'supervised', 'supervised'),
    Run('supervised_r20', 'ResNet-20 alone (labels)', 'SSKD-same-width',
        'configs/sskd/supervised_r20_mnist5k.py', prefix='', probe=R20_PROBE,
        finetune=R20_FT),
    Run('sskd_r20', 'SSKD ResNet-20 <- 56, stage by stage',
        'SSKD-same-width', 'configs/sskd/sskd_r20_r56_mnist5k.py',
        'supervised_r56', 'supervised_r20', probe=R20_PROBE,
        finetune=R20_FT),
    Run('sskd_r20_multi', 'SSKD ResNet-20 <- 56, multi-loss',
        'SSKD-same-width', 'configs/sskd/sskd_r20_r56_mnist5k_multi_loss.py',
        'supervised_r56', 'supervised_r20', probe=R20_PROBE,
        finetune=R20_FT),
    Run('kdep', 'KDEP, SVD + PTS', 'KDEP', KDEP_CONFIG, 'supervised',
        'supervised', inputs=(BASIS, )),
    Run('kdep_cache', 'KDEP, from the teacher cache', 'KDEP', KDEP_CONFIG,
        'supervised', 'kdep', inputs=(BASIS, ), from_cache=True),
    Run('kdep_conv', 'KDEP, 1x1 conv (pre-ReLU)', 'KDEP',
        'configs/kdep/kdep_r18w8_r18w16_mnist5k_conv.py', 'supervised',
        'supervised'),
    Run('mocov2', "student's own MoCo-v2", 'SEED',
        'configs/seed/mocov2_r18w8_mnist5k.py', prefix=''),
    Run('seed', 'SEED from MoCo-v2', 'SEED',
        'configs/seed/seed_r18w8_mocov2r18w16_mnist5k.py', 'mocov2',
        'mocov2'),
    Run('seed_cache', 'SEED, from the teacher cache', 'SEED',
        'configs/seed/seed_r18w8_mocov2r18w16_mnist5k.py', 'mocov2', 'seed',
        from_cache=True),
    Run('byol', "student's own BYOL", 'SimDis',
        'configs/simdis/byol_r18w8_mnist5k.py', prefix=''),
    Run('simdis', 'SimDis-Off from BYOL', 'SimDis',
        'configs/simdis/simdis_off_r18w8_mnist5k.py', 'byol', 'byol'),
    Run('simdis_cache', 'SimDis-Off, from the teacher cache', 'SimDis',
        'configs/simdis/simdis_off_r18w8_mnist5k.py', 'byol', 'simdis',
        from_cache=True),
)


def students(only: Optional[Iterable[str]] = None) -> Dict[str, Run]:
    """The student runs in table order: all, or ``only`` these and their
    baselines. An unknown name exits with the list of runs."""
    plan = {r.name: r for r in STUDENTS}
    if only is None:
        return plan
    only = list(only)
    unknown = sorted(set(only) - set(plan))
    if unknown:
        raise SystemExit(f'--only: no run named {unknown}; runs: '
                         f'{", ".join(plan)}')
    keep = set(only) | {plan[n].baseline for n in only}
    return {n: r for n, r in plan.items() if n in keep}


def teachers(plan: Dict[str, Run]) -> List[Teacher]:
    """The teachers the runs of ``plan`` learn from, in table order."""
    needed = {r.teacher for r in plan.values()}
    return [t for t in TEACHERS if t.name in needed]


@dataclass(frozen=True)
class Step:
    """A teacher-side tool run between the teachers and the students:
    ``python ARGV`` writes ``out`` (kept and reused once it exists); then
    ``copy`` (source, destination), if given, is copied."""
    what: str
    argv: List[str]
    out: str
    copy: Tuple[str, ...] = ()


def prepared_files(work_dir: str) -> Dict[str, str]:
    """Where each prepared file of ``Run.inputs`` is written."""
    return dict(ssld_mined=osp.join(work_dir, 'ssld_mined', 'unlabeled.txt'),
                kdep_basis=osp.join(work_dir, 'kdep_basis.pth'))


def prepare_steps(plan: Dict[str, Run], work_dir: str, data: str,
                  teacher_ckpt: str, workers: int,
                  tsne_per_class: int) -> List[Step]:
    """The tool runs the students of ``plan`` need, in order: SSLD's mined
    unlabeled list; KDEP's SVD basis and its teacher report (Std Ratio,
    t-SNE, written to ``kdep_teacher_report/``). All read the supervised
    teacher's checkpoint ``teacher_ckpt``."""
    files = prepared_files(work_dir)
    wanted = {name for r in plan.values() for _, name in r.inputs}
    on_data = ['--cfg-options', f'train_dataloader.dataset.data_root={data}']
    common = ['--checkpoint', teacher_ckpt]
    steps = []
    if 'ssld_mined' in wanted:
        steps.append(Step(
            'SSLD: mine the unlabeled digits with the teacher',
            ['tools/ssld_mine.py', SSLD_CONFIG, *common, '--gallery',
             f'{data}/unlabeled', '--val', f'{data}/val', '--out',
             files['ssld_mined'], '--topk', '250', '--num-workers',
             str(workers)], files['ssld_mined']))
    if 'kdep_basis' in wanted:
        report = osp.join(work_dir, 'kdep_teacher_report')
        steps += [
            Step('KDEP: SVD basis of the teacher',
                 ['tools/kdep_svd.py', KDEP_CONFIG, *common, '--out',
                  files['kdep_basis'], '--num-workers', str(workers),
                  *on_data], files['kdep_basis']),
            Step('KDEP: teacher report (Std Ratio, t-SNE)',
                 ['tools/kdep_teacher_report.py', KDEP_CONFIG, *common,
                  '--basis', files['kdep_basis'], '--out-dir', report,
                  '--per-class', str(tsne_per_class), '--num-workers',
                  str(workers), *on_data], osp.join(report, 'report.json'),
                 copy=(osp.join(report, 'tsne_teacher.png'),
                       osp.join(work_dir, 'kdep_teacher_tsne.png')))]
    return steps
