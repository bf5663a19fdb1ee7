"""Distillation overhead of SSLD on the CPU, measured side by side.

Prints  t(SSLD step) / (t(student train step) + t(teacher no-grad forward))
for a ResNet-18 student and a ResNet-34 teacher (mmpretrain, 1000 classes) at
batch 32. Target: <= 1.03, i.e. the distillation machinery (frozen-teacher
wrapper, loss, data flow) costs at most 3% over the two unavoidable parts.

The three measurements are interleaved round by round, in alternating order
(so slow drifts of a shared machine hit all three alike), and two estimates
are printed: the median of the per-round ratios, and the ratio of the
fastest times (the least disturbed run of each; the usual estimator on a
noisy machine).

    python bench/bench_distill_overhead.py [--size 224] [--rounds 11]
"""
import argparse
import statistics
import tempfile

import torch

import kd_plugins  # noqa: F401
from kd_plugins.registry import MODELS

# bench/ is on sys.path
from common import interleaved_rounds, resnet  # noqa: E402
from mmengine.optim import OptimWrapper
from mmpretrain.structures import DataSample


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--batch', type=int, default=32)
    parser.add_argument('--size', type=int, default=224)
    parser.add_argument('--rounds', type=int, default=11)
    args = parser.parse_args()
    torch.manual_seed(0)

    with tempfile.NamedTemporaryFile(suffix='.pth') as f:
        teacher_net = MODELS.build(resnet(34))
        torch.save(dict(state_dict=teacher_net.state_dict()), f.name)
        algo = MODELS.build(dict(type='SSLD', student=resnet(18),
                                 teacher=resnet(34), teacher_ckpt=f.name))
    student = MODELS.build(resnet(18))
    student.load_state_dict(algo.student.state_dict())
    teacher = algo.teacher  # the same frozen network SSLD uses
    algo.train()
    student.train()

    data = dict(
        inputs=[torch.randint(0, 256, (3, args.size, args.size),
                              dtype=torch.uint8) for _ in range(args.batch)],
        data_samples=[DataSample().set_gt_label(i % 1000)
                      for i in range(args.batch)])
    inputs = algo.data_preprocessor(data, True)['inputs']

    def sgd(model):
        return OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01,
                                            momentum=0.9))
    opt_student, opt_algo = sgd(student), sgd(algo)
    runs = dict(
        student=lambda: student.train_step(data, opt_student),
        teacher=lambda: teacher(inputs),
        ssld=lambda: algo.train_step(data, opt_algo))
    times = interleaved_rounds(runs, args.rounds)
    ratios = [d / (s + t) for s, t, d in zip(times['student'],
                                              times['teacher'],
                                              times['ssld'])]
    med = {k: statistics.median(v) for k, v in times.items()}
    best = {k: min(v) for k, v in times.items()}
    print(f'\nResNet-18 <- ResNet-34, batch {args.batch}, '
          f'{args.size}x{args.size}, {torch.get_num_threads()} threads, '
          f'{args.rounds} rounds')
    print('                    median   fastest')
    for k, name in (('student', 'student train step'),
                    ('teacher', 'teacher forward   '),
                    ('ssld', 'SSLD step         ')):
        print(f'{name}  {med[k]:6.3f} s  {best[k]:6.3f} s')
    print(f'SSLD / (student + teacher): median of per-round ratios '
          f'{statistics.median(ratios):.3f}, ratio of fastest '
          f'{best["ssld"] / (best["student"] + best["teacher"]):.3f}  '
          '(target <= 1.03)')


if __name__ == '__main__':
    main()
