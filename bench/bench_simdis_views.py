"""SimDis' costs per training step, measured side by side.

1. SimDis-Off against its two parts, for the ImageNet configs' networks
   (ResNet-18 student, ResNet-50 teacher, 4096-wide MLPs, plain BN):

    t(SimDis-Off step) / (t(student BYOL step) + t(teacher forward))
                                                target <= 1.03

   The student BYOL step is the student pair alone: online projections of
   both views, the EMA target's projections (no grad), the predictor, the
   symmetric BYOL loss, backward, SGD; the teacher forward is the frozen
   teacher's EMA projections of both views (what SimDis-Off reads), both
   built apart from SimDis. Peak memory of the step against the two parts',
   each in a fresh process (target <= 1.10). The EMA update itself is not
   timed (EMATargetHook's work, the same with or without a teacher).

2. The paper (Table 1) counts FLOPs per image: SimDis-Off (8.2G teacher
   forwards + 1.8G student), SimDis-On (4.1G + 1.8G; the online teacher's
   forwards serve its own BYOL loss too) and SimDis-On-7v (+12M for the
   five extra predictors, "can be ignored"). ``--views`` also prints

    t(SimDis-On-7v step) / t(SimDis-On step)   target <= 1.10 (extra views
                                               nearly free)
    t(SimDis-Off step) / t(SimDis-On step)     for reference

Rounds are interleaved in alternating order; the median of per-round ratios
and the ratio of the fastest times are printed.

    python bench/bench_simdis_views.py [--size 96] [--batch 16] [--views 1]
"""
import os
import os.path as osp
import sys

if __name__ == '__main__':  # python bench/<script>.py: import bench.* too
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import torch
from mmengine.config import Config
from mmpretrain.structures import DataSample

import kd_plugins  # noqa: F401
from bench.common import (
    DEVICE,
    distill_rows,
    interleaved_rounds,
    ratio_row,
    save_checkpoint,
    sgd,
    standalone,
)
from kd_plugins.core.distiller import build_data_preprocessor
from kd_plugins.core.teacher import build_frozen_teacher
from kd_plugins.methods.simdis.byol_pair import (
    online_encoder,
    predict,
    project,
    target_encoder,
)
from kd_plugins.methods.simdis.loss import normalized_mse
from kd_plugins.methods.simdis.simdis import project_frozen
from kd_plugins.registry import MODELS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CFG = os.path.join(ROOT, 'configs/simdis/'
                   'simdis_{}_r18_r50_8xb128-sgd-100e_in1k.py')


def views_batch(size: int, batch: int) -> dict:
    g = torch.Generator().manual_seed(0)
    return dict(
        inputs=[torch.randint(0, 256, (batch, 3, size, size),
                              dtype=torch.uint8, generator=g)
                for _ in range(2)],
        data_samples=[DataSample() for _ in range(batch)])


def _algo(cfg, ckpt=None):
    if ckpt is not None:
        cfg.teacher_ckpt = ckpt
    algo = MODELS.build(cfg).to(DEVICE)
    algo.init_weights()
    algo.mark_ema_driven()  # the EMA update itself is not timed
    algo.train()
    return algo


def setup(parts, size: int, batch: int, workdir: str) -> dict:
    """Parts: 'distill' (a SimDis-Off train step), 'student' (the student
    BYOL step), 'teacher' (the frozen teacher's EMA projections of both
    views), 'on', 'on7v' (SimDis-On / -On-7v train steps)."""
    off = Config.fromfile(CFG.format('off')).model
    ckpt = os.path.join(workdir, 'byol_r50.pth')
    if not os.path.exists(ckpt):
        save_checkpoint(off.teacher, ckpt)
    data = views_batch(size, batch)
    runs = {}
    if 'distill' in parts:
        algo = _algo(off, ckpt)
        opt = sgd(algo)
        runs['distill'] = lambda: algo.train_step(data, opt)
    for k in ('on', 'on7v'):
        if k in parts:
            online = _algo(Config.fromfile(CFG.format(k)).model)
            opt_k = sgd(online)
            runs[k] = lambda a=online, o=opt_k: a.train_step(data, o)
    pre = build_data_preprocessor(off.get('data_preprocessor'),
                                  'SelfSupDataPreprocessor').to(DEVICE)
    if 'student' in parts:
        student = MODELS.build(off.student).to(DEVICE)
        student.init_weights()
        student.train()
        opt_student = sgd(student)
        s_online, s_target = online_encoder(student), target_encoder(student)

        def byol_step():
            v = pre(data, True)['inputs']
            z = (project(s_online, v[0]), project(s_online, v[1]))
            with torch.no_grad():
                t = (project(s_target, v[0]), project(s_target, v[1]))
            opt_student.update_params(
                normalized_mse(predict(student.head, z[0]), t[1]) +
                normalized_mse(predict(student.head, z[1]), t[0]))
        runs['student'] = byol_step
    if 'teacher' in parts:
        teacher = build_frozen_teacher(MODELS.build(off.teacher), ckpt,
                                       off.get('teacher_bn_mode', 'train'))
        teacher.to(DEVICE)
        enc = target_encoder(teacher.model)
        # both views preprocessed at each call, as in a step
        runs['teacher'] = lambda: [project_frozen(teacher, enc, v)
                                   for v in pre(data, True)['inputs']]
    return {k: v for k, v in runs.items() if k in parts}


def rows(workdir: str, size: int = 96, batch: int = 16, rounds: int = 7,
         memory: bool = True, threads: int = 1, views: int = 0) -> list:
    kwargs = dict(size=size, batch=batch, workdir=workdir)
    parts = ['distill', 'student', 'teacher'] + (['on', 'on7v']
                                                  if views else [])
    times = interleaved_rounds(setup(parts, **kwargs), rounds)
    out = distill_rows('SimDis-Off', 'bench.bench_simdis_views', times,
                       memory, threads=threads, **kwargs)
    if views:
        out += [ratio_row('SimDis-On-7v step / SimDis-On step', times,
                          'on7v', 'on', 1.10),
                ratio_row('SimDis-Off step / SimDis-On step', times,
                          'distill', 'on', None, 'reference')]
    return out


if __name__ == '__main__':
    torch.manual_seed(0)
    standalone(rows, __doc__, size=96, batch=16, rounds=7, views=1)
