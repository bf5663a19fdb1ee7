"""KDEP's costs, measured side by side: the distillation step and the basis
pass (tools/kdep_svd.py).

1. Step: t(KDEP step) / (t(student step) + t(teacher forward + projection)),
   target <= 1.03. ResNet-18 backbone student, ResNet-34 teacher (D = 512).
   The student step is the bare backbone (preprocessing, forward, pooled
   last feature, MSE to a fixed target, backward, SGD); the reference
   teacher forward is the frozen teacher's backbone without gradients, its
   pooled feature and the fixed-basis projection ``(f - mean) @ V_d``, all
   built apart from KDEP. Peak memory of the step against the two parts',
   each in a fresh process (target <= 1.10).
2. Basis time: the teacher pass of ``compute_kdep_basis`` (frozen teacher,
   every pooled pre-ReLU feature streamed into the D x D statistics)
   against one plain inference pass of the same teacher over the same
   images (backbone forward), target <= 1.05. The solve (eigh, O(D^3),
   independent of the image count) and the save are timed apart.
3. Basis peak memory against the image count, each pass in a fresh process:
   the streaming basis must stay flat (peak at the largest count over the
   peak at the smallest, target <= 1.05); the official code's approach
   (stack all N x D features, then one SVD) is shown for context. Peak
   memory here is counted from the first batch on (the peak reset when the
   first batch reaches the preprocessor, so that building and loading the
   teacher do not hide a growth), over the process baseline after imports;
   the images are generated on the fly so that only the pass can grow.

Images are synthetic (a decoder would only add the same time to both
sides). ResNet-50 teacher (D = 2048) for 2 and 3.

    python bench/bench_kdep_svd.py [--images 384] [--rounds 3]
"""
import contextlib
import os
import os.path as osp
import sys
import tempfile
import time

if __name__ == '__main__':  # python bench/<script>.py: import bench.* too
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import torch
import torch.nn.functional as F
from mmengine.dataset import pseudo_collate
from mmpretrain.structures import DataSample
from torch.utils.data import DataLoader, Dataset

import kd_plugins  # noqa: F401
from bench import common
from bench.common import (
    DEVICE,
    Row,
    classification_batch,
    distill_rows,
    fresh_inputs,
    interleaved_rounds,
    memory_now_mb,
    peak_mb,
    ratio_row,
    reset_peak,
    resnet,
    run_child,
    save_checkpoint,
    sgd,
    standalone,
    sync,
    warm_up_process,
)
from kd_plugins.core.checkpoint import weights_sha256
from kd_plugins.core.distiller import build_data_preprocessor
from kd_plugins.core.teacher import build_frozen_teacher
from kd_plugins.methods.kdep import StreamingBasis, save_basis
from kd_plugins.methods.kdep.basis import load_basis
from kd_plugins.methods.kdep.pre_relu import (
    PreReLUTap,
    backbone_of,
    global_avg_pool,
)
from kd_plugins.methods.kdep.svd_projection import svd_project
from kd_plugins.methods.kdep.teacher_pass import compute_kdep_basis
from kd_plugins.registry import MODELS

PREPROCESSOR = dict(mean=[123.675, 116.28, 103.53],
                    std=[58.395, 57.12, 57.375], to_rgb=True)


# ------------------------------------------------------ 1. the distill step
def _basis_for(teacher: dict, ckpt: str, path: str, size: int) -> str:
    """A basis of the teacher's real pre-ReLU features on random images."""
    net = build_frozen_teacher(teacher, ckpt, 'eval')
    tap = PreReLUTap(net.model, 'teacher')
    stats = StreamingBasis(tap.channels)
    g = torch.Generator().manual_seed(0)
    for _ in range(4):
        net.run(backbone_of(net.model),
                torch.randn(32, 3, size, size, generator=g))
        stats.update(tap.pop())
    save_basis(path, stats.solve(), stats.n, tap.layer, 'teacher',
               weights_sha256(net.model.state_dict()), ckpt)
    return path


def setup(parts, size: int, batch: int, workdir: str) -> dict:
    """Parts: 'distill' (a KDEP train step), 'student', 'teacher'."""
    ckpt = os.path.join(workdir, 'r34.pth')
    if not os.path.exists(ckpt):
        save_checkpoint(resnet(34), ckpt)
    basis = os.path.join(workdir, f'kdep_r34_basis_{size}.pth')
    if not os.path.exists(basis):
        _basis_for(resnet(34), ckpt, basis, size)
    student_cfg = resnet(18)['backbone']  # a bare backbone, as the configs
    data = classification_batch(size, batch)
    runs = {}
    if 'distill' in parts:
        algo = MODELS.build(dict(
            type='KDEP', student=student_cfg, teacher=resnet(34),
            teacher_ckpt=ckpt, align=dict(type='SVDProjection',
                                          basis=basis))).to(DEVICE).train()
        opt = sgd(algo)
        runs['distill'] = lambda: algo.train_step(data, opt)
    if 'student' in parts:
        student = MODELS.build(student_cfg).to(DEVICE)
        student.train()  # (mmpretrain's ResNet.train returns None)
        pre = build_data_preprocessor(None).to(DEVICE)
        target = torch.randn(batch, 512, device=DEVICE)
        opt_student = sgd(student)

        def student_step():
            x = pre(data, True)['inputs']
            f = global_avg_pool(student(x)[-1])  # N x 512
            opt_student.update_params(F.mse_loss(f, target))
        runs['student'] = student_step
    if 'teacher' in parts:
        teacher = build_frozen_teacher(resnet(34), ckpt, 'eval').to(DEVICE)
        record = load_basis(basis, weights_sha256(
            teacher.model.state_dict()))
        mean = record['mean'].float().to(DEVICE)
        V_d = record['V'][:, :512].float().contiguous().to(DEVICE)
        inputs = fresh_inputs(data)
        bb = backbone_of(teacher.model)

        def teacher_forward():
            f = global_avg_pool(teacher.run(bb, inputs())[-1])
            return svd_project(f, mean, V_d)
        runs['teacher'] = teacher_forward
    return runs


# ------------------------------------------------------- 2. the basis pass
def teacher_cfg(depth: int) -> dict:
    return resnet(depth)


class SyntheticImages(Dataset):
    """N random uint8 images in mmpretrain's packed form: generated once and
    held in memory, or (``on_the_fly``) drawn from a per-index seed."""

    def __init__(self, n: int, size: int, on_the_fly: bool = False) -> None:
        self.n, self.size, self.on_the_fly = n, size, on_the_fly
        if not on_the_fly:
            g = torch.Generator().manual_seed(0)
            self.images = torch.randint(0, 256, (n, 3, size, size),
                                        dtype=torch.uint8, generator=g)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict:
        if self.on_the_fly:
            g = torch.Generator().manual_seed(i)
            image = torch.randint(0, 256, (3, self.size, self.size),
                                  dtype=torch.uint8, generator=g)
        else:
            image = self.images[i]
        return dict(inputs=image, data_samples=DataSample())


@contextlib.contextmanager
def quiet():
    """Silence stdout at the file-descriptor level (progress bars hold their
    own reference to the original sys.stdout)."""
    sys.stdout.flush()
    saved = os.dup(1)
    with open(os.devnull, 'w') as null:
        os.dup2(null.fileno(), 1)
        try:
            yield
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)


def _loader(data: Dataset, batch: int) -> DataLoader:
    return DataLoader(data, batch_size=batch, shuffle=False, num_workers=0,
                      collate_fn=pseudo_collate)


def plain_pass(teacher: dict, ckpt: str, data: Dataset, batch: int
               ) -> float:
    """One inference pass of the teacher's backbone; the features are
    dropped, as a test run would do with its outputs. Returns the seconds
    of the pass itself (after building and loading the teacher)."""
    net = build_frozen_teacher(teacher, ckpt, 'eval').to(DEVICE)
    pre = build_data_preprocessor(PREPROCESSOR).to(DEVICE)
    sync()
    t0 = time.perf_counter()
    for b in _loader(data, batch):
        net.run(backbone_of(net.model), pre(b, False)['inputs'])
    sync()
    return time.perf_counter() - t0


def stacked_basis(teacher: dict, ckpt: str, data: Dataset, batch: int):
    """The official code's approach: keep all N x D features, one SVD."""
    net = build_frozen_teacher(teacher, ckpt, 'eval').to(DEVICE)
    tap = PreReLUTap(net.model, 'teacher')
    pre = build_data_preprocessor(PREPROCESSOR).to(DEVICE)
    feats = []
    for b in _loader(data, batch):
        net.run(backbone_of(net.model), pre(b, False)['inputs'])
        feats.append(tap.pop())
    X = torch.cat(feats)  # N x D
    mean = X.mean(0)
    return mean, torch.linalg.svd(X - mean, full_matrices=False)


def streaming_basis(teacher: dict, ckpt: str, data: Dataset, batch: int,
                    out: str):
    with quiet():
        return compute_kdep_basis(teacher, ckpt, data, PREPROCESSOR, out,
                                  batch, 0, DEVICE)


def basis_time_rows(workdir: str, depth: int, images: int, size: int,
                    batch: int, rounds: int) -> list:
    teacher = teacher_cfg(depth)
    data = SyntheticImages(images, size)
    ckpt = os.path.join(workdir, f'r{depth}.pth')
    if not os.path.exists(ckpt):
        save_checkpoint(teacher, ckpt)
    out = os.path.join(workdir, 'basis.pth')
    loops = dict(plain=[], basis=[], solve=[])

    def basis():
        result = streaming_basis(teacher, ckpt, data, batch, out)
        loops['basis'].append(result.pass_seconds)
        loops['solve'].append(result.solve_seconds)

    def plain():
        with quiet():
            loops['plain'].append(plain_pass(teacher, ckpt, data, batch))

    interleaved_rounds(dict(inference=plain, basis=basis), rounds, digits=1)
    loops = {k: v[1:] for k, v in loops.items()}  # without the warm-up
    print(f'KDEP basis: ResNet-{depth} teacher, {images} images '
          f'{size}x{size}, batch {batch}; passes: inference '
          f'{[round(t, 2) for t in loops["plain"]]} s, basis '
          f'{[round(t, 2) for t in loops["basis"]]} s; solve + save '
          f'{[round(t, 2) for t in loops["solve"]]} s (fixed, O(D^3))',
          flush=True)
    return [ratio_row('KDEP basis pass / inference pass', loops, 'basis',
                      'plain', 1.05)]


# ------------------------------------------------- 3. basis peak memory
def basis_peak(mode: str, n: int, size: int, ckpt: str, depth: int,
               batch: int) -> float:
    """Run one pass and return its peak memory (MB over the memory in use
    before it) from the first batch on: building and loading the teacher
    (the same for every mode) peaks higher than a feature loop and would
    hide its growth."""
    from mmpretrain.models.utils.data_preprocessor import ClsDataPreprocessor
    teacher = teacher_cfg(depth)
    data = SyntheticImages(n, size, on_the_fly=True)
    sync()
    baseline = memory_now_mb()
    forward = ClsDataPreprocessor.forward
    first = dict(done=False)

    def once(*args, **kwargs):
        if not first['done']:
            first['done'] = True
            sync()
            reset_peak()
        return forward(*args, **kwargs)

    # the first batch reaching the preprocessor starts the measurement
    ClsDataPreprocessor.forward = once
    try:
        with tempfile.TemporaryDirectory() as tmp, quiet():
            if mode == 'inference':
                plain_pass(teacher, ckpt, data, batch)
            elif mode == 'streaming':
                streaming_basis(teacher, ckpt, data, batch,
                                os.path.join(tmp, 'b.pth'))
            else:
                stacked_basis(teacher, ckpt, data, batch)
    finally:
        ClsDataPreprocessor.forward = forward
    assert first['done'], 'the preprocessor never ran'
    sync()
    return peak_mb() - baseline


def child(mode: str, n: int, size: int, ckpt: str, depth: int,
          batch: int) -> None:
    """``basis_peak`` in this fresh process, over the baseline after the
    imports and a tiny warm-up step; prints ``PEAK {...}``."""
    warm_up_process()
    peak = basis_peak(mode, n, size, ckpt, depth, batch)
    print('PEAK ' + '{"peak_mb": %f}' % peak, flush=True)


def basis_memory_rows(workdir: str, depth: int, counts, size: int,
                      batch: int, modes=('streaming', 'stacked')) -> list:
    ckpt = os.path.join(workdir, f'r{depth}.pth')
    if not os.path.exists(ckpt):
        save_checkpoint(teacher_cfg(depth), ckpt)
    peaks = {m: {} for m in modes}
    for n in counts:
        for mode in modes:
            if common.IN_PROCESS:  # smoke tests only: not comparable
                common.fix_mmap_threshold()
                peaks[mode][n] = basis_peak(mode, n, size, ckpt, depth,
                                            batch)
                continue
            peaks[mode][n] = run_child(
                ['--child', mode, str(n), str(size), ckpt, '--depth',
                 str(depth), '--batch', str(batch)],
                module='bench.bench_kdep_svd')['peak_mb']
        print(f'KDEP basis peak memory at {n} images {size}x{size}: ' +
              ', '.join(f'{m} {peaks[m][n]:.0f} MB' for m in modes),
              flush=True)
    n0, n1 = min(counts), max(counts)
    out = []
    for mode, target, label in (
            ('streaming', 1.05, 'KDEP streaming basis'),
            ('inference', None, 'KDEP inference pass'),
            ('stacked', None, 'KDEP stacked + SVD (official)')):
        if mode in modes:
            p = peaks[mode]
            out.append(Row(f'{label} peak mem, {n1} / {n0} images',
                           p[n1] / p[n0], None, target,
                           f'{p[n1]:.0f} / {p[n0]:.0f} MB'))
    return out


def rows(workdir: str, size: int = 96, batch: int = 32, rounds: int = 7,
         memory: bool = True, threads: int = 1, depth: int = 50,
         images: int = 384, basis_size: int = 64, basis_batch: int = 64,
         basis_rounds: int = 3, memory_images=(1024, 4096),
         memory_size: int = 16, memory_modes=('streaming', 'stacked')
         ) -> list:
    kwargs = dict(size=size, batch=batch, workdir=workdir)
    times = interleaved_rounds(
        setup(('distill', 'student', 'teacher'), **kwargs), rounds)
    out = distill_rows('KDEP', 'bench.bench_kdep_svd', times, memory,
                       threads=threads, **kwargs)
    out += basis_time_rows(workdir, depth, images, basis_size, basis_batch,
                           basis_rounds)
    if memory:
        out += basis_memory_rows(workdir, depth, memory_images, memory_size,
                                 basis_batch, memory_modes)
    return out


def main():
    if '--child' in sys.argv:
        import argparse
        parser = argparse.ArgumentParser()
        parser.add_argument('--child', nargs=4)
        parser.add_argument('--depth', type=int)
        parser.add_argument('--batch', type=int)
        args = parser.parse_args()
        mode, n, size, ckpt = args.child
        child(mode, int(n), int(size), ckpt, args.depth, args.batch)
        return
    torch.manual_seed(0)

    def all_rows(memory_images: str, memory_modes: str, **kw):
        return rows(memory_images=[int(x) for x in memory_images.split(',')],
                    memory_modes=memory_modes.split(','), **kw)
    standalone(all_rows, __doc__, size=96, batch=32, rounds=7, depth=50,
               images=384, basis_size=64, basis_batch=64, basis_rounds=3,
               memory_images='1024,4096', memory_size=16,
               memory_modes='inference,streaming,stacked')


if __name__ == '__main__':
    main()
