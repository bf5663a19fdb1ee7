"""SSKD step cost against its floor and against its two parts, side by side.

For ResNet-18 <- ResNet-34 (mmpretrain), for each stage i (0-based below):

    floor_i = preprocessing of the batch
            + teacher forward up to stage i (no grad)
            + student forward of stages < i (no grad)
            + stage i forward and backward (+ connector, loss, SGD step)

computed by hand from the same modules, against the SSKD ``train_step`` in
stage i (target: ratio <= 1.05 per stage).

Distillation overhead, as for the other methods (target <= 1.03): over the
whole stage schedule (stages 1-4 summed),

    sum_i t(SSKD step_i) / sum_i (t(student step_i) + t(teacher fwd_i))

where student step_i is the student's own step in stage i without a teacher
(frozen prefix without gradients and BN in eval mode, stage i forward and
backward on the mean of its output, SGD step) and teacher fwd_i the frozen
teacher's backbone up to stage i (no grad), both built apart from SSKD.
Peak memory: the SSKD steps of all stages in one fresh process (the peak of
the schedule) against the same for the student steps plus the teacher
forwards (target <= 1.10).

Also stage 1's step against a full-network feature-KD step
(``mode='multi_loss'``: all four stage losses, full forwards), expected
well under one half (context).

    python bench/bench_sskd_stage_cost.py [--size 96] [--rounds 7]
"""
import os
import os.path as osp
import sys

if __name__ == '__main__':  # python bench/<script>.py: import bench.* too
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import torch
import torch.nn.functional as F

import kd_plugins  # noqa: F401
from bench.common import (
    DEVICE,
    classification_batch,
    distill_rows,
    fresh_inputs,
    interleaved_rounds,
    ratio_row,
    resnet,
    save_checkpoint,
    sgd,
    standalone,
)
from kd_plugins.core.teacher import build_frozen_teacher
from kd_plugins.methods.sskd import partition_backbone
from kd_plugins.registry import MODELS

NUM_STAGES = 4  # one per down-sampling point of a ResNet


def run_blocks(backbone, stages, x):
    """Run the blocks of ``stages`` of ``backbone`` on x, in order."""
    for st in stages:
        for b in st.blocks:
            x = backbone.get_submodule(b)(x)
    return x


def _student_steps(size, data):
    """Student step_i of a plain ResNet-18 classifier (no teacher)."""
    student = MODELS.build(resnet(18)).to(DEVICE).train()
    bb = student.backbone
    stages = partition_backbone(bb, None, (3, size, size), 'student')
    opt = sgd(student)
    inputs = fresh_inputs(data, student.data_preprocessor)

    def step(i):
        x = inputs()
        for st in stages[:i]:  # frozen prefix: eval-mode BN
            for b in st.blocks:
                bb.get_submodule(b).eval()
        with torch.no_grad():
            x = run_blocks(bb, stages[:i], x)
        opt.update_params(run_blocks(bb, stages[i:i + 1], x).mean())
        student.train()
    return step


def _teacher_forwards(size, ckpt):
    teacher = build_frozen_teacher(resnet(34), ckpt, 'eval').to(DEVICE)
    bb = teacher.model.backbone
    stages = partition_backbone(bb, None, (3, size, size), 'teacher')
    return lambda x, i: teacher.run(run_blocks, bb, stages[:i + 1], x)


def setup(parts, size: int, batch: int, workdir: str) -> dict:
    """Parts: 'sskd<i>', 'floor<i>', 'student<i>', 'teacher<i>' (i = 1..4),
    'feature_kd_full', and for memory 'distill' / 'student' / 'teacher' (the
    same over all stages in turn)."""
    path = os.path.join(workdir, 'r34.pth')
    ckpt = path if os.path.exists(path) else save_checkpoint(resnet(34),
                                                             path)
    data = classification_batch(size, batch)
    common = dict(student=resnet(18), teacher=resnet(34), teacher_ckpt=ckpt,
                  input_size=(3, size, size))
    stages = range(NUM_STAGES)
    runs = {}
    want = set(parts)
    if want & ({'distill', 'feature_kd_full'} |
               {f'{k}{i + 1}' for k in ('sskd', 'floor') for i in stages}):
        algo = MODELS.build(dict(type='SSKD', **common)).to(DEVICE)
        assert algo.num_stages == NUM_STAGES
        opt = sgd(algo)
        inputs = fresh_inputs(data, algo.data_preprocessor)
        s_bb, t_bb = algo.student.backbone, algo.teacher.model.backbone

        def floor(i):
            """The unavoidable work of a stage-i step, written out by hand
            (from the batch, as a step gets a new one each time)."""
            algo.set_phase(i)
            algo.train()
            x = inputs()
            with torch.no_grad():
                t = run_blocks(t_bb, algo.teacher_stages[:i + 1], x)
                s = run_blocks(s_bb, algo.stages[:i], x)
            s = run_blocks(s_bb, algo.stages[i:i + 1], s)
            s, t = algo.connectors[i](s, t)
            opt.update_params(F.mse_loss(s, t))

        def sskd_step(i):
            algo.set_phase(i)
            algo.train()
            algo.train_step(data, opt)
        for i in stages:
            runs[f'sskd{i + 1}'] = lambda i=i: sskd_step(i)
            runs[f'floor{i + 1}'] = lambda i=i: floor(i)
        runs['distill'] = lambda: [sskd_step(i) for i in stages]
    if want & ({'student'} | {f'student{i + 1}' for i in stages}):
        student_step = _student_steps(size, data)
        for i in stages:
            runs[f'student{i + 1}'] = lambda i=i: student_step(i)
        runs['student'] = lambda: [student_step(i) for i in stages]
    if want & ({'teacher'} | {f'teacher{i + 1}' for i in stages}):
        forward = _teacher_forwards(size, ckpt)
        t_inputs = fresh_inputs(data)
        for i in stages:
            runs[f'teacher{i + 1}'] = lambda i=i: forward(t_inputs(), i)
        runs['teacher'] = lambda: [forward(t_inputs(), i) for i in stages]
    if 'feature_kd_full' in want:
        multi = MODELS.build(dict(type='SSKD', mode='multi_loss',
                                  **common)).to(DEVICE)
        multi.set_phase(0)
        multi.train()
        opt_multi = sgd(multi)
        runs['feature_kd_full'] = lambda: multi.train_step(data, opt_multi)
    return {k: v for k, v in runs.items() if k in want}


def rows(workdir: str, size: int = 96, batch: int = 32, rounds: int = 7,
         memory: bool = True, threads: int = 1) -> list:
    kwargs = dict(size=size, batch=batch, workdir=workdir)
    parts = [f'{k}{i + 1}' for i in range(NUM_STAGES)
             for k in ('sskd', 'floor', 'student', 'teacher')]
    times = interleaved_rounds(setup(parts + ['feature_kd_full'], **kwargs),
                               rounds)
    out = [ratio_row(f'SSKD stage-{i + 1} step / floor', times,
                     f'sskd{i + 1}', f'floor{i + 1}', 1.05)
           for i in range(NUM_STAGES)]
    times['distill'] = [sum(r) for r in zip(*(
        times[f'sskd{i + 1}'] for i in range(NUM_STAGES)))]
    for k in ('student', 'teacher'):
        times[k] = [sum(r) for r in zip(*(
            times[f'{k}{i + 1}'] for i in range(NUM_STAGES)))]
    out += distill_rows('SSKD (stages 1-4)', 'bench.bench_sskd_stage_cost',
                        times, memory, threads=threads, **kwargs)
    out.append(ratio_row('SSKD stage-1 step / full feature-KD step', times,
                         'sskd1', 'feature_kd_full', None,
                         'expected well under 0.5'))
    return out


if __name__ == '__main__':
    torch.manual_seed(0)
    standalone(rows, __doc__, size=96, batch=32, rounds=7)
