"""SSKDStageHook without a Runner: logged keys per phase, plateau schedule.

A stand-in runner carries what the hook and mmengine's ``RuntimeInfoHook``
and ``LogProcessor`` read (model, optimizer wrapper, message hub, loop,
counters); the steps are real SSKD train steps on a tiny pair, or scripted
epoch losses where the schedule's decisions are what is tested.
"""
import itertools

import pytest
import torch
from helpers import batch
from helpers.sskd import sskd_cfg
from mmengine.hooks import RuntimeInfoHook
from mmengine.logging import MessageHub, MMLogger
from mmengine.optim import OptimWrapper
from mmengine.runner import EpochBasedTrainLoop, LogProcessor

from kd_plugins.methods.sskd import SSKDStageHook
from kd_plugins.methods.sskd.sskd import HEAD
from kd_plugins.registry import MODELS

_names = itertools.count()


class _Loop(EpochBasedTrainLoop):
    """What the hook and the log processor read of the train loop."""

    def __init__(self, steps_per_epoch: int) -> None:
        self.stop_training = False
        self.dataloader = [None] * steps_per_epoch


class FakeRunner:

    def __init__(self, model, max_epochs: int, steps_per_epoch: int = 1,
                 lr: float = 0.01) -> None:
        self.model = model
        self.optim_wrapper = OptimWrapper(torch.optim.SGD(
            model.parameters(), lr=lr, momentum=0.9))
        self.train_loop = self._train_loop = _Loop(steps_per_epoch)
        self.message_hub = MessageHub.get_instance(
            f'test_sskd_stage_hook_{next(_names)}')
        self.logger = MMLogger.get_instance('test_sskd_stage_hook')
        self.max_epochs = max_epochs
        self.max_iters = max_epochs * steps_per_epoch
        self.epoch = self.iter = 0


def build(tmp_path, **kw):
    model = MODELS.build(sskd_cfg(tmp_path, **kw))
    model.init_weights()
    model.train()
    return model


def train_epoch(runner, hooks, processor):
    """One epoch of real train steps; the logged tag of each step."""
    tags = []
    for h in hooks:
        h.before_train_epoch(runner)
    for i in range(len(runner.train_loop.dataloader)):
        for h in hooks:
            h.before_train_iter(runner, i)
        outputs = runner.model.train_step(batch(), runner.optim_wrapper)
        for h in hooks:
            h.after_train_iter(runner, i, outputs=outputs)
        tag, _ = processor.get_log_after_iter(runner, i, 'train')
        tags.append((outputs, tag))
        runner.iter += 1
    for h in hooks:
        h.after_train_epoch(runner)
    runner.epoch += 1
    return tags


LOSSES = ('loss', 'loss_stage1', 'loss_stage2', 'loss_stage3',
          'loss_stage4', 'dist_stage1', 'dist_stage2', 'dist_stage3')


@pytest.mark.parametrize('mode, phases', [
    ('stagewise', [{'loss_stage1'},
                   {'loss_stage2', 'dist_stage1'},
                   {'loss_stage3', 'dist_stage1', 'dist_stage2'},
                   {'loss_stage4', 'dist_stage1', 'dist_stage2',
                    'dist_stage3'},
                   set()]),
    ('multi_loss', [{'loss_stage1', 'loss_stage2', 'loss_stage3',
                     'loss_stage4'}] * 4 + [set()]),
])
def test_logs_show_only_the_running_phase(tmp_path, mode, phases):
    model = build(tmp_path, mode=mode)
    hook = SSKDStageHook(epochs_per_stage=1, milestones=(), head_epochs=1,
                         head_milestones=())
    runner = FakeRunner(model, max_epochs=5, steps_per_epoch=2)
    hooks = [RuntimeInfoHook(), hook]
    processor = LogProcessor(window_size=10)  # windows span phases
    hook.before_train(runner)
    seen, phase = [], None  # the running phase's step outputs
    for epoch, expected in enumerate(phases):
        if model.phase != phase:
            seen, phase = [], model.phase
        assert set(model.log_names()) == expected
        for outputs, tag in train_epoch(runner, hooks, processor):
            seen.append(outputs)
            assert set(outputs) - {'loss'} == expected
            assert {k for k in tag if k in LOSSES} == expected | {'loss'}, \
                (epoch, len(seen))
            # each logged loss averages this phase's steps only
            for k in expected | {'loss'}:
                mean = sum(float(o[k]) for o in seen) / len(seen)
                assert tag[k] == pytest.approx(mean, rel=1e-4), (epoch, k)
            assert 'lr' in tag  # other keys untouched
    assert model.phase == HEAD


def test_resume_keeps_only_the_current_phase_keys(tmp_path):
    """A checkpoint's hub may hold earlier phases' keys (saved before they
    were dropped at save time): resuming drops them, keeps the rest."""
    model = build(tmp_path)
    hook = SSKDStageHook(epochs_per_stage=1, milestones=(), head_epochs=1,
                         head_milestones=())
    runner = FakeRunner(model, max_epochs=5)
    hook.before_train(runner)  # fresh: state of phase 0
    hook.state['phase'] = 2
    for key in LOSSES + ('lr', 'data_time'):
        runner.message_hub.update_scalar(f'train/{key}', 1.0)
    hook.before_train(runner)  # as after a resume into stage 3
    assert set(runner.message_hub.log_scalars) == {
        f'train/{k}' for k in ('loss', 'loss_stage3', 'dist_stage1',
                               'dist_stage2', 'lr', 'data_time')}


def test_checkpoint_does_not_list_dropped_keys_for_resume(tmp_path):
    model = build(tmp_path)
    hook = SSKDStageHook(epochs_per_stage=1, milestones=(), head_epochs=1,
                         head_milestones=())
    runner = FakeRunner(model, max_epochs=5)
    hook.before_train(runner)
    hub = runner.message_hub
    for key in ('loss', 'loss_stage1', 'lr'):
        hub.update_scalar(f'train/{key}', 1.0)
    hook._advance(runner, model)  # into stage 2: loss, loss_stage1 dropped
    hub.update_scalar('train/loss_stage2', 1.0)
    checkpoint = dict(message_hub=hub.state_dict())
    hook.before_save_checkpoint(runner, checkpoint)
    saved = checkpoint['message_hub']
    assert set(saved['resumed_keys']) == {'train/lr', 'train/loss_stage2'}
    assert set(saved['log_scalars']) == {'train/lr', 'train/loss_stage2'}
    # loading it elsewhere warns about no missing key
    other = MessageHub.get_instance(f'test_sskd_stage_hook_{next(_names)}')
    other.load_state_dict(saved)
    assert set(other.log_scalars) == {'train/lr', 'train/loss_stage2'}
