"""The command: ``python -m bench.effectiveness`` (``bash
tools/effectiveness.sh`` sets up the environment first). The steps:

1. the teachers the planned runs need (seed 0), evaluated;
2. the teacher-side tools (SSLD's mined list, KDEP's basis and report);
3. every student, every seed, then its backbone's evaluation;
4. the report (results.json, results.md, accuracy.png, curves.png).
"""
import argparse
import os
import os.path as osp
import shutil
import time

from bench.effectiveness import __doc__ as OVERVIEW
from bench.effectiveness import plan as planning
from bench.effectiveness import report
from bench.effectiveness.runner import (
    Runner,
    Settings,
    run_jobs,
    run_seed,
    train_teacher,
)
from bench.process import ROOT, host_line, set_threads


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog='python -m bench.effectiveness', description=OVERVIEW,
        formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument('--work-dir', default='work_dirs/effectiveness')
    p.add_argument('--data', default=planning.DATA,
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
                   help='teachers, then seeds, trained at once, each in a '
                   'worker process with one thread (2 on 2 cores: tiny '
                   'networks use two cores better as two processes than '
                   'as two threads)')
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
    if len(set(args.seeds)) < len(args.seeds):
        p.error('--seeds: each seed once')
    return args


def main(argv=None) -> dict:
    """Run the benchmark; return results.json's content."""
    args = parse_args(argv)
    os.chdir(ROOT)
    import kd_plugins  # noqa: F401  (registrations, checkpoint fix)
    if args.jobs > 1 and not args.threads:
        args.threads = 1  # the rest of the command runs beside a worker
    set_threads(args.threads)
    plan = planning.students(args.only)  # checked before anything runs
    settings = Settings(
        work_dir=osp.abspath(args.work_dir), data=args.data,
        workers=args.workers, verbose=args.verbose,
        student_iters=args.student_iters, teacher_iters=args.teacher_iters,
        ssl_teacher_iters=args.ssl_teacher_iters, ft_iters=args.ft_iters)
    wd = settings.work_dir
    if args.fresh and osp.isdir(wd):
        shutil.rmtree(wd)  # nothing of an earlier run is reused
    runner = Runner(settings)
    if not osp.isdir(args.data):
        runner.tool(planning.Step(
            'MNIST-5k image folders',
            ['tools/prepare_mnist5k.py', '--out', args.data], args.data))

    # 1. teachers (seed 0)
    wanted = planning.teachers(plan)
    done = run_jobs(train_teacher,
                    {f'teacher {t.name}': (t, ) for t in wanted}, runner,
                    args.jobs)
    teachers = {t.name: done[f'teacher {t.name}'] for t in wanted}
    ckpts = {name: t['ckpt'] for name, t in teachers.items()}
    # 2. teacher-side preparation
    if 'supervised' in ckpts:
        for step in planning.prepare_steps(
                plan, wd, args.data, ckpts['supervised'], args.workers,
                args.tsne_per_class):
            runner.tool(step)
    # 3. students, every seed, then their backbones
    done = run_jobs(run_seed,
                    {f'seed {s}': (list(plan.values()), s, ckpts)
                     for s in args.seeds}, runner, args.jobs)
    per_seed = {s: done[f'seed {s}'] for s in args.seeds}

    # 4. report
    results = report.results_of(teachers, per_seed, plan)
    how = (f'up to {args.jobs} processes x 1 thread' if args.jobs > 1
           else f'{_torch_threads()} threads')
    results['meta'] = dict(
        seeds=args.seeds, student_iters=args.student_iters,
        ft_iters=args.ft_iters, teacher_iters=args.teacher_iters,
        ssl_teacher_iters=args.ssl_teacher_iters,
        minutes=(time.time() - runner.t0) / 60, machine=host_line(how))
    plots = not args.only and all(results['students'][n]['probe']
                                  for n in plan)
    text = report.write(results, plan, args.seeds, wd, plots)
    print('\n' + text)
    print(f'\nwritten: {osp.relpath(wd, ROOT)}/results.md, results.json, '
          'accuracy.png, curves.png, kdep_teacher_tsne.png')
    return results


def _torch_threads() -> int:
    import torch
    return torch.get_num_threads()
