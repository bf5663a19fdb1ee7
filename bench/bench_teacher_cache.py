"""The teacher cache's costs, measured side by side, and its size.

For SSLD (ResNet-18 student, ResNet-34 teacher, 1,000 classes, teacher BN
on batch statistics as SSLD's default), KDEP (ResNet-18 backbone student,
ResNet-50 teacher, ``SVDProjection`` with a basis of the random teacher's
pre-ReLU features, PTS), SEED (ResNet-18 and ResNet-50 with ``SEEDHead``
to D = 128, K = 65,536) and SimDis-Off (BYOL ResNet-18 student pair, BYOL
ResNet-50 teacher pair, the 8xb128 ImageNet config's networks), each with
a random teacher file. The data is a small ImageNet-format folder of
random JPEGs (``--images``, 4 class folders, a ``CustomDataset``) with
the pipeline LoadImageFromFile, RandomResizedCrop(``--size``),
RandomFlip, PackInputs (SimDis: the two crops and flips of a
``MultiView``); each method's config (model, data, ``randomness``) is an
mmengine ``Config``, and its cache is written once by ``write_cache``
(float16, one epoch). Rows, per method:

1. ``<method> cached step / student-only step`` (target <= 1.05): the
   algorithm built with ``teacher_cache=DIR`` (no teacher built) runs its
   ``train_step`` on one batch taken from a DataLoader over
   ``TeacherCacheDataset(cache=DIR)`` (the batch carries the cached
   targets, which the step decodes), against the student-only training
   step of the same student network on the same batch: SSLD the
   ResNet-18 classifier with cross-entropy on the folder labels; KDEP the
   bare backbone (preprocessing, forward, pooled last feature, MSE to a
   fixed target); SEED the student embedding (preprocessing, forward, L2
   normalisation) trained on the embedding's mean; SimDis the BYOL step
   of the student pair (mmpretrain's ``BYOL`` network) on the two views:
   online projections, the EMA target's projections without gradients,
   the predictor, the symmetric BYOL loss, backward, SGD (the EMA update
   itself is ``EMATargetHook``'s work and is timed on neither side).
   What the cached step adds is the method itself (SEED: the queue loss
   over K rows and the enqueue) and reading the targets off the batch.
2. ``<method> online step / student-only step`` (context): the same
   algorithm with its live teacher on the same batch; the difference to
   row 1 is what the cache saves per step.
3. ``<method> cache-writing pass / teacher inference pass`` (target
   <= 1.10): ``write_cache`` over the dataset for one epoch (a fresh
   folder per call: the data binding, the dataset's fingerprint, the
   method's settings, the manifest, the views, the teacher, encoding, the
   shards written and synced) against a plain loop over a DataLoader of
   ``TeacherCacheDataset`` over the same images (the same crops) running
   the algorithm's ``teacher_targets(data_preprocessor(data,
   False)['inputs'])``, without encoding or writing. The one-off work of
   a writing run, which does not grow with the data (building the live
   algorithm, loading its checkpoint, hashing the checkpoint file for the
   teacher binding), is done once outside the timed calls and handed to
   ``write_cache``; its time is printed. The algorithm serves both sides.

4. Cache size: the bytes a cache stores per crop (per image and epoch),
   from the manifest's fields: the sum of one row of every target field,
   plus 8 bytes of dataset index and 4 of view seed (the shards' ``.npy``
   headers and the manifest aside); and the projected size of a cache of
   ImageNet-1k (1,281,167 training images) for as many epochs as each
   shipped ImageNet config trains (``train_cfg.max_epochs`` of
   configs/ssld/ssld_r18_r34_imagenet.py, configs/kdep/
   kdep_r18_r50_imagenet10pct_90e.py on its 10% of the images,
   configs/seed/seed_r18_mocov2r50_imagenet.py and configs/simdis/
   simdis_off_r18_r50_8xb128-sgd-100e_in1k.py), SSLD's soft label at the
   default top-k (k = 10). GB = 10^9 bytes. SSLD's config also trains on
   the mined unlabeled images: each adds the same bytes per epoch.

Each method's runs are interleaved round by round in alternating order
(``interleaved_rounds``), each timed call running ``--steps-per-call``
(3) train steps on the batch, so that a round's ratio is not one short
step's noise; the median of the per-round ratios and the ratio of the
fastest runs are printed (absolute times as progress only).

    python bench/bench_teacher_cache.py [--size 96] [--batch 16]
        [--rounds 5] [--images 64] [--steps-per-call 3]
        [--methods SSLD KDEP SEED SimDis-Off]
"""
import itertools
import os
import os.path as osp
import sys
import time
from copy import deepcopy
from typing import Dict, List, Optional, Sequence

if __name__ == '__main__':  # python bench/<script>.py: import bench.* too
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.dataset import default_collate
from mmengine.registry import DefaultScope
from torch.utils.data import DataLoader

import kd_plugins  # noqa: F401
from bench.bench_kdep_svd import _basis_for
from bench.bench_seed_queue import K, encoder
from bench.bench_simdis_views import CFG as SIMDIS_CFG
from bench.common import (
    DEVICE,
    interleaved_rounds,
    ratio_row,
    resnet,
    save_checkpoint,
    sgd,
    standalone,
)
from kd_plugins.core.distiller import build_data_preprocessor
from kd_plugins.core.teacher_cache import TeacherCacheDataset
from kd_plugins.core.teacher_cache.binding import teacher_binding
from kd_plugins.core.teacher_cache.writer import write_cache
from kd_plugins.methods.kdep.pre_relu import global_avg_pool
from kd_plugins.methods.simdis.byol_pair import (
    online_encoder,
    predict,
    project,
    target_encoder,
)
from kd_plugins.methods.simdis.loss import normalized_mse
from kd_plugins.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
METHODS = ('SSLD', 'KDEP', 'SEED', 'SimDis-Off')
PREPROCESSOR = dict(mean=[123.675, 116.28, 103.53],
                    std=[58.395, 57.12, 57.375], to_rgb=True)
CLASSES = 4  # class folders of the generated dataset

#: ImageNet-1k training images
IMAGENET_IMAGES = 1281167
#: each method's shipped ImageNet config and the share of the images it
#: trains on
SHIPPED = {
    'SSLD': ('configs/ssld/ssld_r18_r34_imagenet.py', 1.0),
    'KDEP': ('configs/kdep/kdep_r18_r50_imagenet10pct_90e.py', 0.1),
    'SEED': ('configs/seed/seed_r18_mocov2r50_imagenet.py', 1.0),
    'SimDis-Off': ('configs/simdis/'
                   'simdis_off_r18_r50_8xb128-sgd-100e_in1k.py', 1.0),
}
#: bytes of a row's dataset index (int64) and view seed (uint32)
KEY_BYTES = 8 + 4


# ------------------------------------------------------------------ data
def make_images(root: str, n: int, size: int) -> str:
    """``n`` random JPEGs a little larger than ``size``, in ``CLASSES``
    class folders under ``root`` (an ImageNet-format folder)."""
    from PIL import Image
    rng = np.random.default_rng(0)
    for i in range(n):
        folder = osp.join(root, f'class{i % CLASSES}')
        os.makedirs(folder, exist_ok=True)
        h, w = size * 5 // 4 + i % 7, size * 3 // 2 - i % 5
        pixels = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(osp.join(folder, f'{i:05d}.jpg'),
                                     quality=90)
    return root


def pipeline(size: int, views: int) -> List[dict]:
    view = [dict(type='RandomResizedCrop', scale=size),
            dict(type='RandomFlip', prob=0.5, direction='horizontal')]
    if views == 1:
        return [dict(type='LoadImageFromFile'), *view,
                dict(type='PackInputs')]
    return [dict(type='LoadImageFromFile'),
            dict(type='MultiView', num_views=[1] * views,
                 transforms=[deepcopy(view) for _ in range(views)]),
            dict(type='PackInputs')]


# ------------------------------------------------------- method configs
def _checkpoint(cfg: dict, path: str) -> str:
    if not osp.exists(path):
        save_checkpoint(cfg, path)
    return path


def method_config(method: str, data_root: str, size: int, batch: int,
                  workdir: str) -> Config:
    """The method's training config on the generated folder: model (random
    teacher file), data preprocessor, data loader, randomness."""
    views, pre = 1, dict(PREPROCESSOR)
    if method == 'SSLD':
        teacher = resnet(34)
        model = dict(type='SSLD', student=resnet(18), teacher=teacher,
                     teacher_ckpt=_checkpoint(
                         teacher, osp.join(workdir, 'cache_r34.pth')),
                     teacher_bn_mode='train')
    elif method == 'KDEP':
        teacher = resnet(50)
        ckpt = _checkpoint(teacher, osp.join(workdir, 'cache_r50.pth'))
        basis = osp.join(workdir, f'cache_kdep_r50_basis_{size}.pth')
        if not osp.exists(basis):
            _basis_for(teacher, ckpt, basis, size)
        model = dict(type='KDEP', student=resnet(18)['backbone'],
                     teacher=teacher, teacher_ckpt=ckpt,
                     teacher_bn_mode='eval',
                     align=dict(type='SVDProjection', basis=basis),
                     transform=dict(type='PTS', T=0.1, n=3))
    elif method == 'SEED':
        teacher = encoder(50, 2048)
        model = dict(type='SEED', student=encoder(18, 512), teacher=teacher,
                     teacher_ckpt=_checkpoint(
                         teacher, osp.join(workdir, 'cache_seed_r50.pth')),
                     queue=dict(type='SEEDQueue', K=K, dim=128))
    elif method == 'SimDis-Off':
        model = Config.fromfile(SIMDIS_CFG.format('off')).model.to_dict()
        model['teacher_ckpt'] = _checkpoint(
            model['teacher'], osp.join(workdir, 'cache_byol_r50.pth'))
        views = 2
        pre = dict(PREPROCESSOR, type='SelfSupDataPreprocessor')
    else:
        raise ValueError(f'unknown method {method!r}; one of {METHODS}')
    return Config(dict(
        default_scope='kd_plugins',
        model=model,
        data_preprocessor=pre,
        train_dataloader=dict(
            batch_size=batch, num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=True),
            collate_fn=dict(type='default_collate'),
            dataset=dict(type='CustomDataset', data_root=data_root,
                         pipeline=pipeline(size, views))),
        randomness=dict(seed=0)))


def build_algorithm(cfg: Config, cache: Optional[str] = None):
    """The config's algorithm on DEVICE, in training mode: with its live
    teacher, or (``cache``) reading the targets from that cache."""
    model = deepcopy(cfg.model.to_dict())
    model['data_preprocessor'] = deepcopy(cfg.data_preprocessor.to_dict())
    if cache is not None:
        model['teacher_cache'] = cache
    algo = MODELS.build(model)
    if model['type'] == 'SimDis':
        algo.init_weights()
        algo.mark_ema_driven()  # the EMA update is EMATargetHook's work
    return algo.to(DEVICE).train()


def cache_dataset(cfg: Config, cache: Optional[str] = None
                  ) -> TeacherCacheDataset:
    return TeacherCacheDataset(deepcopy(cfg.train_dataloader.dataset),
                               seed=cfg.randomness.seed, cache=cache)


def loader(dataset, batch: int) -> DataLoader:
    return DataLoader(dataset, batch_size=batch, shuffle=False,
                      num_workers=0, collate_fn=default_collate)


# -------------------------------------------------- student-only steps
def student_step(method: str, cfg: Config, data: dict):
    """The plain training step of the method's student network alone."""
    if method == 'SSLD':  # the classifier with cross-entropy
        net = MODELS.build(dict(
            cfg.model.student.to_dict(),
            data_preprocessor=dict(PREPROCESSOR, type='ClsDataPreprocessor')))
        net.to(DEVICE).train()
        opt = sgd(net)
        return lambda: net.train_step(data, opt)
    if method == 'SimDis-Off':  # BYOL of the student pair
        net = MODELS.build(cfg.model.student.to_dict())
        net.init_weights()
        net.to(DEVICE).train()
        opt = sgd(net)
        pre = build_data_preprocessor(cfg.data_preprocessor.to_dict())
        pre.to(DEVICE)
        online, target = online_encoder(net), target_encoder(net)

        def byol_step():
            v = pre(data, True)['inputs']
            z = (project(online, v[0]), project(online, v[1]))
            with torch.no_grad():
                t = (project(target, v[0]), project(target, v[1]))
            opt.update_params(
                normalized_mse(predict(net.head, z[0]), t[1]) +
                normalized_mse(predict(net.head, z[1]), t[0]))
        return byol_step
    net = MODELS.build(cfg.model.student.to_dict()).to(DEVICE)
    net.train()  # (mmpretrain's ResNet.train returns None)
    pre = MODELS.build(dict(PREPROCESSOR, type='ClsDataPreprocessor'))
    pre.to(DEVICE)
    opt = sgd(net)
    if method == 'KDEP':  # the bare backbone, MSE to a fixed target
        n = data['inputs'].shape[0]
        target = torch.randn(n, 512, device=DEVICE)

        def backbone_step():
            f = global_avg_pool(net(pre(data, True)['inputs'])[-1])
            opt.update_params(F.mse_loss(f, target))
        return backbone_step

    def embedding_step():  # SEED: the normalised embedding
        z = F.normalize(net(pre(data, True)['inputs']), dim=1)
        opt.update_params(z.mean())
    return embedding_step


# ------------------------------------------------------- the write pass
def write_runs(cfg: Config, batch: int, workdir: str, tag: str) -> dict:
    """'write' (write_cache, one epoch, a fresh folder each call) and
    'inference' (the teacher targets over the same views); the one-off
    work of a writing run done once beforehand, its time printed."""
    t0 = time.perf_counter()
    algo = build_algorithm(cfg)
    t1 = time.perf_counter()
    teacher = teacher_binding(cfg.model)
    t2 = time.perf_counter()
    print(f'{tag}: one-off, outside the timed passes: building and loading '
          f'the teacher {t1 - t0:.2f} s, hashing its checkpoint '
          f'{t2 - t1:.2f} s', flush=True)
    calls = itertools.count()

    def write():
        out = osp.join(workdir, f'cache_{tag}_write_{next(calls)}')
        write_cache(cfg, out, epochs=1, progress=False, device=DEVICE,
                    algorithm=algo, teacher=teacher)

    @torch.no_grad()
    def inference():
        for data in loader(cache_dataset(cfg), batch):
            algo.teacher_targets(algo.data_preprocessor(data, False)['inputs'])
    return dict(write=write, inference=inference)


# ------------------------------------------------------------ cache size
def crop_bytes(manifest: dict) -> int:
    """Bytes stored per crop: one row of every target field, its index
    and its seed."""
    return KEY_BYTES + sum(
        np.dtype(f['dtype']).itemsize * int(np.prod(f['shape']))
        for f in manifest['fields'].values())


def projected_sizes(per_crop: Dict[str, int],
                    labels: Optional[Dict[str, str]] = None) -> List[dict]:
    """Each method's cache of its shipped ImageNet config: images, epochs,
    bytes (``labels``: the name shown per method)."""
    out = []
    for method, n in per_crop.items():
        config, share = SHIPPED[method]
        epochs = int(Config.fromfile(osp.join(ROOT, config))
                     .train_cfg.max_epochs)
        images = max(1, round(share * IMAGENET_IMAGES))
        out.append(dict(method=method, label=(labels or {}).get(method,
                                                                method),
                        config=config, bytes_per_crop=n,
                        images=images, epochs=epochs,
                        gb=n * images * epochs / 1e9))
    return out


def format_sizes(sizes: Sequence[dict]) -> str:
    names = [s['label'] for s in sizes]
    width = max(len('cache size'), *map(len, names))
    lines = [f'{"cache size":<{width}}  {"bytes/crop":>10}  {"images":>9}  '
             f'{"epochs":>6}  {"GB":>8}']
    lines.append('-' * len(lines[0]))
    for name, s in zip(names, sizes):
        lines.append(f'{name:<{width}}  {s["bytes_per_crop"]:>10}  '
                     f'{s["images"]:>9,}  {s["epochs"]:>6}  '
                     f'{s["gb"]:>8.1f}')
    lines.append(f'(ImageNet-1k: {IMAGENET_IMAGES:,} training images, '
                 'KDEP its 10%; GB = 10^9 bytes; index + seed: '
                 f'{KEY_BYTES} bytes per crop)')
    return '\n'.join(lines)


# ------------------------------------------------------------------ rows
def repeated(fn, times: int):
    """``fn`` called ``times`` times in a row (one timed call)."""
    def run():
        for _ in range(times):
            fn()
    return run


def method_rows(method: str, data_root: str, size: int, batch: int,
                rounds: int, workdir: str, steps_per_call: int) -> tuple:
    """The three ratio rows of one method, and its cache's manifest;
    ``steps_per_call``: train steps per timed call."""
    with DefaultScope.overwrite_default_scope('kd_plugins'):
        cfg = method_config(method, data_root, size, batch, workdir)
        cache = osp.join(workdir, f'cache_{method}')
        manifest = write_cache(cfg, cache, epochs=1, progress=False,
                               device=DEVICE)
        data = next(iter(loader(cache_dataset(cfg, cache), batch)))
        assert 'teacher_targets' in data['data_samples'][0]
        cached, online = build_algorithm(cfg, cache), build_algorithm(cfg)
        steps = {name: (lambda a=algo, o=sgd(algo): a.train_step(data, o))
                 for name, algo in (('cached', cached), ('online', online))}
        steps['student'] = student_step(method, cfg, data)
        print(f'{method}: {steps_per_call} steps per timed call on a batch '
              f'of {batch} from the cache ({size}x{size})', flush=True)
        times = interleaved_rounds(
            {k: repeated(fn, steps_per_call) for k, fn in steps.items()},
            rounds)
        del cached, online, steps
        print(f'{method}: cache-writing and inference passes over '
              f'{manifest["dataset_size"]} images', flush=True)
        passes = interleaved_rounds(
            write_runs(cfg, batch, workdir, method), rounds,
            digits=2)
    return [ratio_row(f'{method} cached step / student-only step', times,
                      'cached', 'student', 1.05),
            ratio_row(f'{method} online step / student-only step', times,
                      'online', 'student', None, 'live teacher'),
            ratio_row(f'{method} cache-writing pass / teacher inference '
                      'pass', passes, 'write', 'inference', 1.10)], manifest


def rows(workdir: str, size: int = 96, batch: int = 16, rounds: int = 5,
         images: int = 64, memory: bool = True, threads: int = 1,
         methods: Sequence[str] = METHODS, sizes: Optional[list] = None,
         seed_size: int = 160, steps_per_call: int = 3) -> list:
    """The ratio rows of every method (``memory``, ``threads``: unused,
    the run_all interface); each timed call of a step runs
    ``steps_per_call`` train steps on the batch. SEED runs at
    ``seed_size``, the size of its queue benchmark (bench_seed_queue.py):
    its loss over the 65,536-entry queue is a fixed cost per step that the
    cache does not remove. The cache-size entries are appended to
    ``sizes`` when given, else printed as a table."""
    if images < batch or images % batch == 1:
        raise ValueError(f'--images {images} with --batch {batch}: give at '
                         'least one batch and no last batch of one image '
                         "(SSLD's and SimDis' teachers normalise with batch "
                         'statistics).')
    data_root = make_images(osp.join(workdir, 'cache_images'), images,
                            max(size, seed_size))
    out, per_crop, labels = [], {}, {}
    for method in methods:
        method_out, manifest = method_rows(
            method, data_root, seed_size if method == 'SEED' else size,
            batch, rounds, workdir, steps_per_call)
        out += method_out
        per_crop[method] = crop_bytes(manifest)
        if method == 'SSLD':
            labels[method] = f'SSLD (top-{manifest["settings"]["topk"]})'
    table = projected_sizes(per_crop, labels)
    if sizes is None:
        print('\n' + format_sizes(table), flush=True)
    else:
        sizes += table
    return out


def _methods(parser) -> None:
    parser.add_argument('--methods', nargs='+', choices=METHODS,
                        default=list(METHODS))


if __name__ == '__main__':
    standalone(rows, __doc__, _methods, format_sizes, size=96,
               seed_size=160, batch=16, rounds=5, images=64,
               steps_per_call=3)
