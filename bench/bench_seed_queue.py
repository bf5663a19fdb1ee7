"""Share of a SEED training step spent in the queue and the loss, on the CPU.

Prints  t(queue + loss) / t(SEED step)  for a ResNet-18 student and a
ResNet-50 teacher (mmpretrain, each with a SEEDHead to D = 128) at K = 65,536.
``queue + loss`` is everything SEED adds on top of the two networks: the copy
of the queue that the loss reads, the loss forward (B x (1+K) similarities
for teacher and student) and its backward to the student embedding, and the
FIFO enqueue. Target: <= 0.03.

The two measurements are interleaved round by round, in alternating order
(so slow drifts of a shared machine hit both alike); the median of the
per-round ratios and the ratio of the fastest times are printed.

    python bench/bench_seed_queue.py [--batch 16] [--size 224] [--rounds 5]
"""
import argparse
import statistics
import tempfile

import torch
import torch.nn.functional as F

import kd_plugins  # noqa: F401
from kd_plugins.registry import MODELS

from common import interleaved_rounds  # noqa: E402  (bench/ on sys.path)
from mmengine.optim import OptimWrapper
from mmengine.registry import DefaultScope


def encoder(depth: int, channels: int) -> dict:
    return dict(type='ImageClassifier',
                backbone=dict(type='ResNet', depth=depth, out_indices=(3, )),
                neck=dict(type='GlobalAveragePooling'),
                head=dict(type='SEEDHead', in_channels=channels,
                          out_channels=128))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--batch', type=int, default=16)
    parser.add_argument('--size', type=int, default=224)
    parser.add_argument('--K', type=int, default=65536)
    parser.add_argument('--rounds', type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)

    with tempfile.NamedTemporaryFile(suffix='.pth') as f:
        with DefaultScope.overwrite_default_scope('kd_plugins'):
            teacher_net = MODELS.build(encoder(50, 2048))
        torch.save(dict(state_dict=teacher_net.state_dict()), f.name)
        algo = MODELS.build(dict(
            type='SEED', student=encoder(18, 512), teacher=encoder(50, 2048),
            teacher_ckpt=f.name,
            queue=dict(type='SEEDQueue', K=args.K, dim=128)))
    algo.train()
    data = dict(inputs=[torch.randint(0, 256, (3, args.size, args.size),
                                      dtype=torch.uint8)
                        for _ in range(args.batch)])
    optim = OptimWrapper(torch.optim.SGD(algo.parameters(), lr=0.01,
                                         momentum=0.9))
    # the same embeddings shapes the step produces
    z_t = F.normalize(torch.randn(args.batch, 128), dim=1)
    z_s = F.normalize(torch.randn(args.batch, 128), dim=1).requires_grad_()

    def queue_and_loss():
        Q = algo.queue.queue.clone()  # K x D, as in SEED.loss
        algo.distill_loss(z_s, z_t, Q).backward()
        algo.queue.enqueue(z_t)

    runs = dict(step=lambda: algo.train_step(data, optim),
                queue_loss=queue_and_loss)
    times = interleaved_rounds(runs, args.rounds, digits=4)
    ratios = [q / s for s, q in zip(times['step'], times['queue_loss'])]
    best = {k: min(v) for k, v in times.items()}
    print(f'\nSEED ResNet-18 <- ResNet-50, K={args.K}, D=128, batch '
          f'{args.batch}, {args.size}x{args.size}, '
          f'{torch.get_num_threads()} threads, {args.rounds} rounds')
    print(f'step {statistics.median(times["step"]):.3f}s (median), '
          f'queue + loss {statistics.median(times["queue_loss"]) * 1e3:.1f}'
          f' ms (median)')
    print(f'share of the step: median of ratios '
          f'{statistics.median(ratios):.4f}, fastest times '
          f'{best["queue_loss"] / best["step"]:.4f}  (target <= 0.03)')


if __name__ == '__main__':
    main()
