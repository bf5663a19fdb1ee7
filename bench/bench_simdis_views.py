"""Cost of SimDis' variants per training step, measured side by side.

The paper (Table 1) counts FLOPs per image: SimDis-Off (8.2G teacher
forwards + 1.8G student), SimDis-On (4.1G + 1.8G; the online teacher's
forwards serve its own BYOL loss too) and SimDis-On-7v (+12M for the five
extra predictors, "can be ignored"). This prints, for the ImageNet configs'
networks (ResNet-18 student, ResNet-50 teacher, 4096-wide MLPs, plain BN):

    t(SimDis-On-7v step) / t(SimDis-On step)   target <= 1.10 (extra views
                                               nearly free)
    t(SimDis-Off step) / t(SimDis-On step)     for reference

Rounds are interleaved in alternating order; the median of per-round ratios
and the ratio of the fastest times are printed (see bench_distill_overhead).

    python bench/bench_simdis_views.py [--size 96] [--batch 16] [--rounds 5]
"""
import argparse
import statistics
import tempfile

import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmpretrain.structures import DataSample

import kd_plugins  # noqa: F401
from kd_plugins.registry import MODELS

from common import interleaved_rounds  # noqa: E402  (bench/ on sys.path)

CFG = 'configs/simdis/simdis_{}_r18_r50_8xb128-sgd-100e_in1k.py'


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--batch', type=int, default=16)
    parser.add_argument('--size', type=int, default=96)
    parser.add_argument('--rounds', type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)
    cfgs = {k: Config.fromfile(CFG.format(k)).model
            for k in ('off', 'on', 'on7v')}
    with tempfile.NamedTemporaryFile(suffix='.pth') as f:
        byol = MODELS.build(cfgs['off'].teacher)
        torch.save(dict(state_dict=byol.state_dict()), f.name)
        cfgs['off'].teacher_ckpt = f.name
        algos = {k: MODELS.build(c) for k, c in cfgs.items()}
    for algo in algos.values():
        algo.init_weights()
        algo.mark_ema_driven()  # the EMA update itself is not timed
        algo.train()
    data = dict(
        inputs=[torch.randint(0, 256, (args.batch, 3, args.size, args.size),
                              dtype=torch.uint8) for _ in range(2)],
        data_samples=[DataSample() for _ in range(args.batch)])
    optims = {k: OptimWrapper(torch.optim.SGD(a.parameters(), lr=0.01,
                                              momentum=0.9))
              for k, a in algos.items()}
    runs = {k: (lambda k=k: algos[k].train_step(data, optims[k]))
            for k in algos}
    times = interleaved_rounds(runs, args.rounds)
    order = list(runs)
    best = {k: min(v) for k, v in times.items()}
    print(f'\nResNet-18 student, ResNet-50 teacher, batch {args.batch} x 2 '
          f'views, {args.size}x{args.size}, {torch.get_num_threads()} '
          f'threads, {args.rounds} rounds')
    for k in order:
        print(f'SimDis-{k:5s} step  median {statistics.median(times[k]):6.3f}'
              f' s  fastest {best[k]:6.3f} s')
    for a, b, note in (('on7v', 'on', 'target <= 1.10'),
                       ('off', 'on', 'reference')):
        ratios = [x / y for x, y in zip(times[a], times[b])]
        print(f'{a} / {b}: median of per-round ratios '
              f'{statistics.median(ratios):.3f}, ratio of fastest '
              f'{best[a] / best[b]:.3f}  ({note})')


if __name__ == '__main__':
    main()
