"""The teacher cache: a frozen teacher's targets written once, read by
every epoch of training instead of running the teacher.

- :mod:`.replay`: seeded, replayable views (``TeacherCacheDataset``,
  ``ReplaySampler``);
- :mod:`.store`: the folder (manifest, shards), reading by key;
- :mod:`.binding`: what a cache is bound to; ``apply_teacher_cache``
  points a training config at a cache;
- :mod:`.targets`: ``CachedTargets``, the methods' side;
- :mod:`.writer`: ``write_cache`` (``tools/cache_teacher.py``).
"""
from .binding import apply_teacher_cache, data_binding, teacher_binding
from .replay import (
    ReplaySampler,
    TeacherCacheDataset,
    item_seed,
    seeded_rngs,
)
from .store import CacheReader, dataset_fingerprint, read_manifest
from .targets import CachedTargets

__all__ = [
    'CacheReader', 'CachedTargets', 'ReplaySampler', 'TeacherCacheDataset',
    'apply_teacher_cache', 'data_binding', 'dataset_fingerprint',
    'item_seed', 'read_manifest', 'seeded_rngs', 'teacher_binding'
]
