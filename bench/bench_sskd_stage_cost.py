"""SSKD step cost against its floor, measured side by side on the CPU.

For ResNet-18 <- ResNet-34 (mmpretrain, batch 32), for each stage i:

    floor_i = teacher forward up to stage i (no grad)
            + student forward of stages < i (no grad)
            + stage i forward and backward (+ connector, loss, SGD step)

computed by hand from the same modules, against the SSKD ``train_step`` in
stage i (target: ratio <= 1.05). Also stage 1's step against a full-network
feature-KD step (``mode='multi_loss'``: all four stage losses, full forwards),
expected well under one half.

Rounds are interleaved in alternating order; printed are the median of the
per-round ratios and the ratio of the fastest times (the least disturbed run
of each), as in bench_distill_overhead.py.

    python bench/bench_sskd_stage_cost.py [--size 224] [--rounds 5]
"""
import argparse
import statistics
import tempfile

import torch
import torch.nn.functional as F
from mmengine.optim import OptimWrapper
from mmpretrain.structures import DataSample

import kd_plugins  # noqa: F401
from kd_plugins.registry import MODELS

# bench/ is on sys.path
from common import interleaved_rounds, resnet  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--batch', type=int, default=32)
    parser.add_argument('--size', type=int, default=224)
    parser.add_argument('--rounds', type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)
    with tempfile.NamedTemporaryFile(suffix='.pth') as f:
        torch.save(dict(state_dict=MODELS.build(resnet(34)).state_dict()),
                   f.name)
        common = dict(student=resnet(18), teacher=resnet(34),
                      teacher_ckpt=f.name,
                      input_size=(3, args.size, args.size))
        algo = MODELS.build(dict(type='SSKD', **common))
        multi = MODELS.build(dict(type='SSKD', mode='multi_loss', **common))
    data = dict(
        inputs=[torch.randint(0, 256, (3, args.size, args.size),
                              dtype=torch.uint8) for _ in range(args.batch)],
        data_samples=[DataSample().set_gt_label(0)
                      for _ in range(args.batch)])
    x = algo.data_preprocessor(data, True)['inputs']
    opt = OptimWrapper(torch.optim.SGD(algo.parameters(), lr=0.01,
                                       momentum=0.9))
    opt_multi = OptimWrapper(torch.optim.SGD(multi.parameters(), lr=0.01,
                                             momentum=0.9))
    multi.set_phase(0)
    multi.train()
    s_bb = algo.student.backbone
    t_bb = algo.teacher.model.backbone

    def floor(i):
        """The unavoidable work of a stage-i step, written out by hand."""
        with torch.no_grad():
            t = x
            for st in algo.teacher_stages[:i + 1]:
                for b in st.blocks:
                    t = t_bb.get_submodule(b)(t)
            s = x
            for st in algo.stages[:i]:
                for b in st.blocks:
                    s = s_bb.get_submodule(b)(s)
        for b in algo.stages[i].blocks:
            s = s_bb.get_submodule(b)(s)
        s, t = algo.connectors[i](s, t)
        loss = F.mse_loss(s, t)
        opt.update_params(loss)

    def sskd_step(i):
        algo.set_phase(i)
        algo.train()
        algo.train_step(data, opt)

    runs = {}
    for i in range(algo.num_stages):
        runs[f'sskd_stage{i + 1}'] = lambda i=i: sskd_step(i)
        runs[f'floor_stage{i + 1}'] = lambda i=i: (algo.set_phase(i),
                                                   algo.train(), floor(i))
    runs['feature_kd_full'] = lambda: multi.train_step(data, opt_multi)
    times = interleaved_rounds(runs, args.rounds)

    def ratios(a, b):
        per_round = statistics.median(x / y for x, y in zip(times[a],
                                                            times[b]))
        return per_round, min(times[a]) / min(times[b])

    print(f'\nResNet-18 <- ResNet-34, batch {args.batch}, '
          f'{args.size}x{args.size}, {torch.get_num_threads()} threads, '
          f'{args.rounds} rounds')
    print('stage  SSKD step  floor   ratio: median/round  fastest  '
          '(target <= 1.05)')
    for i in range(algo.num_stages):
        a, b = f'sskd_stage{i + 1}', f'floor_stage{i + 1}'
        med, fast = ratios(a, b)
        print(f'{i + 1:>5}  {min(times[a]):8.3f}s  {min(times[b]):6.3f}s  '
              f'{med:17.3f}  {fast:7.3f}')
    med, fast = ratios('sskd_stage1', 'feature_kd_full')
    print(f'stage-1 step / full feature-KD step: median/round {med:.3f}, '
          f'fastest {fast:.3f} (full {min(times["feature_kd_full"]):.3f}s; '
          'expected well under 0.5)')


if __name__ == '__main__':
    main()
