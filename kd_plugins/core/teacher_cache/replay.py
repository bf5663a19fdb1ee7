"""Replayable augmentation: every (epoch, image) gets its own random seed.

A cached teacher target belongs to one augmented view of one image. So that
training can show the student that very view again, the data pipeline of
each item runs with Python's, numpy's and torch's random generators seeded
by :func:`item_seed` ``(base_seed, epoch, index)`` and restored afterwards
(the rest of the run draws the numbers it would draw anyway). The pipeline
then makes the same crop, flip and colour change in the process that writes
the cache and in the training run that reads it, in any data-loader worker.

:class:`ReplaySampler` wraps the configured sampler and hands out
``(epoch, index)`` keys; :class:`TeacherCacheDataset` takes them, runs the
wrapped dataset's pipeline under the item's seed and, when a cache is
given, attaches that item's stored teacher targets to its data sample
(``data_samples.teacher_targets``, a dict of arrays).
"""
import random
from contextlib import contextmanager
from typing import Iterator, Optional, Tuple, Union

import numpy as np
import torch
from mmengine.dataset import BaseDataset, InfiniteSampler
from mmengine.logging import print_log
from torch.utils.data import Dataset, Sampler

from kd_plugins.registry import DATA_SAMPLERS, DATASETS

Key = Tuple[int, int]  # (epoch, dataset index)


def item_seed(base_seed: int, epoch: int, index: int) -> int:
    """The seed of one augmented view: a 32-bit number mixed from the
    run's base seed, the epoch and the dataset index (numpy's
    ``SeedSequence``, so neighbouring keys give unrelated streams)."""
    seq = np.random.SeedSequence([int(base_seed) & 0xFFFFFFFF, int(epoch),
                                  int(index)])
    return int(seq.generate_state(1, np.uint32)[0])


@contextmanager
def seeded_rngs(seed: int):
    """Seed Python's, numpy's and torch's (CPU) generators with ``seed``
    for the block, and put their previous states back afterwards."""
    py_state, np_state = random.getstate(), np.random.get_state()
    torch_state = torch.get_rng_state()
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    try:
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
        torch.set_rng_state(torch_state)


def as_key(key: Union[int, Key]) -> Key:
    """(epoch, index) of a sampler item; a plain index means epoch 0 (what
    tools that index the dataset directly, such as SEED's queue fill, see:
    the views of the cache's first epoch)."""
    if isinstance(key, (tuple, list)):
        return int(key[0]), int(key[1])
    return 0, int(key)


@DATA_SAMPLERS.register_module()
class ReplaySampler(Sampler):
    """Any sampler's order, as ``(epoch, index)`` keys.

    Args:
        sampler: config of the wrapped sampler (``DefaultSampler``,
            ``InfiniteSampler``, ...), built with the same dataset and seed.
        dataset / seed: filled in by mmengine's ``Runner``.
        cache_epochs: how many epochs the teacher cache holds; a later
            epoch replays cached epoch ``epoch % cache_epochs``, said once
            in the log. None: no wrapping (the keys' epochs as they come).

    With a sampler that has epochs (``set_epoch`` and a length) the epoch is
    the one the loop sets; with an endless sampler (``InfiniteSampler``)
    every ``len(dataset)`` items of the whole stream count as one epoch.
    """

    def __init__(self, sampler: dict, dataset: Dataset,
                 seed: Optional[int] = None,
                 cache_epochs: Optional[int] = None) -> None:
        sampler = dict(sampler)
        default_args = dict(dataset=dataset)
        if seed is not None:
            default_args['seed'] = seed
        self.sampler = DATA_SAMPLERS.build(sampler, default_args=default_args)
        self.dataset_size = len(dataset)
        self.cache_epochs = cache_epochs
        self.epoch = 0
        self._told = False
        self.endless = isinstance(self.sampler, InfiniteSampler)
        self.world = getattr(self.sampler, 'world_size', 1)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)
        if hasattr(self.sampler, 'set_epoch'):
            self.sampler.set_epoch(epoch)
        self._tell(self.epoch)

    def _tell(self, epoch: int) -> None:
        if self.cache_epochs and epoch >= self.cache_epochs and \
                not self._told:
            self._told = True
            print_log(
                f'teacher cache: epoch {epoch} is past the '
                f'{self.cache_epochs} cached epochs; epoch e now replays '
                f'cached epoch e % {self.cache_epochs} (its views and '
                'targets), and so on for the rest of the run.',
                logger='current')

    def cached_epoch(self, epoch: int) -> int:
        return epoch % self.cache_epochs if self.cache_epochs else epoch

    def __iter__(self) -> Iterator[Key]:
        if not self.endless:
            e = self.cached_epoch(self.epoch)
            for index in self.sampler:
                yield e, int(index)
            return
        for n, index in enumerate(self.sampler):
            # items of this process so far x processes ~ items of the run
            epoch = n * self.world // self.dataset_size
            if n * self.world % self.dataset_size < self.world:
                self._tell(epoch)
            yield self.cached_epoch(epoch), int(index)

    def __len__(self) -> int:
        return len(self.sampler)


@DATASETS.register_module()
class TeacherCacheDataset(Dataset):
    """A dataset whose pipeline replays seeded views, with cached targets.

    Args:
        dataset: config (or dataset) of the training dataset.
        seed: the base seed of the views (the cache's, when reading one).
        cache: a teacher cache folder (:mod:`.store`) whose targets are
            attached to each item; None replays the views only (the cache
            writer, and a live-teacher run that sees the same views).
        check: compare the dataset with the one the cache was made from
            (its size and its list of images and labels) when built.
    """

    def __init__(self, dataset: Union[dict, Dataset], seed: int = 0,
                 cache: Optional[str] = None, check: bool = True) -> None:
        self.dataset = DATASETS.build(dataset) if isinstance(dataset, dict) \
            else dataset
        if isinstance(self.dataset, BaseDataset):
            self.dataset.full_init()
        self.seed = int(seed)
        self.metainfo = getattr(self.dataset, 'metainfo', {})
        self.cache = None
        if cache is not None:
            from kd_plugins.core.teacher_cache.store import CacheReader
            self.cache = CacheReader(cache)
            self.seed = self.cache.seed
            if check:
                self.cache.check_dataset(self.dataset)

    def __len__(self) -> int:
        return len(self.dataset)

    def full_init(self) -> None:
        pass  # done when built

    def get_data_info(self, idx: int) -> dict:
        return self.dataset.get_data_info(idx)

    def __getitem__(self, key: Union[int, Key]):
        epoch, index = as_key(key)
        if self.cache is not None:
            seed, targets = self.cache.lookup(epoch, index)
        else:
            seed, targets = item_seed(self.seed, epoch, index), None
        with seeded_rngs(seed):
            data = self.dataset[index]
        sample = data['data_samples']
        sample.set_field((epoch, index), 'teacher_cache_key',
                         field_type='metainfo')
        if targets is not None:
            sample.set_field(targets, 'teacher_targets', field_type='metainfo')
        return data
