"""What the effectiveness benchmark writes: the summaries over seeds,
``results.json`` (every number, every seed), ``results.md`` (the tables,
as printed), ``accuracy.png`` (per method, baseline beside it, seed spread
as error bars) and ``curves.png`` (training losses). The KDEP teacher's
t-SNE comes from tools/kdep_teacher_report.py (plan.prepare_steps)."""
import json
import os.path as osp
import statistics
from typing import Dict, List, Optional, Sequence

from bench.effectiveness.plan import GROUPS, Run

METRICS = (('knn', 'k-NN'), ('probe', 'linear probe'),
           ('finetune', 'fine-tune'))
KEYS = ('knn', 'probe', 'finetune', 'top1')


def summarise(values: Sequence[Optional[float]]) -> Optional[dict]:
    """mean, min, max and count of the values that are not None."""
    values = [v for v in values if v is not None]
    if not values:
        return None
    return dict(mean=statistics.fmean(values), min=min(values),
                max=max(values), n=len(values))


def summary(rows: List[dict]) -> dict:
    """One run's rows (one per seed) summarised per metric, and the rows
    themselves under ``per_seed``."""
    out = {key: summarise([r.get(key) for r in rows]) for key in KEYS}
    out['per_seed'] = [{key: r.get(key) for key in KEYS} for r in rows]
    return out


def results_of(teachers: Dict[str, dict], per_seed: Dict[int, dict],
               plan: Dict[str, Run]) -> dict:
    """``results.json`` without its meta: the teachers' results, and per
    student (in plan order) and for the random backbone the summaries
    over ``per_seed`` (seed -> name -> row, in seed order); a student's
    loss curve is the one of the first seed."""
    results = dict(teachers={}, students={}, random={})
    for name, t in teachers.items():
        results['teachers'][name] = dict(
            iters=t['iters'], top1=t['top1'], knn=t['knn'],
            probe=t['probe'], seconds=t['seconds'])
    seeds = list(per_seed)
    for name in plan:
        rows = [per_seed[s][name] for s in seeds]
        results['students'][name] = dict(summary(rows),
                                         scalars=rows[0]['scalars'])
    results['random'] = summary([per_seed[s]['random'] for s in seeds])
    return results


def fmt(s: Optional[dict]) -> str:
    if s is None:
        return '-'
    if s['n'] == 1:
        return f'{s["mean"]:.1f}'
    return f'{s["mean"]:.1f} ({s["min"]:.1f}-{s["max"]:.1f})'


def tables(results: dict, plan: Dict[str, Run], seeds: Sequence[int],
           meta: dict) -> str:
    """The tables of ``results.md``."""
    lines = [
        f'MNIST-5k held-out val top-1 (%), 1,000 digits; students 1/8-width '
        f'CIFAR ResNet-18 (SSKD-same-width: CIFAR ResNet-20), '
        f'{meta["student_iters"]} steps each, seeds '
        f'{", ".join(map(str, seeds))} (mean, min-max); fine-tune '
        f'{meta["ft_iters"]} steps.', '',
        '| group | student | ' + ' | '.join(t for _, t in METRICS)
        + ' | Δ probe | Δ fine-tune | own head |',
        '|---|---|---|---|---|---|---|---|']
    for name, run in plan.items():
        r = results['students'][name]
        base = results['students'].get(run.baseline)

        def delta(key):
            if base is None or r[key] is None or base[key] is None:
                return '-'
            return f'{r[key]["mean"] - base[key]["mean"]:+.1f}'
        lines.append(
            f'| {run.group} | {run.label} | '
            + ' | '.join(fmt(r[k]) for k, _ in METRICS)
            + f' | {delta("probe")} | {delta("finetune")} | '
            f'{fmt(r["top1"])} |')
    r = results['random']
    lines.append('| - | random init | ' + ' | '.join(
        fmt(r[k]) for k, _ in METRICS) + ' | - | - | - |')
    lines += ['', 'Teachers (1/4-width CIFAR ResNet-18; supervised_r56: '
              'CIFAR ResNet-56; seed 0):', '',
              '| teacher | steps | k-NN | linear probe | own head |',
              '|---|---|---|---|---|']
    for name, t in results['teachers'].items():
        lines.append(f'| {name} | {t["iters"]} | {t["knn"]:.1f} | '
                     f'{t["probe"]:.1f} | '
                     + ('-' if t['top1'] is None else f'{t["top1"]:.1f}')
                     + ' |')
    lines += ['', 'Δ: mean difference to the same-budget baseline of the '
              'group (supervised student for SSLD, SSKD, KDEP; ResNet-20 '
              "alone for SSKD-same-width; the student's own MoCo-v2 for "
              'SEED; its own BYOL for SimDis).',
              f'Total wall time {meta["minutes"]:.1f} min on '
              f'{meta["machine"]}.']
    return '\n'.join(lines)


def write(results: dict, plan: Dict[str, Run], seeds: Sequence[int],
          work_dir: str, plots: bool) -> str:
    """``results.json``, ``results.md`` and, with ``plots``,
    ``accuracy.png``; always ``curves.png``. Returns the tables."""
    text = tables(results, plan, seeds, results['meta'])
    with open(osp.join(work_dir, 'results.json'), 'w') as f:
        json.dump(results, f, indent=1)
    with open(osp.join(work_dir, 'results.md'), 'w') as f:
        f.write(text + '\n')
    if plots:
        plot_accuracy(results, plan, osp.join(work_dir, 'accuracy.png'))
    plot_training_curves(results, plan, osp.join(work_dir, 'curves.png'))
    return text


def _pyplot():
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def plot_accuracy(results: dict, plan: Dict[str, Run], out: str) -> None:
    """Linear probe and fine-tune per group, the baseline (grey) first,
    the seeds' spread as error bars, random init as a dashed line."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.5), sharey=True)
    for ax, key, title in zip(axes, ('probe', 'finetune'),
                              ('linear probe', 'fine-tune')):
        labels, means, errs, colours = [], [], [[], []], []
        for g in GROUPS:
            names = [n for n, r in plan.items() if r.group == g]
            base = next(plan[n].baseline for n in names
                        if plan[n].baseline)
            for n in [base] + [m for m in names if m != base]:
                s = results['students'][n][key]
                labels.append(f'{g}: {plan[n].label}')
                means.append(s['mean'])
                errs[0].append(s['mean'] - s['min'])
                errs[1].append(s['max'] - s['mean'])
                colours.append('0.7' if n == base else f'C{GROUPS.index(g)}')
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


def plot_training_curves(results: dict, plan: Dict[str, Run],
                         out: str) -> None:
    """The training loss of every student (first seed), one panel per
    group and one for the supervised baseline."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(GROUPS) + 1,
                             figsize=(3.3 * (len(GROUPS) + 1), 3.8))
    for ax, g in zip(axes, ('labels', ) + GROUPS):
        for n, r in plan.items():
            if r.group != g:
                continue
            rows = results['students'][n]['scalars']
            if rows:
                steps, loss = zip(*rows)
                ax.plot(steps, loss, label=r.label, linewidth=1)
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
