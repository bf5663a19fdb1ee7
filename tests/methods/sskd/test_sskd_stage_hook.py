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


# ----------------------------------------------------------- plateau schedule
def run_plateau(tmp_path, losses, lr=0.01, **kw):
    """The plateau schedule on scripted epoch losses (``losses[i]`` in the
    i-th epoch of every stage, the last one repeated). Returns (phase, lr)
    of every epoch until the hook stops the run."""
    model = build(tmp_path)
    kw = dict(dict(schedule='plateau', patience=1, gamma=0.1, min_lr=1e-5,
                   head_epochs=2, head_milestones=()), **kw)
    hook = SSKDStageHook(**kw)
    runner = FakeRunner(model, max_epochs=500, lr=lr)
    hook.before_train(runner)
    epochs = []
    while not runner.train_loop.stop_training:
        assert runner.epoch < runner.max_epochs
        hook.before_train_epoch(runner)
        lr = runner.optim_wrapper.param_groups[0]['lr']
        epochs.append((model.phase, lr))
        i = hook.state['epoch_in_phase']
        hook.after_train_iter(runner, 0, outputs=dict(
            loss=torch.tensor(losses[min(i, len(losses) - 1)])))
        hook.after_train_epoch(runner)
        runner.epoch += 1
    return epochs


def starts(epochs):
    """Epoch (0-based) at which each phase starts."""
    return [e for e, (p, _) in enumerate(epochs)
            if e == 0 or p != epochs[e - 1][0]]


# improves for 3 epochs, then flat: x0.1 after epochs 4, 5, 6 (1-based)
FLAT = [1.0, 0.5, 0.25, 0.25]
LR_TO_MIN = [0.01] * 4 + [1e-3, 1e-4]  # the epochs before min_lr


@pytest.mark.parametrize('at_min, stage_lrs', [
    (None, LR_TO_MIN + [1e-5]),  # min_lr until the loss stalls there: 1
    (0, LR_TO_MIN),  # next stage as soon as the lr reaches min_lr
    (3, LR_TO_MIN + [1e-5] * 3),
])
def test_plateau_epochs_at_min_lr(tmp_path, at_min, stage_lrs):
    epochs = run_plateau(tmp_path, FLAT, epochs_at_min_lr=at_min)
    n = len(stage_lrs)
    assert starts(epochs) == [0, n, 2 * n, 3 * n, 4 * n]
    assert [p for p, _ in epochs] == [0] * n + [1] * n + [2] * n + \
        [3] * n + [HEAD] * 2
    for k in range(4):  # every stage: same learning rates, reset at start
        lrs = [lr for _, lr in epochs[k * n:(k + 1) * n]]
        assert lrs == pytest.approx(stage_lrs, rel=1e-9), k
    assert [lr for _, lr in epochs[-2:]] == pytest.approx([0.01, 0.01])


def test_plateau_trains_min_lr_while_the_loss_falls(tmp_path):
    # at 1e-5 (epoch 7 of a stage) the loss falls twice more, then stalls
    losses = [1.0, 0.5, 0.25, 0.25, 0.25, 0.25, 0.2, 0.1, 0.1]
    epochs = run_plateau(tmp_path, losses)
    assert starts(epochs)[:2] == [0, 9]
    assert [lr for _, lr in epochs[:9]] == pytest.approx(
        LR_TO_MIN + [1e-5] * 3, rel=1e-9)


def test_plateau_never_goes_below_min_lr(tmp_path):
    # 0.01 -> 1e-3 -> 1e-4 -> 3e-5 (not 1e-5), trained, then the next stage
    epochs = run_plateau(tmp_path, FLAT, min_lr=3e-5)
    assert [lr for _, lr in epochs[:7]] == pytest.approx(
        LR_TO_MIN + [3e-5], rel=1e-9)
    assert starts(epochs)[1] == 7


def test_plateau_stage_cap(tmp_path):
    epochs = run_plateau(tmp_path, [1.0 / (i + 1) for i in range(50)],
                         max_epochs_per_stage=5)  # never stalls
    assert starts(epochs) == [0, 5, 10, 15, 20]
    assert all(lr == pytest.approx(0.01) for _, lr in epochs[:20])


def test_epochs_at_min_lr_is_checked():
    with pytest.raises(ValueError, match='epochs_at_min_lr'):
        SSKDStageHook(schedule='plateau', epochs_at_min_lr=-1)


# ------------------------------------------ the embedded config's schedule
def test_mnist5k_stages_train_from_lr_1_and_the_head_from_0_1(tmp_path):
    """configs/sskd/sskd_r18w8_r18w16_mnist5k.py: every stage 10 epochs
    from lr 1.0 (x0.1 at 6 and 8), the head 5 from 0.1 (x0.1 at 3); its
    multi-loss baseline is the same config but for the mode (configs/sskd/
    README.md, "Why stage by stage fell behind")."""
    from mmengine.config import Config
    cfg = Config.fromfile('configs/sskd/sskd_r18w8_r18w16_mnist5k.py')
    multi = Config.fromfile(
        'configs/sskd/sskd_r18w8_r18w16_mnist5k_multi_loss.py')
    assert multi.model.mode == 'multi_loss'
    assert multi.optim_wrapper == cfg.optim_wrapper
    assert multi.custom_hooks == cfg.custom_hooks
    model = build(tmp_path)
    hook_cfg = dict(cfg.custom_hooks[0])
    assert hook_cfg.pop('type') == 'SSKDStageHook'
    hook = SSKDStageHook(**hook_cfg)
    total = hook.total_epochs(model)
    runner = FakeRunner(model, max_epochs=total,
                        lr=cfg.optim_wrapper.optimizer.lr)
    hook.before_train(runner)
    lrs = []
    for _ in range(total):
        hook.before_train_epoch(runner)
        lrs.append(runner.optim_wrapper.param_groups[0]['lr'])
        hook.after_train_iter(runner, 0, outputs=dict(loss=torch.tensor(1.)))
        hook.after_train_epoch(runner)
        runner.epoch += 1
    stage = [1.0] * 6 + [0.1] * 2 + [0.01] * 2
    assert lrs == pytest.approx(stage * model.num_stages
                                + [0.1] * 3 + [0.01] * 2)
