"""SafeCheckpointHook: mmengine's CheckpointHook that never loses the last
good checkpoint, and refuses to load one that does not fit the model.

**Saving.** mmengine 0.10.7 (``CheckpointHook._save_checkpoint_with_step``)
removes the checkpoint that falls out of ``max_keep_ckpts`` *before* it
writes the new one, and writes the new one under its final name
(``LocalBackend.put``); ``last_checkpoint`` is rewritten in place too. A kill
during a save with ``max_keep_ckpts=1`` leaves a partial file and nothing to
resume. This subclass changes the order and nothing else:

1. the checkpoint is written to ``<name>.tmp``, flushed, and renamed to
   ``<name>`` (:func:`kd_plugins.core.atomic_file.atomic_path`);
2. ``last_checkpoint`` is replaced the same way;
3. only then is the checkpoint that fell out of ``max_keep_ckpts`` removed.

At every moment the newest complete checkpoint is on disk; a kill leaves at
most a ``.tmp`` (removed at the next start) and one extra old checkpoint. A
full disk stops the run with an error naming the file, and the previous
checkpoint stays. Checkpoints on a remote backend keep mmengine's order.

**Loading.** mmengine calls ``after_load_checkpoint`` for ``load_from`` and
``--resume`` before anything goes into the model or the optimizer. Here the
checkpoint must fit (:func:`kd_plugins.core.checkpoint_fit.fit_problems`):

- resume: a training checkpoint (``meta`` with epoch and iteration) whose
  state dict fits the model exactly;
- evaluation (``tools/test.py``: no training loop): every key of the model,
  with its shape;
- ``load_from`` for training (fine-tuning): at least one key of the model
  (mmengine warns about the others).

Otherwise a ``ValueError`` names the file, the missing prefix or keys, and
the fix.
"""
import glob
import os
import os.path as osp

from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend
from mmengine.hooks import CheckpointHook
from mmengine.registry import HOOKS as ROOT_HOOKS
from mmengine.runner import BaseLoop

from kd_plugins.core.atomic_file import (
    TMP_SUFFIX,
    atomic_path,
    write_text_atomic,
)
from kd_plugins.core.checkpoint_fit import (
    checkpoint_state,
    describe_prefixes,
    fit_problems,
)
from kd_plugins.core.dist import unwrap_model
from kd_plugins.registry import HOOKS

LAST_CHECKPOINT = 'last_checkpoint'  # mmengine's pointer file in work_dir


@HOOKS.register_module()
class SafeCheckpointHook(CheckpointHook):
    """``CheckpointHook`` (same arguments): write, rename, then remove the
    outdated checkpoint; refuse checkpoints that do not fit the model."""

    def _local(self) -> bool:
        return isinstance(self.file_backend, LocalBackend)

    # ---------------------------------------------------------------- save
    def before_train(self, runner) -> None:
        super().before_train(runner)
        if not (self._local() and is_main_process()):
            return
        stale = glob.glob(osp.join(
            glob.escape(self.out_dir),
            self.filename_tmpl.format('*') + TMP_SUFFIX))
        stale += glob.glob(osp.join(glob.escape(runner.work_dir),
                                    LAST_CHECKPOINT + TMP_SUFFIX))
        for path in stale:
            os.remove(path)
            runner.logger.info(f'removed {path}, left by an interrupted '
                               'save (the checkpoints themselves are whole)')

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        if not self._local():
            return super()._save_checkpoint_with_step(runner, step, meta)
        outdated = None
        if self.max_keep_ckpts > 0 and not (
                self.keep_ckpt_ids and self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                outdated = self.keep_ckpt_ids.popleft()  # removed at the end
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids',
                                           list(self.keep_ckpt_ids))
        filename = self.filename_tmpl.format(step)
        self.last_ckpt = osp.join(self.out_dir, filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        if is_main_process():
            with atomic_path(self.last_ckpt) as tmp:
                runner.save_checkpoint(
                    self.out_dir, osp.basename(tmp), self.file_client_args,
                    save_optimizer=self.save_optimizer,
                    save_param_scheduler=self.save_param_scheduler,
                    meta=meta, by_epoch=self.by_epoch,
                    backend_args=self.backend_args, **self.args)
            write_text_atomic(osp.join(runner.work_dir, LAST_CHECKPOINT),
                              self.last_ckpt)
            if outdated is not None and outdated != step:
                old = osp.join(self.out_dir, self.filename_tmpl.format(
                    outdated))
                if osp.isfile(old):
                    os.remove(old)
        else:  # model-parallel saving may gather from every rank
            runner.save_checkpoint(
                self.out_dir, filename + TMP_SUFFIX, self.file_client_args,
                save_optimizer=self.save_optimizer,
                save_param_scheduler=self.save_param_scheduler, meta=meta,
                by_epoch=self.by_epoch, backend_args=self.backend_args,
                **self.args)

    # ---------------------------------------------------------------- load
    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        source = getattr(runner, '_load_from', None) or 'the checkpoint'
        config = osp.basename(runner.cfg.filename or '') or 'this config'
        resume = bool(getattr(runner, '_resume', False))
        if resume:
            meta = checkpoint.get('meta') or {}
            if not ('epoch' in meta and 'iter' in meta):
                raise ValueError(
                    f'cannot resume from {source}: it is not a training '
                    'checkpoint (no meta with epoch and iteration; an '
                    'exported backbone or a weights-only file looks like '
                    'this). Resume from a checkpoint that tools/train.py '
                    'wrote (iter_N.pth or epoch_N.pth in the work_dir), or '
                    f'start a new run from its weights with load_from='
                    f'{source} and no --resume.')
        own = unwrap_model(runner.model).state_dict()
        state = checkpoint_state(checkpoint)
        training = isinstance(getattr(runner, '_train_loop', None),
                              BaseLoop)
        if resume or not training:
            problems = fit_problems(own, state, exact=resume)
        elif not set(own) & set(state):
            problems = ['none of its keys is a key of the model']
        else:
            problems = []  # fine-tuning: mmengine lists what did not load
        if not problems:
            return
        if resume:
            fix = ('Resume from a checkpoint written by a run of this config '
                   '(the same model settings), or train in a new work_dir.')
        elif not training:
            fix = ('Evaluate a checkpoint written by a run of this config, '
                   'or pass the config the checkpoint was trained with.')
        else:
            fix = ('Point load_from at a checkpoint of this model, or load '
                   "part of a model with init_cfg=dict(type='Pretrained', "
                   'prefix=...).')
        raise ValueError(
            f'{source} does not fit the model of {config}: '
            f'{"; ".join(problems)}. The checkpoint holds '
            f'{describe_prefixes(state)}; the model has '
            f'{describe_prefixes(own)}. {fix}')


ROOT_HOOKS.register_module(module=SafeCheckpointHook)
