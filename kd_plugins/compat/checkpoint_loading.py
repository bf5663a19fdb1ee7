"""Let torch >= 2.6 load the checkpoints mmengine 0.10.7 writes.

Why: since torch 2.6, ``torch.load`` defaults to ``weights_only=True``, which
only unpickles tensors and a few builtin types. mmengine 0.10.7 calls plain
``torch.load`` on resume and ``load_from``, and its checkpoints hold a
``message_hub`` with ``HistoryBuffer`` objects backed by numpy arrays, so
resume fails with ``UnpicklingError: Weights only load failed``.

Fix: allow-list exactly the classes an mmengine checkpoint contains with
``torch.serialization.add_safe_globals``. Loading stays ``weights_only``
(no arbitrary code), and nothing in mmengine or torch is patched. The list is
checked by ``tests/test_compat.py``, which writes a real checkpoint and
resumes from it.
"""
import numpy as np
import torch


def _numpy_globals() -> list:
    # The objects pickle uses to rebuild numpy arrays and scalars. numpy moved
    # its core module to ``numpy._core`` in 2.0; we pin numpy<2 but accept
    # both so a user's own environment also works.
    try:
        from numpy._core import multiarray  # numpy >= 2
    except ImportError:  # numpy < 2
        from numpy.core import multiarray
    dtype_classes = {type(np.dtype(t)) for t in (
        np.float16, np.float32, np.float64, np.int8, np.int16, np.int32,
        np.int64, np.uint8, np.bool_)}
    return [multiarray._reconstruct, multiarray.scalar, np.ndarray, np.dtype,
            *sorted(dtype_classes, key=lambda c: c.__name__)]


def allow_mmengine_checkpoints() -> None:
    """Allow-list the classes found in mmengine checkpoints (idempotent)."""
    if not hasattr(torch.serialization, 'add_safe_globals'):
        return  # torch < 2.4 has no weights_only default to work around
    from mmengine.logging.history_buffer import HistoryBuffer
    torch.serialization.add_safe_globals([HistoryBuffer, *_numpy_globals()])
