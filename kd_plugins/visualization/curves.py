"""Training curves from mmengine's ``scalars.json`` as a PNG.

mmengine's LocalVisBackend writes one JSON record per logged iteration to
``<work_dir>/<timestamp>/vis_data/scalars.json``. :func:`plot_curves` draws
every logged scalar whose name matches one of the given prefixes against the
iteration, one line per name (for SSKD: ``loss_stage1..K`` for the stage being
trained and ``dist_stage1..K`` for the frozen stages' feature distances).
"""
import glob
import json
import os.path as osp
from typing import Dict, List, Sequence, Tuple


def find_scalars(work_dir: str) -> str:
    """The newest scalars.json of a work directory."""
    files = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                      'scalars.json')))
    if not files:
        raise FileNotFoundError(
            f'no */vis_data/scalars.json under {work_dir!r}: is it the '
            'work_dir of a tools/train.py run?')
    return files[-1]


def read_curves(scalars_json: str, prefixes: Sequence[str]
                ) -> Dict[str, List[Tuple[int, float]]]:
    curves: Dict[str, List[Tuple[int, float]]] = {}
    with open(scalars_json) as f:
        for line in f:
            rec = json.loads(line)
            step = rec.get('iter', rec.get('step'))
            for key, value in rec.items():
                if key.startswith(tuple(prefixes)) and \
                        isinstance(value, (int, float)):
                    curves.setdefault(key, []).append((step, float(value)))
    if not curves:
        raise ValueError(f'{scalars_json} logs nothing starting with '
                         f'{list(prefixes)}')
    return curves


def plot_curves(scalars_json: str, prefixes: Sequence[str], out_png: str,
                title: str = '', log_y: bool = True) -> List[str]:
    """Write the matching curves to ``out_png``; return their names."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    curves = read_curves(scalars_json, prefixes)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for name in sorted(curves):
        steps, values = zip(*curves[name])
        style = '--' if name.startswith('dist') else '-'
        ax.plot(steps, values, style, label=name, linewidth=1.2)
    ax.set_xlabel('iteration')
    ax.set_ylabel('value')
    if log_y and all(v > 0 for c in curves.values() for _, v in c):
        ax.set_yscale('log')
    ax.set_title(title or osp.basename(osp.dirname(osp.dirname(
        osp.dirname(scalars_json)))))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    fig.savefig(out_png, dpi=120)
    plt.close(fig)
    return sorted(curves)
