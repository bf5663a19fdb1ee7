"""Hooks every shipped config turns on (``configs/_base_/default_runtime.py``
and the configs that do not inherit it):

- :class:`SafeCheckpointHook` (``default_hooks.checkpoint``): saving that
  never loses the last good checkpoint; loading refuses a checkpoint that
  does not fit the model;
- :class:`FiniteLossHook` (``default_hooks.finite_loss``): stops at the
  first non-finite loss;
- :class:`DataCheckHook` (``default_hooks.data_check``): bad images and a
  loader without a single batch found before the first step.

Each is also registered in mmengine's root registry, so an mmdet, mmseg or
mmpretrain config names it plainly after ``custom_imports =
dict(imports=['kd_plugins'])``.
"""
from .data_check import DataCheckHook
from .finite_loss import FiniteLossHook
from .safe_checkpoint import SafeCheckpointHook

__all__ = ['DataCheckHook', 'FiniteLossHook', 'SafeCheckpointHook']
