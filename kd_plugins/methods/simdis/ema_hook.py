"""EMATargetHook: momentum (EMA) target networks updated after every step.

BYOL-style methods (SimDis) keep, next to each trainable *online* network
(encoder + projector), a *target* network that is an exponential moving
average of it. Paper notation (SimDis Eq. 2, BYOL):

    xi <- tau * xi + (1 - tau) * theta

with ``tau`` the **decay** (0.99 keeps 99 % of the target). The decay follows
the cosine schedule of BYOL / SimDis over the run's ``K`` steps:

    tau_k = 1 - (1 - tau_base) * (cos(pi * k / K) + 1) / 2,   tau_base = 0.99

so tau goes from ``base_decay`` (0.99) at k = 0 to ``final_decay`` (1) at
k = K. mmengine's and mmpretrain's EMA classes (``ExponentialMovingAverage``,
``CosineEMA``) take ``momentum = 1 - decay`` instead (0.01 for tau = 0.99);
this module never uses that convention.

BatchNorm running statistics are buffers, not parameters; ``buffer_policy``
says what the target does with them:

- ``'skip'`` (default): the target keeps its own buffers, which its own
  forward passes (in train mode) update. This is what the official SimDis
  code does (it averages ``parameters()`` only), and the statistics then
  describe the target's own weights.
- ``'copy'``: the target's buffers are overwritten with the online ones at
  every update (mmpretrain's BYOL, mmengine's ``update_buffers=False``).
- ``'average'``: floating-point buffers are averaged with the same decay as
  the parameters (mmengine's ``update_buffers=True``); integer buffers such
  as ``num_batches_tracked`` are copied.

In training, BN normalises with batch statistics anyway; the policy only
changes what an evaluation-mode target (for example an offline teacher with
``teacher_bn_mode='eval'``) would use.

The hook talks to the model through one typed method, ``ema_pairs()``, which
returns ``(name, online, target)`` triples with identical parameter names.
Its step count is saved in every checkpoint (key ``'ema_target'``) and
restored on resume; the target weights are submodules of the model, so the
checkpoint's ``state_dict`` holds them.
"""
import math
import warnings
from typing import Optional

import torch
import torch.nn as nn
from mmengine.hooks import Hook

from kd_plugins.core.checkpoint import resumed_state
from kd_plugins.core.dist import unwrap_model
from kd_plugins.registry import HOOKS

BUFFER_POLICIES = ('skip', 'copy', 'average')
_KEY = 'ema_target'


def _check_decay(name: str, value: float) -> None:
    if not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ValueError(
            f'{name} must be a decay in [0, 1] (the fraction of the target '
            f'kept per step, e.g. 0.99), got {value!r}. Note: mmengine\'s '
            '`momentum` is 1 - decay.')


def cosine_decay(step: int, total_steps: int, base_decay: float = 0.99,
                 final_decay: float = 1.0) -> float:
    """tau_k = final - (final - base) * (cos(pi * k / K) + 1) / 2.

    ``step`` is clamped to ``[0, total_steps]``, so the decay stays at
    ``final_decay`` after the schedule ends.
    """
    _check_decay('base_decay', base_decay)
    _check_decay('final_decay', final_decay)
    if total_steps < 1:
        raise ValueError(f'total_steps must be >= 1, got {total_steps}')
    k = min(max(int(step), 0), int(total_steps))
    return final_decay - (final_decay - base_decay) * (
        math.cos(math.pi * k / total_steps) + 1) / 2


def _matched(kind: str, target: dict, online: dict) -> None:
    if set(target) != set(online):
        missing = sorted(set(target) ^ set(online))[:10]
        raise ValueError(
            f'EMA target and online network have different {kind}: '
            f'{missing} (first differing names). The target must be a copy '
            'of the online encoder + projector.')


@torch.no_grad()
def ema_update_(target: nn.Module, online: nn.Module, decay: float,
                buffer_policy: str = 'skip') -> None:
    """xi <- decay * xi + (1 - decay) * theta, in place, for every parameter.

    Buffers follow ``buffer_policy`` (see the module docstring).
    """
    _check_decay('decay', decay)
    if buffer_policy not in BUFFER_POLICIES:
        raise ValueError(f'buffer_policy must be one of {BUFFER_POLICIES}, '
                         f'got {buffer_policy!r}')
    t_params = dict(target.named_parameters())
    o_params = dict(online.named_parameters())
    _matched('parameters', t_params, o_params)
    for name, xi in t_params.items():
        xi.mul_(decay).add_(o_params[name].detach(), alpha=1.0 - decay)
    if buffer_policy == 'skip':
        return
    t_bufs = dict(target.named_buffers())
    o_bufs = dict(online.named_buffers())
    _matched('buffers', t_bufs, o_bufs)
    for name, b in t_bufs.items():
        src = o_bufs[name]
        if buffer_policy == 'average' and b.dtype.is_floating_point:
            b.mul_(decay).add_(src, alpha=1.0 - decay)
        else:
            b.copy_(src)


@torch.no_grad()
def copy_to_target_(target: nn.Module, online: nn.Module) -> None:
    """Make the target an exact copy of the online network (step 0)."""
    ema_update_(target, online, 0.0, 'copy')


@HOOKS.register_module()
class EMATargetHook(Hook):
    """Update the model's EMA targets after every training iteration.

    Args:
        base_decay: tau at step 0 (paper: 0.99).
        final_decay: tau at step ``total_steps`` (paper: 1).
        total_steps: K of the cosine schedule; ``None`` takes the run's
            total number of iterations (``runner.max_iters``, also for
            epoch-based loops) when training starts.
        buffer_policy: ``'skip'`` (default, the official SimDis code),
            ``'copy'`` (mmpretrain's BYOL) or ``'average'``.

    The update after iteration ``i`` (0-based) uses ``tau_{i+1}``: the
    official code updates before the forward of iteration ``i + 1`` with
    ``tau_{i+1}``, which is the same arithmetic on the same weights.
    """

    priority = 'NORMAL'  # before CheckpointHook (VERY_LOW) saves the step

    def __init__(self, base_decay: float = 0.99, final_decay: float = 1.0,
                 total_steps: Optional[int] = None,
                 buffer_policy: str = 'skip') -> None:
        _check_decay('base_decay', base_decay)
        _check_decay('final_decay', final_decay)
        if total_steps is not None and total_steps < 1:
            raise ValueError(f'total_steps must be >= 1 or None, got '
                             f'{total_steps}')
        if buffer_policy not in BUFFER_POLICIES:
            raise ValueError(f'buffer_policy must be one of '
                             f'{BUFFER_POLICIES}, got {buffer_policy!r}')
        self.base_decay = float(base_decay)
        self.final_decay = float(final_decay)
        self.total_steps = total_steps
        self.buffer_policy = buffer_policy
        self.steps = 0  # EMA updates done so far (k)
        self._total: Optional[int] = None

    @staticmethod
    def _model(runner) -> nn.Module:
        model = unwrap_model(runner.model)
        if not callable(getattr(model, 'ema_pairs', None)):
            raise TypeError(
                'EMATargetHook updates the EMA targets of a model with an '
                f'`ema_pairs()` method (SimDis, SimDisOnline); got '
                f'{type(model).__name__}.')
        return model

    def decay(self, step: int) -> float:
        if self._total is None:
            raise RuntimeError('the EMA schedule length is known once '
                               'training starts (before_train)')
        return cosine_decay(step, self._total, self.base_decay,
                            self.final_decay)

    def before_train(self, runner) -> None:
        model = self._model(runner)
        self._total = self.total_steps or runner.max_iters
        if self.steps > self._total:
            warnings.warn(f'EMA step {self.steps} is past the schedule '
                          f'length {self._total}; tau stays at '
                          f'{self.final_decay}.')
        if hasattr(model, 'mark_ema_driven'):
            model.mark_ema_driven()
        runner.logger.info(
            f'EMA targets {[n for n, _, _ in model.ema_pairs()]}: tau from '
            f'{self.base_decay} to {self.final_decay} over {self._total} '
            f'steps (cosine), at step {self.steps}, buffers: '
            f'{self.buffer_policy}')

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        model = self._model(runner)
        self.steps += 1
        tau = self.decay(self.steps)
        for _, online, target in model.ema_pairs():
            ema_update_(target, online, tau, self.buffer_policy)
        runner.message_hub.update_scalar('train/ema_decay', tau)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint[_KEY] = dict(
            steps=self.steps, total_steps=self._total,
            base_decay=self.base_decay, final_decay=self.final_decay,
            buffer_policy=self.buffer_policy)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        saved = resumed_state(runner, checkpoint, _KEY, 'EMATargetHook',
                              'EMA state')
        if saved is None:
            return  # load_from: weights only, the schedule starts afresh
        self.steps = int(saved['steps'])
        mine = dict(base_decay=self.base_decay, final_decay=self.final_decay,
                    buffer_policy=self.buffer_policy)
        changed = {k: (saved.get(k), v) for k, v in mine.items()
                   if saved.get(k) != v}
        if changed:
            warnings.warn(
                f'resuming the EMA at step {self.steps} with settings that '
                f'differ from the checkpoint\'s (checkpoint, now): {changed}')
