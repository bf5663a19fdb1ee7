"""FiniteLossHook: stop a run at the first step whose loss is not finite.

A NaN or infinite loss never recovers: the optimizer step that follows
writes non-finite weights, and every later step and checkpoint carries them.
mmengine logs the NaN and trains on. This hook checks the loss terms of
every training step (the ``log_vars`` that ``train_step`` returns) and
raises ``FloatingPointError`` with the iteration, the epoch, every term and
the learning rate, on every process at the same step (one all-reduced flag;
nothing without a process group). It runs before the checkpoint hook, so the
step's weights are never saved: the newest checkpoint on disk is the last
good one, and ``--resume`` continues from it once the cause is fixed.
"""
import math
from typing import Dict, Optional

import torch
from mmengine.dist import all_reduce, get_rank
from mmengine.hooks import Hook
from mmengine.registry import HOOKS as ROOT_HOOKS

from kd_plugins.registry import HOOKS


def loss_terms(outputs: Optional[dict]) -> Dict[str, float]:
    """The scalar terms of a step's outputs, as Python floats."""
    terms = {}
    for name, value in (outputs or {}).items():
        if isinstance(value, torch.Tensor) and value.numel() == 1:
            terms[name] = float(value.detach())
        elif isinstance(value, (int, float)):
            terms[name] = float(value)
    return terms


def non_finite(terms: Dict[str, float]) -> Dict[str, float]:
    """The loss terms (names containing ``loss``) that are NaN or inf."""
    return {k: v for k, v in terms.items()
            if 'loss' in k and not math.isfinite(v)}


@HOOKS.register_module()
class FiniteLossHook(Hook):
    """Stop training at the first non-finite loss, naming the terms."""

    # before the checkpoint hook (VERY_LOW) saves the step's weights
    priority = 'ABOVE_NORMAL'

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        terms = loss_terms(outputs)
        bad = non_finite(terms)
        flag = torch.tensor([1.0 if bad else 0.0])
        all_reduce(flag)  # every process stops at the same step
        if flag.item() == 0:
            return
        lrs = runner.optim_wrapper.get_lr().get('lr', [])
        lr = ', '.join(f'{v:.4g}' for v in lrs) if lrs else 'unknown'
        shown = ', '.join(f'{k}={v:.6g}' for k, v in terms.items()) or \
            'none logged'
        where = f'on this process (rank {get_rank()})' if bad else \
            'on another process'
        raise FloatingPointError(
            f'non-finite loss at iteration {runner.iter + 1} (epoch '
            f'{runner.epoch + 1}) {where}: {shown}; learning rate {lr}. '
            'Training stopped before this step was saved: the newest '
            'checkpoint holds the weights before it, and --resume continues '
            'from there once the cause is fixed. Usual causes: a learning '
            'rate too high (optim_wrapper.optimizer.lr), a teacher or '
            'load_from checkpoint with NaN/inf weights, fp16 overflow '
            '(--amp uses a dynamic loss scale), or bad input data.')


# Configs in another scope (mmdet, mmseg, mmpretrain) name it plainly after
# custom_imports = dict(imports=['kd_plugins']).
ROOT_HOOKS.register_module(module=FiniteLossHook)
