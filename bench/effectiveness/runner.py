"""Run the planned jobs: train a config through mmengine's Runner, evaluate
a backbone, run a teacher-side tool; keep what finished and reuse it.

Every training run goes through mmengine's Runner from its named config,
as tools/train.py would run it (logs in the run's folder). A finished run
leaves ``<work-dir>/<run>/result.json`` (training) and ``eval.json``
(evaluation), with the settings it ran under; a later command with the same
settings reuses them. Jobs that can run side by side (the teachers, then
the seeds) go to a pool of worker processes with one torch thread each
(``run_jobs``).
"""
import contextlib
import json
import multiprocessing
import os
import os.path as osp
import shutil
import sys
import time
import traceback
from argparse import Namespace
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Sequence, Tuple

from bench.effectiveness.plan import (
    FT_CONFIG,
    PROBE_CONFIG,
    Run,
    Step,
    Teacher,
    prepared_files,
)
from bench.effectiveness.schedule import (
    quiet_loaders,
    retarget,
    set_iterations,
)
from bench.process import ROOT, run_python, set_threads


@dataclass(frozen=True)
class Settings:
    """What every job of one command shares (picklable, for the workers).
    ``work_dir``: absolute; ``data``: the MNIST-5k folders; ``workers``:
    data-loader processes per run; ``verbose``: mmengine's console output
    on the console instead of ``<work_dir>/console.log``."""
    work_dir: str
    data: str
    workers: int
    verbose: bool
    student_iters: int
    teacher_iters: int
    ssl_teacher_iters: int
    ft_iters: int


class Runner:
    """Runs jobs in this process under ``settings``; log lines carry
    ``tag`` (the job of a worker process) and the time since ``t0``."""

    def __init__(self, settings: Settings, tag: str = '',
                 t0: Optional[float] = None):
        self.s = settings
        self.wd = settings.work_dir
        self.tag = tag
        self.t0 = time.time() if t0 is None else t0

    def log(self, msg: str) -> None:
        m, s = divmod(int(time.time() - self.t0), 60)
        tag = f'[{self.tag}] ' if self.tag else ''
        print(f'{tag}[{m:3d}:{s:02d}] {msg}', flush=True)

    # ---------------------------------------------------------- the cache
    @staticmethod
    def cached(path: str, settings: dict) -> Optional[dict]:
        """The result saved at ``path`` if it ran under ``settings``."""
        if not osp.isfile(path):
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

    # --------------------------------------------------------------- jobs
    def train(self, name: str, config: str, iters: int, seed: int,
              options: Optional[dict] = None,
              teacher_ckpt: Optional[str] = None,
              from_cache: bool = False) -> dict:
        """Train ``config`` (with ``options``, dotted config keys, and
        ``teacher_ckpt`` as ``model.teacher_ckpt``) for ``iters`` steps
        through mmengine's Runner; return dict(ckpt, top1 (its own head,
        if it has one), seconds, scalars (the loss curve)). ``from_cache``:
        first write the teacher cache of the run's own epochs of views,
        then train from it."""
        from mmengine.config import Config

        from kd_plugins.cli import apply_dataloader_defaults, build_runner
        work_dir = osp.join(self.wd, name)
        settings = dict(config=config, iters=iters, seed=seed,
                        teacher=teacher_ckpt)
        if from_cache:
            settings['from_cache'] = True
        hit = self.cached(osp.join(work_dir, 'result.json'), settings)
        if hit:
            self.log(f'{name}: reused ({hit["seconds"]:.0f} s before)')
            return hit
        self.log(f'{name}: training {config} ({iters} steps, seed {seed})')
        t = time.time()
        cfg = Config.fromfile(osp.join(ROOT, config))
        options = dict(options or {})
        if teacher_ckpt is not None:
            options['model.teacher_ckpt'] = teacher_ckpt
        cfg.merge_from_dict(options)
        retarget(cfg, self.s.data)
        set_iterations(cfg, iters)
        quiet_loaders(cfg, self.s.workers)
        cfg.work_dir = work_dir
        cfg.launcher = 'none'
        cfg.randomness = dict(seed=seed)
        cfg.experiment_name = f'{name}_{int(time.time() * 1e3)}'
        apply_dataloader_defaults(cfg, Namespace(no_pin_memory=False))
        if from_cache:
            self.write_teacher_cache(name, cfg, iters)
        top1 = None
        with self.console(work_dir):
            mm_runner = build_runner(cfg)
            mm_runner.train()
            if cfg.get('val_cfg', None) is not None and \
                    cfg.get('val_dataloader', None) is not None:
                top1 = mm_runner.val()['accuracy/top1']
        with open(osp.join(work_dir, 'last_checkpoint')) as f:
            ckpt = f.read().strip()
        del mm_runner
        result = dict(settings=settings, ckpt=ckpt, top1=top1,
                      seconds=time.time() - t,
                      scalars=losses_of(work_dir))
        self.log(f'{name}: done in {result["seconds"]:.0f} s'
                 + ('' if top1 is None else f', own head {top1:.2f}'))
        return self.save(osp.join(work_dir, 'result.json'), result)

    def write_teacher_cache(self, name: str, cfg, iters: int) -> None:
        """The teacher cache of this run's ``iters`` steps (as many epochs
        of its data as they draw), written into its work dir; ``cfg`` is
        then set to train from it."""
        import math

        from mmengine.registry import DefaultScope

        from kd_plugins.core.teacher_cache import apply_teacher_cache
        from kd_plugins.core.teacher_cache.writer import write_cache
        from kd_plugins.registry import DATASETS
        with DefaultScope.overwrite_default_scope('kd_plugins'):
            size = len(DATASETS.build(cfg.train_dataloader.dataset))
        epochs = math.ceil(iters * cfg.train_dataloader.batch_size / size)
        cache = osp.join(cfg.work_dir, 'teacher_cache')
        t = time.time()
        with self.console(cfg.work_dir):
            write_cache(cfg, cache, epochs)
        self.log(f'{name}: teacher cache of {epochs} epochs x {size} '
                 f'images written in {time.time() - t:.0f} s')
        cfg.model.teacher_cache = cache
        with self.console(cfg.work_dir):
            apply_teacher_cache(cfg)

    def evaluate(self, name: str, ckpt: Optional[str], prefix: str,
                 seed: int, probe_config: str = PROBE_CONFIG,
                 ft_config: Optional[str] = FT_CONFIG) -> dict:
        """Export the backbone of ``ckpt`` (None: random init), then k-NN
        and linear probe through ``probe_config``'s model and data, and
        fine-tune through ``ft_config`` (None: not), on the held-out
        digits."""
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
        # 'normalised': k-NN and probe features from normalised inputs
        # (results of the probe before that fix are not reused)
        finetune = ft_config is not None
        settings = dict(ckpt=ckpt, seed=seed, ft_iters=self.s.ft_iters,
                        finetune=finetune, normalised=True)
        hit = self.cached(osp.join(out_dir, 'eval.json'), settings)
        if hit:
            return hit
        t = time.time()
        backbone = None
        if ckpt is not None:
            backbone = osp.join(out_dir, 'backbone.pth')
            export_backbone(ckpt, backbone, student_prefix=prefix)
        probe = Config.fromfile(osp.join(ROOT, probe_config))
        retarget(probe, self.s.data)
        quiet_loaders(probe, self.s.workers)
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
            ft = Config.fromfile(osp.join(ROOT, ft_config))
            retarget(ft, self.s.data)
            set_iterations(ft, self.s.ft_iters)
            quiet_loaders(ft, self.s.workers)
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

    def tool(self, step: Step) -> None:
        """Run ``step`` unless its output exists; then its copy, if any.
        The tool's output goes to ``<work-dir>/tools/<out>.console.log``
        (never into ``out``: a tool may refuse to write into a folder that
        already exists), or to the console with ``verbose``."""
        if osp.exists(step.out):
            self.log(f'{step.what}: reused {osp.relpath(step.out, ROOT)}')
        else:
            self.log(f'{step.what}: {" ".join(step.argv)}')
            os.makedirs(osp.join(self.wd, 'tools'), exist_ok=True)
            log = osp.join(self.wd, 'tools',
                           osp.basename(step.out) + '.console.log')
            done = run_python(step.argv, log=log, echo=self.s.verbose)
            if done.returncode:
                raise SystemExit(f'{step.what} failed (exit '
                                 f'{done.returncode}); its output: {log}')
        if step.copy:
            shutil.copyfile(*step.copy)

    @contextlib.contextmanager
    def console(self, work_dir: str):
        """Send mmengine's console output (config dumps, per-iteration
        logs, progress bars) to ``<work-dir>/console.log`` unless
        ``verbose``, so that the console shows one line per run."""
        if self.s.verbose:
            yield
            return
        f = console_file(osp.join(self.wd, 'console.log'))
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


_CONSOLE_FILES: Dict[str, object] = {}


def console_file(path: str):
    """``path`` opened for appending, once per process: it stays open for
    the whole command, as mmengine's loggers keep the stream they were
    created with."""
    if path not in _CONSOLE_FILES:
        os.makedirs(osp.dirname(path), exist_ok=True)
        _CONSOLE_FILES[path] = open(path, 'a')
    return _CONSOLE_FILES[path]


def losses_of(work_dir: str) -> list:
    """The run's logged training loss: [(iteration, loss), ...]."""
    from kd_plugins.visualization.curves import find_scalars, read_curves
    return read_curves(find_scalars(work_dir), ['loss'])['loss']


# ---------------------------------------------------------------- the jobs
def train_teacher(runner: Runner, teacher: Teacher) -> dict:
    """Train ``teacher`` (seed 0) and evaluate its backbone (k-NN, linear
    probe): dict(ckpt, iters, top1, knn, probe, seconds)."""
    iters = getattr(runner.s, teacher.steps)
    name = f'teacher_{teacher.name}'
    run = runner.train(name, teacher.config, iters, 0)
    ev = runner.evaluate(name, run['ckpt'], '', 0, teacher.probe,
                         ft_config=None)
    return dict(ckpt=run['ckpt'], iters=iters, top1=run['top1'],
                knn=ev['knn'], probe=ev['probe'], seconds=run['seconds'])


def run_seed(runner: Runner, plan: Sequence[Run], seed: int,
             ckpts: Dict[str, str]) -> Dict[str, dict]:
    """Every student of ``plan`` at ``seed``, from the teacher checkpoints
    ``ckpts``, then the evaluation of its backbone; and a randomly
    initialised backbone (``'random'``). name -> training and evaluation
    results."""
    files = prepared_files(runner.wd)
    rows = {}
    for k, run in enumerate(plan, 1):
        runner.log(f'--- student {k}/{len(plan)}: {run.label}, '
                   f'seed {seed}')
        tag = f'seed{seed}/{run.name}'
        tr = runner.train(tag, run.config, runner.s.student_iters, seed,
                          {key: files[f] for key, f in run.inputs},
                          ckpts.get(run.teacher), run.from_cache)
        ev = runner.evaluate(tag, tr['ckpt'], run.prefix, seed, run.probe,
                             run.finetune)
        rows[run.name] = dict(tr, **ev)
    rows['random'] = runner.evaluate(f'seed{seed}/random', None, '', seed)
    return rows


# ---------------------------------------------------------------- the pool
def _in_worker(job: Callable, settings: Settings, tag: str,
               args: Tuple) -> object:
    """A job in a worker process: its own Runner, log lines tagged."""
    return job(Runner(settings, tag), *args)


def _one_thread() -> None:
    set_threads(1)
    import kd_plugins  # noqa: F401  (registrations)


def run_jobs(job: Callable, jobs: Dict[str, Tuple], runner: Runner,
             processes: int) -> Dict[str, object]:
    """``job(runner, *args)`` for every ``tag -> args`` of ``jobs``; with
    ``processes`` > 1 and more than one job, in that many worker processes
    at once (started fresh, one torch thread each; each builds its own
    Runner with the same settings and tags its log lines). Returns tag ->
    result, in the order of ``jobs``; a failed job fails the command after
    the others finished."""
    if processes <= 1 or len(jobs) <= 1:
        return {tag: job(runner, *args) for tag, args in jobs.items()}
    for tag in jobs:
        runner.log(f'{tag}: in a worker process')
    # spawn: a fresh interpreter per worker, as tools/train.py would be,
    # never a fork of this process's torch thread pools
    context = multiprocessing.get_context('spawn')
    results, failed = {}, []
    with ProcessPoolExecutor(max_workers=min(processes, len(jobs)),
                             mp_context=context,
                             initializer=_one_thread) as pool:
        futures = {tag: pool.submit(_in_worker, job, runner.s, tag, args)
                   for tag, args in jobs.items()}
        for tag, future in futures.items():
            try:
                results[tag] = future.result()
            except (Exception, SystemExit) as e:  # reported at the end
                traceback.print_exception(type(e), e, e.__traceback__)
                failed.append(f'{tag} ({type(e).__name__}: {e})')
    if failed:
        raise SystemExit(f'failed: {"; ".join(failed)} (see the lines '
                         'above)')
    return results
