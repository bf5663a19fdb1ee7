"""The whole overhead benchmark suite in one command, one table of ratios.

    python bench/run_all.py [--quick] [--size N] [--rounds N] [--png PATH]
    python -m bench.run_all ...             (the same)

Every ratio is measured side by side in the same run: the timings of a
ratio's parts are interleaved round by round in alternating order (so the
slow drifts of a shared machine hit all parts alike); absolute times are
printed as progress only. Per ratio the table gives the median of the
per-round ratios (which decides met/MISSED against the target), the ratio
of the fastest runs (the least disturbed run of each part), the target and
the verdict. Rows:

- ``<method> step / (student step + teacher fwd)`` for SSLD, SSKD (stages
  1-4 summed), KDEP (the teacher side includes the fixed-basis projection),
  SEED and SimDis-Off, target <= 1.03; the definitions of each reference
  are in the docstring of its bench script.
- ``SSKD stage-i step / floor`` (<= 1.05), ``SEED queue+loss / step``
  (<= 0.03), ``KDEP basis pass / inference pass`` (<= 1.05).
- Teacher cache (``cache``; bench/bench_teacher_cache.py), for SSLD, KDEP,
  SEED and SimDis-Off: ``<method> cached step / student-only step``
  (<= 1.05), ``<method> online step / student-only step`` (context: the
  live teacher) and ``<method> cache-writing pass / teacher inference
  pass`` (<= 1.10); then a table of the bytes a cache stores per crop and
  the projected size of an ImageNet-1k cache at each shipped config's
  epochs.
- ``<method> peak mem / (student + teacher)`` (<= 1.10): the peak memory of
  a distillation step against the student's training peak plus the
  teacher's inference peak; ``KDEP streaming basis peak mem`` at the
  largest against the smallest image count (<= 1.05: flat). Peak memory is
  measured in a fresh process per part: on the CPU the peak RSS over the
  process baseline (after the imports and a tiny warm-up step), on CUDA
  ``torch.cuda.max_memory_allocated`` over the allocated memory at the
  baseline (see bench/common.py).

Device: CUDA when available (timings synchronised), else the CPU with one
intra-op thread by default (``--threads``); the same command runs on both.
"""
import argparse
import os
import os.path as osp
import sys
import tempfile
import time
from typing import Optional

if __name__ == '__main__':  # python bench/run_all.py: import bench.* too
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import torch

from bench import (
    bench_distill_overhead,
    bench_kdep_svd,
    bench_seed_queue,
    bench_simdis_views,
    bench_sskd_stage_cost,
    bench_teacher_cache,
)
from bench.common import DEVICE, format_table, quiet_logs
from bench.process import set_threads

BENCHMARKS = ('ssld', 'sskd', 'kdep', 'seed', 'simdis', 'cache')


def settings(args) -> dict:
    """Keyword arguments of each bench script's ``rows``."""
    common = dict(rounds=args.rounds, memory=not args.no_memory,
                  threads=args.threads)
    size = args.size
    out = dict(
        ssld=dict(size=size or 96, batch=32),
        sskd=dict(size=size or 96, batch=32),
        kdep=dict(size=size or 96, batch=32, images=384, basis_size=64,
                  basis_rounds=max(2, args.rounds // 2),
                  memory_images=(1024, 4096), memory_size=16),
        seed=dict(size=size or 160, batch=16),
        simdis=dict(size=size or 96, batch=16, views=int(args.views)),
        cache=dict(size=size or 96, seed_size=size or 160, batch=16,
                   images=64),
    )
    if args.quick:  # a smoke run: tiny sizes, numbers not meaningful
        out = dict(
            ssld=dict(size=size or 32, batch=4),
            sskd=dict(size=size or 32, batch=4),
            kdep=dict(size=size or 32, batch=4, depth=18, images=16,
                      basis_size=32, basis_batch=8, basis_rounds=1,
                      memory_images=(16, 32), memory_size=32),
            seed=dict(size=size or 32, batch=4),
            simdis=dict(size=size or 32, batch=2, views=int(args.views)),
            cache=dict(size=size or 32, seed_size=size or 32, batch=2,
                       images=4),
        )
    for v in out.values():
        v.update(common)
    return out


def collect_rows(args, workdir: str, sizes: Optional[list] = None) -> list:
    """Every benchmark's rows; the teacher cache's size entries go to
    ``sizes`` when given (else its script prints them)."""
    scripts = dict(ssld=bench_distill_overhead, sskd=bench_sskd_stage_cost,
                   kdep=bench_kdep_svd, seed=bench_seed_queue,
                   simdis=bench_simdis_views, cache=bench_teacher_cache)
    conf = settings(args)
    rows = []
    start = time.perf_counter()
    for i, name in enumerate(args.only or BENCHMARKS):
        print(f'\n[{i + 1}/{len(args.only or BENCHMARKS)}] {name}: '
              f'{conf[name]}', flush=True)
        t0 = time.perf_counter()
        torch.manual_seed(0)
        extra = dict(sizes=sizes) if name == 'cache' else {}
        rows += scripts[name].rows(workdir=workdir, **conf[name], **extra)
        print(f'[{name}] done in {time.perf_counter() - t0:.0f} s '
              f'(total {time.perf_counter() - start:.0f} s)', flush=True)
    return rows


def plot(rows, path: str) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(rows) + 1))
    names = [r.name for r in rows][::-1]
    values = [r.median for r in rows][::-1]
    colors = ['tab:gray' if r.met is None else
              'tab:green' if r.met else 'tab:red' for r in rows][::-1]
    ax.barh(names, values, color=colors)
    for y, r in enumerate(rows[::-1]):
        if r.target is not None:
            ax.plot([r.target, r.target], [y - 0.4, y + 0.4], 'k-')
    ax.set_xlabel('ratio (median of per-round ratios); black: target')
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument('--quick', action='store_true',
                   help='tiny sizes, 1 round: checks that everything runs')
    p.add_argument('--size', type=int, default=0,
                   help='image size of every step benchmark (default: 96, '
                   'SEED 160; the cache rows: 96)')
    p.add_argument('--rounds', type=int, default=7)
    p.add_argument('--threads', type=int, default=1,
                   help='CPU intra-op threads (0 = torch default)')
    p.add_argument('--no-memory', action='store_true',
                   help='skip the peak-memory rows')
    p.add_argument('--views', action='store_true',
                   help='also SimDis-On-7v / SimDis-On')
    p.add_argument('--only', nargs='+', choices=BENCHMARKS)
    p.add_argument('--png', help='also draw the ratios to this file')
    return p


def main(argv=None) -> list:
    args = parser().parse_args(argv)
    if args.quick and args.rounds == 7:
        args.rounds = 1
    set_threads(args.threads)
    quiet_logs()
    sizes: list = []
    with tempfile.TemporaryDirectory() as workdir:
        rows = collect_rows(args, workdir, sizes)
    print(f'\n{DEVICE}'
          + (f' ({torch.cuda.get_device_name()})' if DEVICE == 'cuda'
             else f', {torch.get_num_threads()} threads, '
             f'{os.cpu_count()} cores')
          + f', {args.rounds} rounds, torch {torch.__version__}')
    print(format_table(rows), flush=True)
    if sizes:
        print('\n' + bench_teacher_cache.format_sizes(sizes), flush=True)
    if args.png:
        plot(rows, args.png)
        print(f'plot: {args.png}')
    return rows


if __name__ == '__main__':
    main()
