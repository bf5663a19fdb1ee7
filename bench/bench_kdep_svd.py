"""Cost of KDEP's basis pass (tools/kdep_svd.py), measured side by side.

1. Time: ``compute_kdep_basis`` (the library side of tools/kdep_svd.py:
   build the frozen teacher, stream every pooled pre-ReLU feature into the
   D x D statistics, solve, save) against one plain inference pass of the
   same teacher over the same images (build, load, backbone forward).
   Rounds alternate; printed are the median of per-round ratios and the
   ratio of the fastest runs. Target: <= 1.05.
2. Peak memory against the number of images, each measured in a fresh
   process (peak RSS): the plain inference pass, the streaming basis, and
   the official code's approach (stack all N x D features, then one SVD).
   The streaming basis must stay flat.

Images are synthetic and held in memory (a decoder would only add the same
time to both sides). Defaults: mmpretrain ResNet-50 teacher (D = 2048) at
64 x 64 for time, 32 x 32 for memory.

    python bench/bench_kdep_svd.py [--images 1024] [--rounds 3]
"""
import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import torch
from mmengine.dataset import pseudo_collate
from mmpretrain.structures import DataSample
from torch.utils.data import DataLoader, Dataset

import kd_plugins  # noqa: F401
from kd_plugins.models.algorithms.base import build_data_preprocessor
from kd_plugins.models.kdep.pre_relu import PreReLUTap, backbone_of
from kd_plugins.models.kdep.teacher_pass import compute_kdep_basis
from kd_plugins.models.teacher import build_frozen_teacher
from kd_plugins.registry import MODELS

from common import timed  # noqa: E402  (bench/ is on sys.path)

PREPROCESSOR = dict(mean=[123.675, 116.28, 103.53],
                    std=[58.395, 57.12, 57.375], to_rgb=True)


def teacher_cfg(depth: int) -> dict:
    width = 512 if depth < 50 else 2048
    return dict(type='ImageClassifier',
                backbone=dict(type='ResNet', depth=depth, out_indices=(3, )),
                neck=dict(type='GlobalAveragePooling'),
                head=dict(type='LinearClsHead', num_classes=1000,
                          in_channels=width,
                          loss=dict(type='CrossEntropyLoss')))


class SyntheticImages(Dataset):
    """N random uint8 images, generated once, in mmpretrain's packed form."""

    def __init__(self, n: int, size: int) -> None:
        g = torch.Generator().manual_seed(0)
        self.images = torch.randint(0, 256, (n, 3, size, size),
                                    dtype=torch.uint8, generator=g)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> dict:
        return dict(inputs=self.images[i], data_samples=DataSample())


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


def plain_pass(teacher: dict, ckpt: str, data: Dataset, batch: int
               ) -> float:
    """One inference pass of the teacher's backbone; the features are
    dropped, as a test run would do with its outputs. Returns the seconds
    of the pass itself (after building and loading the teacher)."""
    net = build_frozen_teacher(teacher, ckpt, 'eval')
    pre = build_data_preprocessor(PREPROCESSOR)
    loader = DataLoader(data, batch_size=batch, shuffle=False,
                        num_workers=0, collate_fn=pseudo_collate)
    t0 = time.perf_counter()
    for b in loader:
        net.run(backbone_of(net.model), pre(b, False)['inputs'])
    return time.perf_counter() - t0


def stacked_basis(teacher: dict, ckpt: str, data: Dataset, batch: int):
    """The official code's approach: keep all N x D features, one SVD."""
    net = build_frozen_teacher(teacher, ckpt, 'eval')
    tap = PreReLUTap(net.model, 'teacher')
    pre = build_data_preprocessor(PREPROCESSOR)
    loader = DataLoader(data, batch_size=batch, shuffle=False,
                        num_workers=0, collate_fn=pseudo_collate)
    feats = []
    for b in loader:
        net.run(backbone_of(net.model), pre(b, False)['inputs'])
        feats.append(tap.pop())
    X = torch.cat(feats)  # N x D
    mean = X.mean(0)
    return mean, torch.linalg.svd(X - mean, full_matrices=False)


def reset_peak_rss() -> None:
    """Start peak-RSS accounting afresh (Linux: VmHWM := current RSS)."""
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')


def peak_rss_mb() -> float:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmHWM:'):
                return int(line.split()[1]) / 1024
    raise RuntimeError('no VmHWM in /proc/self/status')


def child(mode: str, n: int, size: int, ckpt: str, depth: int,
          batch: int) -> None:
    """Run one pass in this fresh process and print its peak RSS (MB) from
    the first batch on: building and loading the teacher (the same for every
    mode) peaks higher than a feature loop and would hide its growth."""
    teacher = teacher_cfg(depth)
    data = SyntheticImages(n, size)
    first = dict(done=False)

    def once(fn):
        def wrapped(*args, **kwargs):
            if not first['done']:
                first['done'] = True
                reset_peak_rss()
            return fn(*args, **kwargs)
        return wrapped

    # the first batch reaching the preprocessor starts the measurement
    from mmpretrain.models.utils.data_preprocessor import ClsDataPreprocessor
    ClsDataPreprocessor.forward = once(ClsDataPreprocessor.forward)
    with tempfile.TemporaryDirectory() as tmp, quiet():
        if mode == 'inference':
            plain_pass(teacher, ckpt, data, batch)
        elif mode == 'streaming':
            compute_kdep_basis(teacher, ckpt, data, PREPROCESSOR,
                               os.path.join(tmp, 'b.pth'), batch, 0)
        else:
            stacked_basis(teacher, ckpt, data, batch)
    assert first['done'], 'the preprocessor never ran'
    print('PEAK ' + json.dumps(dict(peak_mb=peak_rss_mb())))


def measure_memory(args) -> None:
    print(f'\npeak RSS (MB) from the first batch on, one pass per fresh '
          f'process; ResNet-{args.depth} teacher, '
          f'{args.memory_size}x{args.memory_size} images held in memory')
    print(f'{"images":>8}{"inference":>12}{"streaming":>12}{"stacked+SVD":>13}'
          f'{"streaming-inference":>21}')
    rows = []
    tmp = tempfile.TemporaryDirectory()
    ckpt = os.path.join(tmp.name, 't.pth')
    torch.manual_seed(0)
    torch.save(dict(state_dict=MODELS.build(teacher_cfg(
        args.depth)).state_dict()), ckpt)
    for n in args.memory_images:
        row = {}
        for mode in ('inference', 'streaming', 'stacked'):
            out = subprocess.run(
                [sys.executable, __file__, '--child', mode, str(n),
                 str(args.memory_size), ckpt, '--depth', str(args.depth),
                 '--batch', str(args.batch)],
                check=True, stdout=subprocess.PIPE, text=True).stdout
            line = next(x for x in out.splitlines() if 'PEAK ' in x)
            row[mode] = json.loads(line.split('PEAK ', 1)[1])['peak_mb']
        rows.append((n, row))
        print(f'{n:>8}{row["inference"]:>12.0f}{row["streaming"]:>12.0f}'
              f'{row["stacked"]:>13.0f}'
              f'{row["streaming"] - row["inference"]:>21.0f}')
    tmp.cleanup()
    (n0, r0), (n1, r1) = rows[0], rows[-1]
    print(f'growth from {n0} to {n1} images: streaming '
          f'{r1["streaming"] - r0["streaming"]:+.0f} MB, inference '
          f'{r1["inference"] - r0["inference"]:+.0f} MB, stacked '
          f'{r1["stacked"] - r0["stacked"]:+.0f} MB (its features alone: '
          f'{(n1 - n0) * 2048 * 4 / 2**20:.0f} MB)')


def measure_time(args) -> None:
    teacher = teacher_cfg(args.depth)
    data = SyntheticImages(args.images, args.size)
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = os.path.join(tmp, 't.pth')
        torch.manual_seed(0)
        torch.save(dict(state_dict=MODELS.build(teacher).state_dict()), ckpt)
        out = os.path.join(tmp, 'basis.pth')

        loops = dict(plain=[], basis=[], solve=[])

        def basis():
            with quiet():
                result = compute_kdep_basis(teacher, ckpt, data,
                                            PREPROCESSOR, out, args.batch, 0)
            loops['basis'].append(result.pass_seconds)
            loops['solve'].append(result.solve_seconds)

        def plain():
            with quiet():
                loops['plain'].append(
                    plain_pass(teacher, ckpt, data, args.batch))

        runs = dict(plain=[], basis=[])
        for r in range(args.rounds):
            order = ('plain', 'basis') if r % 2 == 0 else ('basis', 'plain')
            for name in order:
                runs[name].append(timed(dict(plain=plain, basis=basis)[name]))
    end_to_end = [b / p for b, p in zip(runs['basis'], runs['plain'])]
    per_image = [b / p for b, p in zip(loops['basis'], loops['plain'])]
    print(f'ResNet-{args.depth} teacher, {args.images} images '
          f'{args.size}x{args.size}, batch {args.batch}, '
          f'{torch.get_num_threads()} threads, {args.rounds} rounds')
    for name, times in (('inference run', runs['plain']),
                        ('basis run', runs['basis']),
                        ('  inference pass', loops['plain']),
                        ('  basis pass', loops['basis']),
                        ('  solve + save', loops['solve'])):
        print(f'{name:<17}: {[round(t, 2) for t in times]} s')
    print(f'pass / pass (grows with N): median of rounds '
          f'{statistics.median(per_image):.3f}, fastest '
          f'{min(loops["basis"]) / min(loops["plain"]):.3f} (target <= 1.05)')
    print(f'run / run at {args.images} images (build, pass, solve, save): '
          f'median {statistics.median(end_to_end):.3f}; the solve is a fixed '
          f'{statistics.median(loops["solve"]):.1f} s (O(D^3), whatever N)')


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('--depth', type=int, default=50)
    parser.add_argument('--images', type=int, default=1024)
    parser.add_argument('--size', type=int, default=64)
    parser.add_argument('--batch', type=int, default=64)
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--memory-images', type=int, nargs='+',
                        default=[1024, 4096, 16384])
    parser.add_argument('--memory-size', type=int, default=32)
    parser.add_argument('--skip-memory', action='store_true')
    parser.add_argument('--child', nargs=4,
                        metavar=('MODE', 'N', 'SIZE', 'CKPT'),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, n, size, ckpt = args.child
        child(mode, int(n), int(size), ckpt, args.depth, args.batch)
        return
    measure_time(args)
    if not args.skip_memory:
        measure_memory(args)


if __name__ == '__main__':
    main()
