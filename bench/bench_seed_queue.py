"""SEED: the queue's share of a step, and the step against its two parts.

For a ResNet-18 student and a ResNet-50 teacher (mmpretrain, each with a
SEEDHead to D = 128) at K = 65,536:

1. t(queue + loss) / t(SEED step), target <= 0.03. ``queue + loss`` is
   everything SEED adds on top of the two networks: the loss forward
   (B x (1+K) similarities for teacher and student, read from the queue
   itself) and its backward to the student embedding, and the FIFO enqueue
   after the update (``SEED.train_step``; the queue copy that ``loss()``
   alone needs is not made there).
2. t(SEED step) / (t(student encoder step) + t(teacher forward)), target
   <= 1.03: the student step is its embedding (preprocessing, forward, L2
   normalisation) trained on the embedding's mean, the teacher forward the
   frozen teacher's normalised embedding, both built apart from SEED.
3. Peak memory of a SEED step against the student step's plus the teacher
   forward's, each in a fresh process (target <= 1.10).

The runs are interleaved round by round, in alternating order; the median
of the per-round ratios and the ratio of the fastest times are printed. The
queue's share shrinks as the networks' cost grows with the image size (the
paper trains at 224 x 224).

    python bench/bench_seed_queue.py [--batch 16] [--size 160] [--rounds 7]
"""
import os
import os.path as osp
import sys

if __name__ == '__main__':  # python bench/<script>.py: import bench.* too
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import torch
import torch.nn.functional as F
from mmengine.registry import DefaultScope

import kd_plugins  # noqa: F401
from bench.common import (
    DEVICE,
    classification_batch,
    distill_rows,
    fresh_inputs,
    interleaved_rounds,
    ratio_row,
    save_checkpoint,
    sgd,
    standalone,
)
from kd_plugins.core.teacher import build_frozen_teacher
from kd_plugins.registry import MODELS

K = 65536


def encoder(depth: int, channels: int) -> dict:
    return dict(type='ImageClassifier',
                backbone=dict(type='ResNet', depth=depth, out_indices=(3, )),
                neck=dict(type='GlobalAveragePooling'),
                head=dict(type='SEEDHead', in_channels=channels,
                          out_channels=128))


def setup(parts, size: int, batch: int, workdir: str) -> dict:
    """Parts: 'distill' (a SEED train step), 'queue_loss', 'student',
    'teacher'."""
    ckpt = os.path.join(workdir, 'seed_r50.pth')
    with DefaultScope.overwrite_default_scope('kd_plugins'):
        if not os.path.exists(ckpt):
            save_checkpoint(encoder(50, 2048), ckpt)
        data = classification_batch(size, batch)
        runs = {}
        if {'distill', 'queue_loss'} & set(parts):
            algo = MODELS.build(dict(
                type='SEED', student=encoder(18, 512),
                teacher=encoder(50, 2048), teacher_ckpt=ckpt,
                queue=dict(type='SEEDQueue', K=K, dim=128))).to(DEVICE)
            algo.train()
            optim = sgd(algo)
            runs['distill'] = lambda: algo.train_step(data, optim)
            # the same embedding shapes the step produces
            z_t = F.normalize(torch.randn(batch, 128, device=DEVICE), dim=1)
            z_s = F.normalize(torch.randn(batch, 128, device=DEVICE),
                              dim=1).requires_grad_()

            def queue_and_loss():
                # as in SEED.train_step: the loss reads the queue itself
                # (K x D), its backward, then the enqueue
                algo.distill_loss(z_s, z_t, algo.queue.queue).backward()
                algo.queue.enqueue(z_t)
            runs['queue_loss'] = queue_and_loss
        if 'student' in parts:
            student = MODELS.build(encoder(18, 512)).to(DEVICE).train()
            opt_student = sgd(student)
            student_inputs = fresh_inputs(data, student.data_preprocessor)

            def student_step():
                x = student_inputs()
                opt_student.update_params(
                    F.normalize(student(x), dim=1).mean())
            runs['student'] = student_step
        if 'teacher' in parts:
            teacher = build_frozen_teacher(encoder(50, 2048), ckpt,
                                           'eval').to(DEVICE)
            inputs = fresh_inputs(data)
            runs['teacher'] = lambda: F.normalize(
                teacher(inputs(), mode='tensor'), dim=1)
    return {k: v for k, v in runs.items() if k in parts}


def rows(workdir: str, size: int = 160, batch: int = 16, rounds: int = 7,
         memory: bool = True, threads: int = 1) -> list:
    kwargs = dict(size=size, batch=batch, workdir=workdir)
    times = interleaved_rounds(
        setup(('distill', 'student', 'teacher', 'queue_loss'), **kwargs),
        rounds)
    return [ratio_row(f'SEED queue+loss / step (K={K})', times,
                      'queue_loss', 'distill', 0.03)] + \
        distill_rows('SEED', 'bench.bench_seed_queue', times, memory,
                     threads=threads, **kwargs)


if __name__ == '__main__':
    torch.manual_seed(0)
    standalone(rows, __doc__, size=160, batch=16, rounds=7)
