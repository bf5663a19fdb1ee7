"""SSKDStageHook: the stage schedule of SSKD, as one registered hook.

It owns everything that changes *between* steps: which stage trains, when
the head phase starts, the learning rate, and the optimizer reset at every
boundary. It talks to the model only through ``SSKD.set_phase`` (after
unwrapping DDP). Two schedules, both from the paper (Sec. 3.3):

- ``schedule='fixed'``: ``epochs_per_stage`` epochs per stage, learning rate
  x ``gamma`` at each of ``milestones`` (epochs within the stage); ImageNet:
  60 epochs, x0.1 at 18/36/54. The head phase lasts ``head_epochs`` with
  ``head_milestones``. ``train_cfg.max_epochs`` must equal the total.
- ``schedule='plateau'``: x ``gamma`` whenever the epoch's mean stage loss
  has not fallen by ``threshold`` (relative) for ``patience`` epochs, down
  to ``min_lr`` (1e-5); the next stage starts once ``min_lr`` has been
  trained (``epochs_at_min_lr``, below) or after ``max_epochs_per_stage``.
  The head phase then runs ``head_epochs`` and training stops
  (``max_epochs`` is an upper bound).

How long ``min_lr`` is trained. The paper (Sec. 3.3) decreases the rate
"every time the feature distance does not decrease any more" and starts the
next stage "when the learning rate achieves 1e-5"; its ImageNet example
(60 epochs, x0.1 at 18/36/54) trains epochs 54-60 at 1e-5. Read literally,
the sentence trains no epoch at 1e-5: the last decrease would only end the
stage, which then ends at 10 x ``min_lr``. So by default
(``epochs_at_min_lr=None``) ``min_lr`` is trained like every rate before
it, until the stage loss stops falling, and where the rule would decrease
the rate once more the stage ends instead: the example's order (train at
1e-5, then move on) with the paper's own rule deciding how long, and no
number the paper does not give. ``epochs_at_min_lr=n`` trains exactly n
epochs at ``min_lr``; ``0`` moves on as soon as the rate reaches it (the
sentence read literally). A decrease never goes below ``min_lr``.

At every boundary the learning rate returns to its base value and the
optimizer state (momentum) is cleared. The schedule state is saved in each
checkpoint under ``'sskd_schedule'`` with a fingerprint of the stage layout,
so a resume restores stage, frozen set, learning rate and plateau tracker
exactly, and a checkpoint of another configuration is refused. The epoch's
stage loss is averaged over all processes, so every rank takes the same
decision. With ``mode='multi_loss'`` there is one backbone phase of
``epochs_per_stage * num_stages`` epochs (milestones scaled alike), the same
budget as SSKD's stages together.

Logs show the running phase only. mmengine's ``LogProcessor`` prints every
``train/*`` scalar that the runner's ``MessageHub`` holds, each a window of
its last values, and the hub keeps a key once it has seen it; so a finished
stage's ``loss_stage<i>`` would go on being printed with its last value. At
every boundary the hook therefore drops the phase's losses (``loss``,
``loss_stage<i>``, ``dist_stage<j>``) from ``runner.message_hub.log_scalars``;
the next phase's first step writes its own, with fresh windows.
"""
import math
import re
from typing import Dict, Optional, Sequence

import torch
from mmengine.dist import all_reduce
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner import EpochBasedTrainLoop

from kd_plugins.core.checkpoint import resumed_state
from kd_plugins.core.dist import unwrap_model
from kd_plugins.methods.sskd.sskd import HEAD, SSKD
from kd_plugins.registry import HOOKS

_KEY = 'sskd_schedule'
# the losses SSKD logs, as the message hub names them (see the docstring)
_PHASE_LOG = re.compile(r'train/(loss|(loss|dist)_stage\d+)$')


@HOOKS.register_module()
class SSKDStageHook(Hook):
    """Drive SSKD through its stages and the head phase.

    Args:
        schedule: ``'fixed'`` or ``'plateau'``.
        epochs_per_stage / milestones / gamma: the fixed schedule.
        head_epochs / head_milestones: the head phase.
        head_lr: base learning rate of the head phase (default: the
            optimizer's).
        patience / threshold / min_lr / max_epochs_per_stage: the plateau
            schedule.
        epochs_at_min_lr: epochs trained at ``min_lr`` before the next
            stage; ``None`` (default): until the stage loss stops falling
            there, ``0``: none (see the module docstring).
    """

    priority = 'NORMAL'

    def __init__(self, schedule: str = 'fixed', epochs_per_stage: int = 60,
                 milestones: Sequence[int] = (18, 36, 54),
                 gamma: float = 0.1, head_epochs: int = 30,
                 head_milestones: Sequence[int] = (10, 20),
                 head_lr: Optional[float] = None, patience: int = 1,
                 threshold: float = 1e-3, min_lr: float = 1e-5,
                 max_epochs_per_stage: int = 1000,
                 epochs_at_min_lr: Optional[int] = None) -> None:
        if schedule not in ('fixed', 'plateau'):
            raise ValueError("schedule must be 'fixed' or 'plateau', got "
                             f'{schedule!r}')
        if any(not 0 < m < epochs_per_stage for m in milestones):
            raise ValueError(f'milestones {list(milestones)} must lie inside '
                             f'a stage of {epochs_per_stage} epochs')
        if not 0 < gamma < 1:
            raise ValueError(f'gamma must be in (0, 1), got {gamma}')
        if head_epochs < 1:
            raise ValueError(f'head_epochs must be >= 1, got {head_epochs}')
        if epochs_at_min_lr is not None and epochs_at_min_lr < 0:
            raise ValueError('epochs_at_min_lr must be None (until the stage '
                             'loss stops falling) or >= 0, got '
                             f'{epochs_at_min_lr}')
        self.schedule = schedule
        self.epochs_per_stage = epochs_per_stage
        self.milestones = sorted(milestones)
        self.gamma = gamma
        self.head_epochs = head_epochs
        self.head_milestones = sorted(head_milestones)
        self.head_lr = head_lr
        self.patience = patience
        self.threshold = threshold
        self.min_lr = min_lr
        self.max_epochs_per_stage = max_epochs_per_stage
        self.epochs_at_min_lr = epochs_at_min_lr
        self.state: Optional[Dict] = None
        self._loss_sum = 0.0
        self._loss_count = 0

    # --------------------------------------------------------------- helpers
    @staticmethod
    def _algo(runner) -> SSKD:
        model = unwrap_model(runner.model)
        if not isinstance(model, SSKD):
            raise TypeError('SSKDStageHook drives an SSKD model, got '
                            f'{type(model).__name__}')
        return model

    def _phases(self, algo: SSKD) -> list:
        backbone = [0] if algo.mode == 'multi_loss' \
            else list(range(algo.num_stages))
        return backbone + [HEAD]

    def _phase_epochs(self, algo: SSKD):
        """(epochs, milestones) of a backbone phase in the fixed schedule."""
        k = algo.num_stages if algo.mode == 'multi_loss' else 1
        return self.epochs_per_stage * k, [m * k for m in self.milestones]

    def total_epochs(self, algo: SSKD) -> int:
        n_backbone = len(self._phases(algo)) - 1
        return n_backbone * self._phase_epochs(algo)[0] + self.head_epochs

    @staticmethod
    def _fingerprint(algo: SSKD) -> Dict:
        return dict(mode=algo.mode,
                    student=[list(s.out_shape) for s in algo.stages],
                    teacher=[list(s.out_shape) for s in algo.teacher_stages])

    def _lr_scale(self, algo: SSKD) -> float:
        st = self.state
        if self.schedule == 'plateau' and st['phase'] != HEAD:
            return st['lr_scale']
        if st['phase'] == HEAD:
            milestones = self.head_milestones
        else:
            milestones = self._phase_epochs(algo)[1]
        passed = sum(1 for m in milestones if st['epoch_in_phase'] >= m)
        return self.gamma ** passed

    def _set_lr(self, runner, algo: SSKD) -> None:
        scale = self._lr_scale(algo)
        for group, base in zip(runner.optim_wrapper.param_groups,
                               self.state['base_lrs']):
            if self.state['phase'] == HEAD and self.head_lr is not None:
                base = self.head_lr
            group['lr'] = base * scale

    @staticmethod
    def _forget_logs(runner, keep: Sequence[str] = ()) -> None:
        """Drop SSKD's logged losses but ``keep`` from the message hub."""
        scalars = runner.message_hub.log_scalars
        for key in [k for k in scalars if _PHASE_LOG.match(k)
                    and k[len('train/'):] not in keep]:
            del scalars[key]

    def _advance(self, runner, algo: SSKD) -> None:
        phases = self._phases(algo)
        nxt = phases[phases.index(self.state['phase']) + 1]
        algo.set_phase(nxt, reinit_head=(nxt == HEAD),
                       seed=self.state['head_seed'])
        runner.optim_wrapper.optimizer.state.clear()  # fresh momentum
        self._forget_logs(runner)  # the finished phase's losses
        self.state.update(phase=nxt, epoch_in_phase=0, lr_scale=1.0,
                          best=math.inf, bad_epochs=0, min_lr_epochs=0)
        what = 'head phase' if nxt == HEAD else f'stage {nxt + 1}'
        # called from after_train_epoch, before mmengine counts the epoch:
        # the next epoch is runner.epoch + 1 (0-based), logged as + 2
        runner.logger.info(f'SSKD: starting {what} at epoch '
                           f'{runner.epoch + 2}; learning rate and '
                           'optimizer state reset')

    # ----------------------------------------------------------------- hooks
    def before_train(self, runner) -> None:
        if not isinstance(runner.train_loop, EpochBasedTrainLoop):
            raise TypeError('SSKDStageHook needs an epoch-based train loop '
                            "(train_cfg = dict(by_epoch=True, ...))")
        if is_model_wrapper(runner.model) and \
                getattr(runner.model, 'find_unused_parameters', True) is False:
            raise ValueError(
                'SSKD trains one stage at a time, so under DDP most '
                'parameters get no gradient in a step: set '
                '`model_wrapper_cfg = dict(type=\'MMDistributedDataParallel\','
                ' find_unused_parameters=True)` (or `find_unused_parameters '
                '= True`) in the config.')
        algo = self._algo(runner)
        if self.schedule == 'fixed' and \
                runner.max_epochs != self.total_epochs(algo):
            raise ValueError(
                f'train_cfg.max_epochs is {runner.max_epochs}, but the fixed '
                f'SSKD schedule needs {self.total_epochs(algo)} '
                f'({len(self._phases(algo)) - 1} backbone phases x '
                f'{self._phase_epochs(algo)[0]} + {self.head_epochs} head '
                'epochs). Set max_epochs to that total.')
        if self.state is None:  # a fresh run (a resume restored it already)
            self.state = dict(
                phase=0, epoch_in_phase=0, lr_scale=1.0, best=math.inf,
                bad_epochs=0, min_lr_epochs=0,
                base_lrs=[g['lr'] for g in runner.optim_wrapper.param_groups],
                # drawn now, saved with the state: the head's re-init is the
                # same whether or not the run was resumed in between
                head_seed=int(torch.randint(0, 2**31 - 1, ())),
                fingerprint=self._fingerprint(algo))
            algo.set_phase(0)
        else:
            algo.set_phase(self.state['phase'])
        # a resumed hub holds what was logged when the checkpoint was saved
        self._forget_logs(runner, keep=['loss', *algo.log_names()])

    def before_train_epoch(self, runner) -> None:
        self._set_lr(runner, self._algo(runner))
        self._loss_sum, self._loss_count = 0.0, 0

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        if outputs and 'loss' in outputs:
            self._loss_sum += float(outputs['loss'])
            self._loss_count += 1

    def after_train_epoch(self, runner) -> None:
        algo = self._algo(runner)
        st = self.state
        st['epoch_in_phase'] += 1
        mean = torch.tensor([self._loss_sum, float(self._loss_count)],
                            dtype=torch.float64)
        all_reduce(mean)  # same decision on every rank
        epoch_loss = (mean[0] / mean[1].clamp(min=1)).item()
        if st['phase'] == HEAD:
            if self.schedule == 'plateau' and \
                    st['epoch_in_phase'] >= self.head_epochs:
                runner.train_loop.stop_training = True
            return
        if self.schedule == 'fixed':
            if st['epoch_in_phase'] >= self._phase_epochs(algo)[0]:
                self._advance(runner, algo)
            return
        # plateau: x gamma when the stage loss stops falling, down to min_lr
        floor = self.min_lr / min(st['base_lrs'])  # lr_scale at min_lr
        ran_at_min = st['lr_scale'] <= floor * (1 + 1e-6)
        st['min_lr_epochs'] = st.get('min_lr_epochs', 0) + ran_at_min
        stalled = False
        if epoch_loss < st['best'] * (1 - self.threshold):
            st['best'], st['bad_epochs'] = epoch_loss, 0
        else:
            st['bad_epochs'] += 1
            if st['bad_epochs'] >= self.patience:
                stalled, st['bad_epochs'] = True, 0
                if not ran_at_min:
                    st['lr_scale'] = max(st['lr_scale'] * self.gamma, floor)
        if self.epochs_at_min_lr is None:
            done = ran_at_min and stalled  # would go below min_lr
        else:
            done = st['lr_scale'] <= floor * (1 + 1e-6) and \
                st['min_lr_epochs'] >= self.epochs_at_min_lr
        if done or st['epoch_in_phase'] >= self.max_epochs_per_stage:
            self._advance(runner, algo)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint[_KEY] = dict(self.state)
        hub = checkpoint.get('message_hub')
        if hub:  # what _forget_logs dropped is not to be resumed either
            hub['resumed_keys'] = {
                k: v for k, v in hub['resumed_keys'].items()
                if not _PHASE_LOG.match(k) or k in hub['log_scalars']}

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        saved = resumed_state(runner, checkpoint, _KEY, 'SSKDStageHook',
                              'SSKD schedule state')
        if saved is None:
            return  # load_from: weights only, the schedule starts afresh
        mine = self._fingerprint(self._algo(runner))
        if saved['fingerprint'] != mine:
            raise ValueError(
                'cannot resume SSKD from a checkpoint of another '
                f'configuration: it has {saved["fingerprint"]}, this config '
                f'{mine} (mode, student and teacher stage shapes).')
        self.state = dict(saved)
