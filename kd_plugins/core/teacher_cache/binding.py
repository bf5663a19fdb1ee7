"""What a cache is bound to, and how a training config is pointed at one.

:func:`teacher_binding` and :func:`data_binding` read a config: the
teacher (its config, BN mode, key map and the sha256 of each checkpoint
file) and the training data (the dataset config with its pipeline, the
batch size). The cache writer records them; :func:`apply_teacher_cache`
compares them with the training config's before anything is built and
then wraps the training data so that it replays the cached views.
"""
import os.path as osp
from copy import deepcopy
from typing import Any, Dict, Optional

from mmengine.logging import print_log

from kd_plugins.core.checkpoint import sha256_file
from kd_plugins.core.teacher_cache.store import (
    CacheReader,
    canonical,
    check_binding,
)

#: model config keys that make the teacher (SSLD's ``teachers`` included)
TEACHER_KEYS = ('teacher', 'teacher_ckpt', 'teacher_bn_mode',
                'teacher_ckpt_prefix', 'teacher_ckpt_map', 'teachers')


def _checkpoint_id(path: Optional[str]) -> Optional[str]:
    """sha256 of a local checkpoint, the address of a remote one."""
    if path is None or '://' in str(path):
        return path
    return 'sha256:' + sha256_file(path) if osp.isfile(path) else None


def teacher_binding(model_cfg: dict) -> Dict[str, Any]:
    """The teacher part of a model config: checkpoint files by content
    (a missing local file gives None: not compared)."""
    model_cfg = dict(model_cfg)
    out = {k: canonical(model_cfg.get(k)) for k in TEACHER_KEYS
           if model_cfg.get(k) is not None}
    if 'teacher_ckpt' in out:
        out['teacher_ckpt'] = _checkpoint_id(out['teacher_ckpt'])
    for entry in out.get('teachers') or []:
        entry['ckpt'] = _checkpoint_id(entry.get('ckpt'))
    return out


def _without_missing(recorded: Any, current: Any) -> Any:
    """The recorded binding with the checkpoints this run cannot hash
    (files not on this machine) taken out of the comparison."""
    if isinstance(recorded, dict) and isinstance(current, dict):
        return {k: (_without_missing(v, current[k]) if k in current
                    else v) for k, v in recorded.items()
                if not (k in ('teacher_ckpt', 'ckpt') and k in current
                        and current[k] is None)}
    if isinstance(recorded, list) and isinstance(current, list) and \
            len(recorded) == len(current):
        return [_without_missing(r, c) for r, c in zip(recorded, current)]
    return recorded


def _check_method(model_cfg: dict, cache: str) -> None:
    from kd_plugins.core.teacher_cache.targets import (
        CachedTargets,
        not_cacheable,
    )
    from kd_plugins.registry import MODELS
    name = str(model_cfg.get('type', '')).split('.')[-1]
    cls = MODELS.get(name)
    if cls is not None and not issubclass(cls, CachedTargets):
        raise not_cacheable(name, cache)


def _strip_missing(current: Any) -> Any:
    """This run's binding without the checkpoints it cannot hash."""
    if isinstance(current, dict):
        return {k: _strip_missing(v) for k, v in current.items()
                if not (k in ('teacher_ckpt', 'ckpt') and v is None)}
    if isinstance(current, list):
        return [_strip_missing(v) for v in current]
    return current


def data_binding(cfg) -> Dict[str, Any]:
    """The training data part of a config: the dataset config (with its
    pipeline)."""
    loader = cfg.get('train_dataloader') or {}
    return dict(dataset=canonical(loader.get('dataset')))


def apply_teacher_cache(cfg, live: bool = False) -> Optional[str]:
    """If ``cfg.model.teacher_cache`` is set, check the cache against the
    config and wrap the training data to replay its views; returns the
    cache folder (None: nothing to do).

    ``live=True``: the same views, but the targets from the live teacher
    (``teacher_cache`` is taken out of the model config): the run a cached
    one is compared with (``tools/cache_teacher.py --check``)."""
    model = cfg.get('model') or {}
    cache = model.get('teacher_cache')
    if not cache:
        return None
    _check_method(model, cache)
    reader = CacheReader(cache)  # a manifest, every shard written
    manifest = reader.manifest
    current = teacher_binding(model)
    recorded = manifest['binding']['teacher']
    check_binding(cache, _without_missing(recorded, current),
                  _strip_missing(current), 'teacher')
    if 'teacher_ckpt' in current and current['teacher_ckpt'] is None:
        print_log(f'teacher cache: the teacher checkpoint '
                  f'{model.get("teacher_ckpt")!r} is not on this machine, '
                  'so the cache is not compared with it (the cache records '
                  f'{recorded.get("teacher_ckpt")}).', logger='current',
                  level=30)
    check_binding(cache, manifest['binding']['data'], data_binding(cfg),
                  'training data configuration (dataset, pipeline)')
    loader = cfg.train_dataloader
    batch = loader.get('batch_size')
    if batch != manifest['batch_size'] and \
            'train' in str(current.get('teacher_bn_mode', '')):
        print_log(
            f'teacher cache: the cache was written in batches of '
            f'{manifest["batch_size"]} and this run uses {batch}; the '
            "teacher normalised with batch statistics (bn_mode 'train'), so "
            'its targets are those of the cached batches.', logger='current',
            level=30)
    loader.dataset = dict(type='TeacherCacheDataset',
                          dataset=deepcopy(loader.dataset), cache=cache)
    if live:
        loader.dataset = dict(loader.dataset, cache=None,
                              seed=manifest['seed'])
        model.pop('teacher_cache')
    loader.sampler = dict(type='ReplaySampler',
                          sampler=deepcopy(loader.get(
                              'sampler', dict(type='DefaultSampler',
                                              shuffle=True))),
                          cache_epochs=manifest['epochs'],
                          # the order the cache was written in, whatever
                          # the run's own seed: the same batches
                          seed=manifest['order_seed'])
    print_log(f'teacher cache: {"the views of" if live else "training from"} '
              f'{cache} ({manifest["method"]}, '
              f'{manifest["epochs"]} epochs of {manifest["dataset_size"]} '
              'images); ' + ('the teacher runs live.' if live else
                         'the teacher is not built.'), logger='current')
    return cache
