"""The teacher cache on disk: a manifest and one folder per shard.

::

    DIR/manifest.json         what the cache was made from and how it is laid
                              out (written once, before the first shard)
    DIR/e0003/s00012/         epoch 3, shard 12: consecutive training batches
        index.npy             dataset index of every row        (int64)
        seed.npy              the view's seed (replay.item_seed) (uint32)
        <field>.npy           the method's targets, one row per view

A shard is written under ``e0003/.tmp-s00012`` and renamed when complete,
so a killed writer leaves finished shards and no half-written one; the
next run removes stale ``.tmp-*`` folders and writes what is missing. The
content of a shard depends only on the teacher, the data and its key, so a
resumed cache is byte for byte the one an uninterrupted run writes.

The manifest's ``binding`` records the teacher (config, checkpoint and its
sha256, BN mode), the training dataset's config (with its pipeline), the
list of images and labels, and the method's target settings; a run whose
own differ is refused by :func:`check_binding`, naming what differs.
"""
import hashlib
import json
import os
import os.path as osp
import shutil
from typing import Any, Dict, List, Tuple

import numpy as np

from kd_plugins.core.atomic_file import free_space

FORMAT = 'kd_plugins teacher cache, version 1'
MANIFEST = 'manifest.json'
TMP = '.tmp-'


def canonical(obj: Any) -> Any:
    """A JSON-able copy of a config value (tuples as lists, other objects
    as their repr), so that two configs compare by content."""
    return json.loads(json.dumps(obj, sort_keys=True, default=repr))


def differences(ours: Any, theirs: Any, path: str = '') -> List[str]:
    """``'a.b: X (cache) vs Y (this run)'`` for every leaf that differs."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        out = []
        for k in sorted(set(ours) | set(theirs), key=str):
            sub = f'{path}.{k}' if path else str(k)
            if k not in ours:
                out.append(f'{sub}: absent (cache) vs {theirs[k]!r} '
                           '(this run)')
            elif k not in theirs:
                out.append(f'{sub}: {ours[k]!r} (cache) vs absent '
                           '(this run)')
            else:
                out += differences(ours[k], theirs[k], sub)
        return out
    if isinstance(ours, list) and isinstance(theirs, list) and \
            len(ours) == len(theirs):
        return [d for i, (a, b) in enumerate(zip(ours, theirs))
                for d in differences(a, b, f'{path}.{i}')]
    if ours != theirs:
        return [f'{path}: {ours!r} (cache) vs {theirs!r} (this run)']
    return []


def dataset_fingerprint(dataset) -> Dict[str, Any]:
    """Size and sha256 of a dataset's list of images and labels (paths
    relative to its ``data_root``); wrappers are opened (``dataset``,
    ``datasets``, ``labeled`` / ``unlabeled``)."""
    digest = hashlib.sha256()

    def visit(ds) -> None:
        digest.update(f'<{type(ds).__name__} {len(ds)}>'.encode())
        parts = [getattr(ds, name) for name in ('dataset', 'labeled',
                                                'unlabeled')
                 if hasattr(ds, name)] + list(getattr(ds, 'datasets', []))
        if parts:
            for part in parts:
                visit(part)
            return
        if not hasattr(ds, 'get_data_info'):
            return
        root = getattr(ds, 'data_root', '') or ''
        for i in range(len(ds)):
            info = ds.get_data_info(i)
            entry = {}
            for k in ('img_path', 'gt_label', 'img_label'):
                if k in info:
                    v = info[k]
                    if k == 'img_path' and root and str(v).startswith(root):
                        v = osp.relpath(v, root)
                    entry[k] = v
            digest.update(json.dumps(canonical(entry)).encode())

    visit(dataset)
    return dict(size=len(dataset), sha256=digest.hexdigest())


def check_binding(cache_dir: str, recorded: Dict[str, Any],
                  current: Dict[str, Any], what: str) -> None:
    """Refuse a cache whose ``recorded`` part differs from this run's."""
    diff = differences(canonical(recorded), canonical(current))
    if diff:
        shown = '; '.join(diff[:6]) + (f'; and {len(diff) - 6} more'
                                       if len(diff) > 6 else '')
        raise ValueError(
            f'teacher cache {cache_dir!r} was made from another {what}: '
            f'{shown}. Write a cache for this run with `python '
            'tools/cache_teacher.py CONFIG --epochs E --out DIR`, or train '
            'with the config the cache was made from.')


def read_manifest(cache_dir: str) -> Dict[str, Any]:
    path = osp.join(cache_dir, MANIFEST)
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'{cache_dir!r} is not a teacher cache (no {MANIFEST}). Write '
            'one with `python tools/cache_teacher.py CONFIG --epochs E '
            f'--out {cache_dir}`.')
    try:
        with open(path) as f:
            manifest = json.load(f)
    except (OSError, ValueError) as err:
        raise ValueError(f'teacher cache manifest {path!r} cannot be read '
                         f'({err}); write the cache again.') from err
    if manifest.get('format') != FORMAT:
        raise ValueError(f'{path!r} is not a manifest of this version '
                         f'({manifest.get("format")!r}, expected {FORMAT!r});'
                         ' write the cache again.')
    return manifest


def write_manifest(cache_dir: str, manifest: Dict[str, Any]) -> None:
    """Write the manifest atomically; an existing one must match."""
    os.makedirs(cache_dir, exist_ok=True)
    path = osp.join(cache_dir, MANIFEST)
    text = json.dumps(canonical(manifest), indent=1, sort_keys=True) + '\n'
    if osp.isfile(path):
        old = read_manifest(cache_dir)
        diff = differences(old, canonical(manifest))
        if diff:
            raise ValueError(
                f'{cache_dir!r} already holds a teacher cache made '
                f'otherwise: {"; ".join(diff[:6])}. Use another --out, or '
                'delete that folder to start over.')
        return
    tmp = f'{path}.{os.getpid()}.tmp'
    with open(tmp, 'w') as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def shard_dir(cache_dir: str, epoch: int, shard: int) -> str:
    return osp.join(cache_dir, f'e{epoch:04d}', f's{shard:05d}')


def shard_done(cache_dir: str, epoch: int, shard: int) -> bool:
    return osp.isdir(shard_dir(cache_dir, epoch, shard))


def remove_stale(cache_dir: str, epoch: int, shard: int) -> None:
    """Remove what a killed writer left of this shard."""
    final = shard_dir(cache_dir, epoch, shard)
    tmp = osp.join(osp.dirname(final), TMP + osp.basename(final))
    if osp.isdir(tmp):
        shutil.rmtree(tmp)


def write_shard(cache_dir: str, epoch: int, shard: int,
                arrays: Dict[str, np.ndarray]) -> None:
    """Write one shard's arrays, then rename its folder into place."""
    final = shard_dir(cache_dir, epoch, shard)
    tmp = osp.join(osp.dirname(final), TMP + osp.basename(final))
    if osp.isdir(tmp):
        shutil.rmtree(tmp)
    os.makedirs(tmp)
    try:
        for name, array in arrays.items():
            with open(osp.join(tmp, f'{name}.npy'), 'wb') as f:
                np.save(f, np.ascontiguousarray(array), allow_pickle=False)
                f.flush()
                os.fsync(f.fileno())
        os.rename(tmp, final)
    except BaseException as err:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(err, OSError):
            raise OSError(
                f'cannot write teacher cache shard {final!r} ({err}); '
                f'{free_space(cache_dir)} there. Free some space and run the '
                'same command again: finished shards are kept.') from err
        raise


class CacheReader:
    """Read targets of a finished cache by (epoch, dataset index).

    Shards are opened lazily (memory-mapped) in each process, so a
    data-loader worker reads only the rows it serves.
    """

    def __init__(self, cache_dir: str) -> None:
        self.cache_dir = cache_dir
        self.manifest = read_manifest(cache_dir)
        self.epochs = int(self.manifest['epochs'])
        self.seed = int(self.manifest['seed'])
        self.fields = list(self.manifest['fields'])
        self._check_complete()
        self._where: Dict[int, Dict[int, Tuple[int, int]]] = {}
        self._open: Dict[Tuple[int, int], Dict[str, np.ndarray]] = {}

    def _check_complete(self) -> None:
        per_epoch = int(self.manifest['shards_per_epoch'])
        missing = []
        for e in range(self.epochs):
            n = sum(shard_done(self.cache_dir, e, s)
                    for s in range(per_epoch))
            if n < per_epoch:
                missing.append(f'epoch {e}: {n} of {per_epoch} shards')
        if missing:
            raise ValueError(
                f'teacher cache {self.cache_dir!r} is unfinished ('
                + '; '.join(missing[:4]) + (' ...' if len(missing) > 4
                                            else '')
                + '). Run the command that wrote it again: it keeps the '
                'finished shards and writes the rest.')

    def check_dataset(self, dataset) -> None:
        check_binding(self.cache_dir, self.manifest['binding']['dataset'],
                      dataset_fingerprint(dataset),
                      'dataset (its images and labels)')

    def _shard(self, epoch: int, shard: int) -> Dict[str, np.ndarray]:
        key = (epoch, shard)
        if key not in self._open:
            folder = shard_dir(self.cache_dir, epoch, shard)
            self._open[key] = {
                name: np.load(osp.join(folder, f'{name}.npy'),
                              mmap_mode='r', allow_pickle=False)
                for name in ['index', 'seed'] + self.fields}
        return self._open[key]

    def _locate(self, epoch: int) -> Dict[int, Tuple[int, int]]:
        if epoch not in self._where:
            where = {}
            for s in range(int(self.manifest['shards_per_epoch'])):
                for row, i in enumerate(self._shard(epoch, s)['index']):
                    where[int(i)] = (s, row)
            self._where[epoch] = where
        return self._where[epoch]

    def lookup(self, epoch: int, index: int
               ) -> Tuple[int, Dict[str, np.ndarray]]:
        """The view's seed and its targets (arrays of one row each)."""
        epoch = epoch % self.epochs
        found = self._locate(epoch).get(index)
        if found is None:
            raise KeyError(
                f'teacher cache {self.cache_dir!r} has no target for image '
                f'{index} in epoch {epoch}: it was written for a dataset of '
                f'{self.manifest["binding"]["dataset"]["size"]} images.')
        shard, row = found
        arrays = self._shard(epoch, shard)
        return int(arrays['seed'][row]), {
            name: np.array(arrays[name][row]) for name in self.fields}

    def __getstate__(self):
        # workers open their own memory maps
        state = dict(self.__dict__)
        state['_open'], state['_where'] = {}, {}
        return state
