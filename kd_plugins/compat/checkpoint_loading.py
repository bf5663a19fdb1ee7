"""Let torch >= 2.6 load the checkpoints mmengine 0.10.7 writes.

Why: since torch 2.6, ``torch.load`` defaults to ``weights_only=True``, which
unpickles tensors and a few builtin types only. mmengine 0.10.7's local-file
loader calls plain ``torch.load`` (on ``resume``, ``load_from`` and
``init_cfg=dict(type='Pretrained')``), and its checkpoints hold a
``message_hub`` of ``HistoryBuffer`` objects: numpy arrays, numpy scalars,
and the buffer's statistics methods, which pickle as ``getattr(HistoryBuffer,
'mean')``. Resume therefore fails with ``UnpicklingError: Weights only load
failed``.

Fix: through mmengine's public ``CheckpointLoader.register_scheme`` API we
replace the loader for local paths with one that

1. lists the globals the file needs (``get_unsafe_globals_in_checkpoint``,
   which reads the pickle without running it);
2. if every one of them is in the fixed set below (what mmengine checkpoints
   contain), loads the file weights-only with exactly those globals allowed,
   for this one call (``torch.serialization.safe_globals``);
3. otherwise defers to plain ``torch.load``, whose own error names the class.

Nothing is allowed process-wide (``builtins.getattr`` in particular stays
forbidden for every other ``torch.load``), and nothing in mmengine or torch is
patched. Checked by ``tests/compat/test_compat.py`` and the resume tests.
"""
import os.path as osp
from typing import Dict

import numpy as np
import torch


def _numpy_core():
    try:
        from numpy._core import multiarray  # numpy >= 2
    except ImportError:  # numpy < 2
        from numpy.core import multiarray
    return multiarray


def _qualname(obj) -> str:
    return f'{obj.__module__}.{obj.__name__}'


def _numpy_dtype_classes() -> list:
    # numpy.dtypes.Float64DType and friends. The pickle names them only inside
    # BUILD of a numpy.dtype, so the global scan does not list them; they are
    # allowed whenever numpy.dtype is.
    return [type(np.dtype(t)) for t in (
        np.float16, np.float32, np.float64, np.int8, np.int16, np.int32,
        np.int64, np.uint8, np.bool_)]


def mmengine_checkpoint_globals() -> Dict[str, object]:
    """The globals an mmengine checkpoint may need, by pickled name."""
    from mmengine.logging.history_buffer import HistoryBuffer
    multiarray = _numpy_core()
    allowed = {_qualname(HistoryBuffer): HistoryBuffer,
               'builtins.getattr': getattr,
               'numpy.ndarray': np.ndarray, 'numpy.dtype': np.dtype}
    for mod in ('numpy.core.multiarray', 'numpy._core.multiarray'):
        allowed[f'{mod}._reconstruct'] = multiarray._reconstruct
        allowed[f'{mod}.scalar'] = multiarray.scalar
    return allowed


def load_local_checkpoint(filename: str, map_location=None):
    """mmengine's local-path loader, able to read mmengine checkpoints."""
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    get_unsafe = getattr(torch.serialization,
                         'get_unsafe_globals_in_checkpoint', None)
    if get_unsafe is None:  # torch < 2.5: no weights_only default to fix
        return torch.load(filename, map_location=map_location)
    known = mmengine_checkpoint_globals()
    needed = set(get_unsafe(filename))
    if not needed or not needed <= set(known):
        # Plain weights, or something mmengine does not write: torch decides
        # and its error message names any class it refuses.
        return torch.load(filename, map_location=map_location)
    allowed = [known[n] for n in sorted(needed)]
    if 'numpy.dtype' in needed:
        allowed += _numpy_dtype_classes()
    with torch.serialization.safe_globals(allowed):
        return torch.load(filename, map_location=map_location,
                          weights_only=True)


def allow_mmengine_checkpoints() -> None:
    """Register :func:`load_local_checkpoint` for local paths (idempotent)."""
    from mmengine.runner.checkpoint import CheckpointLoader
    CheckpointLoader.register_scheme(prefixes='', loader=load_local_checkpoint,
                                     force=True)
