"""Write a teacher cache: the config's teacher over E epochs of its data.

Each epoch's order is the one the training run's sampler gives (the
config's sampler, seeded by ``randomness.seed``), cut into batches of the
training batch size, so a teacher normalising with batch statistics sees
the batches training will show it. Consecutive batches form a shard; the
shards of all epochs are dealt round-robin to the writing processes
(``rank`` of ``world``), each of which writes its own with no
communication. Finished shards are skipped, so the same command resumes a
killed run.
"""
import itertools
import math
import sys
from copy import deepcopy
from functools import partial
from typing import Dict, List, Optional

import numpy as np
import torch
from mmengine.dataset import InfiniteSampler, pseudo_collate
from mmengine.registry import FUNCTIONS, DefaultScope
from mmengine.utils import ProgressBar
from torch.utils.data import DataLoader

from kd_plugins.core.teacher_cache.binding import (
    data_binding,
    teacher_binding,
)
from kd_plugins.core.teacher_cache.replay import (
    TeacherCacheDataset,
    item_seed,
)
from kd_plugins.core.teacher_cache.store import (
    FORMAT,
    canonical,
    dataset_fingerprint,
    remove_stale,
    shard_done,
    write_manifest,
    write_shard,
)
from kd_plugins.core.teacher_cache.targets import CachedTargets
from kd_plugins.registry import DATA_SAMPLERS, MODELS


def build_live_algorithm(cfg) -> torch.nn.Module:
    """The config's algorithm with its live teacher (``teacher_cache``
    ignored), checked to be one whose targets can be cached."""
    model_cfg = deepcopy(dict(cfg.model))
    model_cfg.pop('teacher_cache', None)
    if cfg.get('data_preprocessor') is not None:  # as mmengine's Runner
        model_cfg.setdefault('data_preprocessor',
                             deepcopy(cfg.data_preprocessor))
    with DefaultScope.overwrite_default_scope('kd_plugins'):
        algo = MODELS.build(model_cfg)
    if not isinstance(algo, CachedTargets):
        raise ValueError(
            f'{type(algo).__name__} cannot train from a teacher cache: only '
            'SSLD, KDEP, SEED and SimDis (offline) can (README, "Teacher '
            'cache", says why SSKD cannot).')
    return algo


def epoch_order(sampler, epoch: int) -> List[int]:
    """The dataset indices of one epoch of a finite sampler, in its order
    (an endless sampler's stream: ``_shard_batches``)."""
    sampler.set_epoch(epoch)
    return [int(i) for i in sampler]


def _collate(loader_cfg: dict):
    collate = loader_cfg.get('collate_fn') or dict(type='pseudo_collate')
    if callable(collate):
        return collate
    collate = dict(collate)
    fn = FUNCTIONS.get(collate.pop('type')) or pseudo_collate
    return partial(fn, **collate) if collate else fn


def write_cache(cfg, out: str, epochs: int, shard_batches: int = 50,
                seed: Optional[int] = None, dtype: str = 'float16',
                options: Optional[Dict] = None, device: str = 'cpu',
                rank: int = 0, world: int = 1, progress: bool = True,
                max_shards: Optional[int] = None,
                algorithm: Optional[torch.nn.Module] = None,
                teacher: Optional[Dict] = None) -> Dict:
    """Write this process's shards of the cache of ``cfg`` in ``out``;
    returns the manifest. ``max_shards``: stop after writing that many
    (tests of an interrupted run). ``algorithm`` / ``teacher``: the live
    algorithm of ``cfg`` and its ``teacher_binding``, when the caller has
    them already (the benchmark writes several caches of one config)."""
    if epochs < 1 or shard_batches < 1:
        raise ValueError(f'--epochs ({epochs}) and --shard-batches '
                         f'({shard_batches}) must be at least 1.')
    if dtype not in ('float16', 'float32'):
        raise ValueError(f"dtype must be 'float16' or 'float32', got "
                         f'{dtype!r}.')
    randomness = cfg.get('randomness') or {}
    order_seed = randomness.get('seed')
    order_seed = 0 if order_seed is None else int(order_seed)
    seed = order_seed if seed is None else int(seed)
    bindings = dict(teacher=teacher if teacher is not None
                    else teacher_binding(cfg.model), data=data_binding(cfg))
    algo = algorithm if algorithm is not None else build_live_algorithm(cfg)
    algo.cache_dtype = dtype
    settings = algo.configure_cache(**(options or {}))
    fields, info = algo.cache_fields(), algo.cache_info()
    algo.to(device)
    loader_cfg = dict(cfg.train_dataloader)
    # the transforms of the config's scope, as its Runner builds them
    with DefaultScope.overwrite_default_scope(
            cfg.get('default_scope') or 'kd_plugins'):
        dataset = TeacherCacheDataset(deepcopy(loader_cfg['dataset']),
                                      seed=seed)
    if len(dataset) == 0:
        raise ValueError('the training dataset is empty: nothing to cache.')
    bindings['dataset'] = dataset_fingerprint(dataset.dataset)
    bindings['method'] = algo.cache_settings()
    sampler_cfg = dict(loader_cfg.get('sampler') or
                       dict(type='DefaultSampler', shuffle=True))
    sampler = DATA_SAMPLERS.build(
        sampler_cfg, default_args=dict(dataset=dataset, seed=order_seed))
    batch = int(loader_cfg['batch_size'])
    size = len(dataset)
    endless = isinstance(sampler, InfiniteSampler)
    # an endless stream's batches run across epochs: an epoch meets one
    # batch more than it fills when its size is not a multiple of batch
    per_epoch = math.ceil((math.ceil(size / batch) +
                           (1 if endless and size % batch else 0)) /
                          shard_batches)
    manifest = dict(
        format=FORMAT, method=type(algo).__name__, epochs=epochs, seed=seed,
        order_seed=order_seed, batch_size=batch, shard_batches=shard_batches,
        shards_per_epoch=per_epoch, dataset_size=size, dtype=dtype,
        fields=fields, settings=settings, info=info, binding=bindings)
    write_manifest(out, manifest)
    manifest = canonical(manifest)
    mine = [(e, s) for e in range(epochs) for s in range(per_epoch)
            if (e * per_epoch + s) % world == rank]
    todo = [(e, s) for e, s in mine if not shard_done(out, e, s)]
    if progress:
        print(f'teacher cache {out}: {type(algo).__name__}, {epochs} epochs '
              f'x {size} images in {per_epoch} shards an epoch; process '
              f'{rank} of {world}: {len(mine) - len(todo)} of its '
              f'{len(mine)} shards already written, {len(todo)} to write.',
              flush=True)
    orders: Dict[int, List[int]] = {}
    collate = _collate(loader_cfg)
    workers = int(loader_cfg.get('num_workers', 0))
    total = sum(len(_shard_batches(orders, sampler, e, s, size, batch,
                                   shard_batches)) for e, s in todo)
    bar = ProgressBar(total, file=sys.stdout) if progress and total else None
    written = 0
    for e, s in todo:
        if max_shards is not None and written >= max_shards:
            break
        remove_stale(out, e, s)
        batches = _shard_batches(orders, sampler, e, s, size, batch,
                                 shard_batches)
        loader = DataLoader(dataset, batch_sampler=batches,
                            num_workers=workers, collate_fn=collate)
        parts: Dict[str, List[np.ndarray]] = {
            name: [np.zeros([0] + list(f['shape']), f['dtype'])]
            for name, f in manifest['fields'].items()}
        with torch.no_grad():
            for keys_b, data in zip(batches, loader):
                data = algo.data_preprocessor(data, False)
                encoded = algo.encode_targets(
                    algo.teacher_targets(data['inputs']))
                # rows of this epoch (a batch that runs across epochs is
                # computed whole, for each epoch it meets)
                mine_b = np.array([k[0] == e for k in keys_b])
                for name, array in encoded.items():
                    parts[name].append(array[mine_b])
                if bar is not None:
                    bar.update()
        keys = [k for b in batches for k in b if k[0] == e]
        if not keys and not endless:
            raise RuntimeError(
                f'teacher cache shard {e}/{s} got no views: the sampler '
                f'{type(sampler).__name__} gave no order for epoch {e}.')
        arrays = dict(
            index=np.array([i for _, i in keys], dtype=np.int64),
            seed=np.array([item_seed(seed, e, i) for _, i in keys],
                          dtype=np.uint32))
        arrays.update({name: np.concatenate(p) for name, p in parts.items()})
        if any(len(a) != len(keys) for a in arrays.values()):
            raise RuntimeError(
                f'teacher cache shard {e}/{s}: {len(keys)} views but '
                + ', '.join(f'{n} {len(a)}' for n, a in arrays.items())
                + ' rows.')
        write_shard(out, e, s, arrays)
        written += 1
    if bar is not None:
        print(flush=True)
    summary = getattr(algo, 'cache_summary', lambda: '')()
    if progress and summary:
        print(summary, flush=True)
    return manifest


def _shard_batches(orders, sampler, epoch: int, shard: int, size: int,
                   batch: int, shard_batches: int) -> List[List]:
    """The batches of one shard, as (epoch, index) keys. An endless
    sampler's batches are cut from its whole stream as training draws
    them: those that meet ``epoch`` (the first and last may hold views of
    the epochs before and after)."""
    if isinstance(sampler, InfiniteSampler):
        first = epoch * size // batch  # the first batch meeting the epoch
        last = ((epoch + 1) * size - 1) // batch
        lo = first + shard * shard_batches
        hi = min(last + 1, lo + shard_batches)
        if lo >= hi:
            return []
        # a fresh stream from its seed each time: iterating the sampler
        # itself would continue (and, once dropped, close) its one stream
        stream = list(itertools.islice(sampler._indices_of_rank(),
                                       lo * batch, hi * batch))
        return [[((lo * batch + j + n) // size, int(i))
                 for n, i in enumerate(stream[j:j + batch])]
                for j in range(0, len(stream), batch)]
    if epoch not in orders:
        orders.clear()  # one epoch's order at a time
        orders[epoch] = epoch_order(sampler, epoch)
    order = orders[epoch]
    first = shard * shard_batches * batch
    part = order[first:first + shard_batches * batch]
    return [[(epoch, i) for i in part[j:j + batch]]
            for j in range(0, len(part), batch)]
