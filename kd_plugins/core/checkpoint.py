"""Checkpoint helpers shared by the teacher loader, the KDEP basis, the
export and the downstream check: one place for each small job.

- :func:`sha256_file`: the hash that binds a file (an export) to the
  checkpoint it was made from;
- :func:`weights_sha256`: the hash of a network's weights, whatever file,
  format or URL they came from (binds a KDEP basis to its teacher);
- :func:`nonfinite_keys`: the tensors holding NaN or Inf;
- :func:`read_checkpoint`: mmengine's loader, then the state dict with the
  DDP ``module.`` prefix removed;
- :func:`strip_prefix` / :func:`rename_prefixes`: select and rename keys;
- :func:`compare_keys` and :func:`listing`: the strict comparison of a state
  dict against a model's, reported by key.
"""
import hashlib
from dataclasses import dataclass, field
from typing import Iterable, List, Mapping, Optional, Tuple

import torch
from mmengine.runner.checkpoint import CheckpointLoader

MAX_LISTED = 20
DDP_PREFIX = 'module.'


def sha256_file(path: str, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(chunk), b''):
            h.update(block)
    return h.hexdigest()


def weights_sha256(state: Mapping[str, torch.Tensor]) -> str:
    """Hex sha256 of a state dict's tensors: names, dtypes, shapes and
    values, in name order; BN's ``num_batches_tracked`` counters (not
    weights) are left out. The same weights give the same hash from a URL,
    a legacy file or a zip copy."""
    h = hashlib.sha256()
    for key in sorted(state):
        value = state[key]
        if key.endswith('num_batches_tracked') or \
                not isinstance(value, torch.Tensor):
            continue
        t = value.detach().cpu().contiguous().reshape(-1)
        h.update(f'{key}|{t.dtype}|{tuple(value.shape)}|'.encode())
        h.update(t.view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def nonfinite_keys(state: Mapping[str, torch.Tensor]) -> List[str]:
    """``'key (n NaN, m Inf of N)'`` for each floating tensor holding a
    NaN or an infinity."""
    out = []
    for key, value in state.items():
        if isinstance(value, torch.Tensor) and value.is_floating_point():
            bad = ~torch.isfinite(value)
            if bad.any():
                nan = int(torch.isnan(value).sum())
                out.append(f'{key} ({nan} NaN, {int(bad.sum()) - nan} Inf '
                           f'of {value.numel()})')
    return out


def strip_prefix(state: Mapping, prefix: str, keep_others: bool = False
                 ) -> dict:
    """Remove ``prefix`` from the keys that start with it.

    Keys without it are dropped, or kept unchanged with ``keep_others``
    (how the DDP ``module.`` prefix is removed where only some keys carry
    it).
    """
    if not prefix:
        return dict(state)
    out = {}
    for key, value in state.items():
        if key.startswith(prefix):
            out[key[len(prefix):]] = value
        elif keep_others:
            out[key] = value
    return out


def rename_prefixes(state: Mapping, key_map: Mapping[str, str]) -> dict:
    """Keep the keys under a source prefix of ``key_map`` (checkpoint
    prefix -> model prefix, first match wins) and rename them."""
    out = {}
    for key, value in state.items():
        for src, dst in key_map.items():
            if key.startswith(src):
                out[dst + key[len(src):]] = value
                break
    return out


def read_checkpoint(checkpoint: str) -> Tuple[dict, dict]:
    """``(state_dict, whole checkpoint)`` as mmengine's loader reads a path
    or URL, on the CPU, with the DDP ``module.`` prefix removed.

    A file that holds a bare state dict is its own state dict.
    """
    ckpt = CheckpointLoader.load_checkpoint(checkpoint, map_location='cpu')
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else ckpt
    if not isinstance(state, dict):
        raise ValueError(f'checkpoint {checkpoint!r} holds no state dict '
                         f'(found {type(state).__name__}).')
    return strip_prefix(state, DDP_PREFIX, keep_others=True), \
        ckpt if isinstance(ckpt, dict) else {}


def listing(keys: Iterable[str], limit: int = MAX_LISTED) -> str:
    """At most ``limit`` sorted keys, then how many more there are."""
    keys = sorted(keys)
    more = f' ... and {len(keys) - limit} more' if len(keys) > limit else ''
    return ', '.join(keys[:limit]) + more


@dataclass
class KeyMismatch:
    """Keys of a state dict that do not fit a model's, for the report."""
    missing: List[str] = field(default_factory=list)
    unexpected: List[str] = field(default_factory=list)
    wrong_shape: List[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.missing or self.unexpected or self.wrong_shape)

    def parts(self, source: str = 'the checkpoint',
              target: str = 'the model') -> List[str]:
        """One sentence fragment per kind of mismatch, listing the keys."""
        out = []
        if self.missing:
            out.append(f'{len(self.missing)} keys missing from {source}: '
                       f'{listing(self.missing)}')
        if self.unexpected:
            out.append(f'{len(self.unexpected)} keys in {source} that '
                       f'{target} lacks: {listing(self.unexpected)}')
        if self.wrong_shape:
            out.append(f'{len(self.wrong_shape)} keys with a different '
                       f'shape: {listing(self.wrong_shape)}')
        return out


def compare_keys(own: Mapping, state: Mapping, source: str = 'checkpoint',
                 target: str = 'model') -> KeyMismatch:
    """Compare ``state`` with a model's ``own`` state dict, key by key.

    BN's ``num_batches_tracked`` counters are bookkeeping, not weights: their
    absence is tolerated.
    """
    return KeyMismatch(
        missing=[k for k in own if k not in state
                 and not k.endswith('num_batches_tracked')],
        unexpected=[k for k in state if k not in own],
        wrong_shape=[f'{k}: {source} {tuple(state[k].shape)} vs {target} '
                     f'{tuple(own[k].shape)}'
                     for k in own if k in state
                     and hasattr(state[k], 'shape')
                     and tuple(state[k].shape) != tuple(own[k].shape)])



def resumed_state(runner, checkpoint: dict, key: str, writer: str,
                  what: str) -> Optional[dict]:
    """The state a hook saved under ``key``, when the run resumes.

    ``None`` for ``load_from`` (weights only: the hook's schedule starts
    afresh). A resumed checkpoint without ``key`` raises a ``ValueError``
    saying that ``writer`` did not write it.
    """
    if not runner.cfg.get('resume', False):
        return None
    saved = checkpoint.get(key)
    if saved is None:
        raise ValueError(
            f'cannot resume: the checkpoint holds no {what} ({key!r}); it '
            f'was not written by a run with {writer}. Use load_from to '
            'start a new schedule from its weights.')
    return saved
