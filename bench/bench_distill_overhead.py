"""Distillation overhead of SSLD, measured side by side.

    t(SSLD step) / (t(student train step) + t(teacher no-grad forward))

for a ResNet-18 student and a ResNet-34 teacher (mmpretrain, 1000 classes).
Target: <= 1.03, i.e. the distillation machinery (frozen-teacher wrapper,
loss, data flow) costs at most 3% over the two unavoidable parts. The
student step is mmpretrain's own ``train_step`` (preprocessing, forward,
cross-entropy, backward, SGD); the teacher forward is the same frozen
teacher SSLD holds (BN in batch-statistics mode, as SSLD's default) on the
batch, preprocessed at each call as in a step (its ~0.1% preprocessing is
then counted on both reference parts).

Also the peak memory of an SSLD step against the student's training peak
plus the teacher's inference peak, each in a fresh process (see
bench/common.py for the definition). Target: <= 1.10.

The three timings are interleaved round by round, in alternating order; the
median of the per-round ratios and the ratio of the fastest runs are
printed. The other methods' rows are in the other bench scripts; all of
them: ``python bench/run_all.py``.

    python bench/bench_distill_overhead.py [--size 96] [--rounds 7]
"""
import os
import os.path as osp
import sys

if __name__ == '__main__':  # python bench/<script>.py: import bench.* too
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import torch

import kd_plugins  # noqa: F401
from bench.common import (
    DEVICE,
    classification_batch,
    distill_rows,
    fresh_inputs,
    interleaved_rounds,
    resnet,
    save_checkpoint,
    sgd,
    standalone,
)
from kd_plugins.core.teacher import build_frozen_teacher
from kd_plugins.registry import MODELS


def checkpoint(workdir: str) -> str:
    path = os.path.join(workdir, 'r34.pth')
    return path if os.path.exists(path) else save_checkpoint(resnet(34), path)


def setup(parts, size: int, batch: int, workdir: str) -> dict:
    """name -> callable for each requested part: 'distill' (an SSLD train
    step), 'student' (the student's train step), 'teacher' (the frozen
    teacher's forward on the batch)."""
    ckpt = checkpoint(workdir)
    data = classification_batch(size, batch)
    runs = {}
    if 'distill' in parts:
        algo = MODELS.build(dict(type='SSLD', student=resnet(18),
                                 teacher=resnet(34), teacher_ckpt=ckpt))
        algo.to(DEVICE).train()
        opt_algo = sgd(algo)
        runs['distill'] = lambda: algo.train_step(data, opt_algo)
    if 'student' in parts:
        student = MODELS.build(resnet(18)).to(DEVICE).train()
        opt_student = sgd(student)
        runs['student'] = lambda: student.train_step(data, opt_student)
    if 'teacher' in parts:
        teacher = build_frozen_teacher(resnet(34), ckpt, 'train').to(DEVICE)
        inputs = fresh_inputs(data)
        runs['teacher'] = lambda: teacher(inputs())
    return runs


def rows(workdir: str, size: int = 96, batch: int = 32, rounds: int = 7,
         memory: bool = True, threads: int = 1) -> list:
    kwargs = dict(size=size, batch=batch, workdir=workdir)
    times = interleaved_rounds(
        setup(('distill', 'student', 'teacher'), **kwargs), rounds)
    return distill_rows('SSLD', 'bench.bench_distill_overhead', times,
                        memory, threads=threads, **kwargs)


if __name__ == '__main__':
    torch.manual_seed(0)
    standalone(rows, __doc__, size=96, batch=32, rounds=7)
