"""What an algorithm implements to train from a teacher cache.

:class:`CachedTargets` is the method's side of the cache: which targets it
stores (``cache_fields``), how it computes them with the live teacher
(``teacher_targets``) and how they are packed for the disk and unpacked
for the loss (``encode_targets`` / ``decode_targets``; default: float16
on disk, float32 in the loss). ``cache_settings`` names the algorithm
settings its targets depend on (compared with the cache's), ``cache_info``
what the built teacher tells the algorithm (its class count, feature
width), recorded so that an algorithm built without its teacher still
knows it.

An algorithm built with ``teacher_cache=DIR`` builds and loads no teacher:
:meth:`cached_targets` reads the targets that
:class:`~kd_plugins.core.teacher_cache.replay.TeacherCacheDataset` put on
each data sample.
"""
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import torch
from torch import Tensor


class CachedTargets:
    """Mixin of the algorithms whose teacher targets can be cached."""

    #: float dtype of stored float targets: 'float16' or 'float32'
    cache_dtype = 'float16'

    # ----------------------------------------------- the method's own part
    def teacher_targets(self, inputs: Tensor) -> Dict[str, Tensor]:
        """The targets of a batch, computed by the live teacher (each
        N x ..., full precision)."""
        raise NotImplementedError

    def cache_fields(self) -> Dict[str, Dict[str, Any]]:
        """name -> dict(dtype=..., shape=[...]) of one row of each target
        as stored."""
        raise NotImplementedError

    def cache_settings(self) -> Dict[str, Any]:
        """Settings of this algorithm that its targets depend on."""
        return {}

    def cache_info(self) -> Dict[str, Any]:
        """What the live teacher tells the algorithm (recorded)."""
        return {}

    def use_cache_info(self, info: Dict[str, Any]) -> None:
        """Cache mode: check and keep what :meth:`cache_info` recorded."""

    def configure_cache(self, **options) -> Dict[str, Any]:
        """Writer options of this method (e.g. SSLD's ``topk``); returns
        the ones it uses, recorded in the manifest. Unknown ones raise."""
        unknown = {k: v for k, v in options.items() if v is not None}
        if unknown:
            raise ValueError(f'{type(self).__name__} takes no cache option '
                             f'{sorted(unknown)}.')
        return {}

    def cache_summary(self) -> str:
        """A line the writer prints at the end (e.g. what SSLD's top-k
        loses); '' for none."""
        return ''

    def encode_targets(self, targets: Dict[str, Tensor]
                       ) -> Dict[str, np.ndarray]:
        return {name: t.detach().float().cpu().numpy().astype(
            self.cache_dtype) for name, t in targets.items()}

    def decode_targets(self, arrays: Dict[str, Tensor]) -> Dict[str, Tensor]:
        return {name: a.float() for name, a in arrays.items()}

    # -------------------------------------------------------- shared part
    @property
    def from_cache(self) -> bool:
        return getattr(self, 'teacher_cache', None) is not None

    def check_cache_manifest(self) -> None:
        """Cache mode, at the end of the algorithm's ``__init__``: refuse a
        cache made with other target settings, then take the recorded
        teacher facts."""
        from kd_plugins.core.teacher_cache.store import check_binding
        manifest = self.cache_manifest
        check_binding(self.teacher_cache, manifest['binding']['method'],
                      self.cache_settings(),
                      f'{type(self).__name__} setting')
        self.use_cache_info(manifest['info'])

    def cached_targets(self, data_samples: Optional[Sequence],
                       device: torch.device) -> Dict[str, Tensor]:
        """The batch's targets as the cache holds them, decoded."""
        if not data_samples or 'teacher_targets' not in data_samples[0]:
            raise RuntimeError(
                f'{type(self).__name__} trains from the teacher cache '
                f'{self.teacher_cache!r} but the batch carries no cached '
                'targets: its dataset must be a TeacherCacheDataset. '
                'tools/train.py sets this up from model.teacher_cache; '
                'elsewhere call kd_plugins.core.teacher_cache.'
                'apply_teacher_cache(cfg) before building the Runner.')
        rows: List[Dict[str, np.ndarray]] = [
            s.teacher_targets for s in data_samples]
        arrays = {name: torch.from_numpy(np.stack([r[name] for r in rows]))
                  .to(device) for name in rows[0]}
        return self.decode_targets(arrays)


def not_cacheable(name: str, cache: str) -> ValueError:
    """The refusal of ``model.teacher_cache`` for an algorithm that does
    not implement :class:`CachedTargets`."""
    return ValueError(
        f'{name} cannot train from a teacher cache (model.teacher_cache'
        f'={cache!r}); SSLD, KDEP, SEED and SimDis (offline) can. The '
        'README, "Teacher cache", says why. Unset model.teacher_cache.')


def open_teacher_cache(algorithm, cache: str) -> Dict[str, Any]:
    """The manifest of the teacher cache an algorithm trains from, checked
    to be one of this method's."""
    from kd_plugins.core.teacher_cache.store import read_manifest
    name = type(algorithm).__name__
    if not isinstance(algorithm, CachedTargets):
        raise not_cacheable(name, cache)
    manifest = read_manifest(cache)
    if manifest['method'] != name:
        raise ValueError(
            f'teacher cache {cache!r} holds {manifest["method"]} targets, '
            f'not {name} ones; write a cache with this config.')
    return manifest
