"""Run-time settings applied to a named config: the number of steps (its
schedule scaled alike), the data folder, the data loaders. Nothing here
changes what a run trains, only how long and on which copy of the digits.
"""
import os
import os.path as osp

from mmengine.config import Config

from bench.effectiveness.plan import DATA
from kd_plugins.core.schedule import scale_schedulers


def set_iterations(cfg: Config, iters: int) -> None:
    """Give an iteration-based config ``iters`` steps, its learning-rate
    schedule scaled alike; SSKD's epoch schedule gets the same number of
    epochs as ``iters`` steps of its loader."""
    if cfg.train_cfg.get('by_epoch', False) or \
            cfg.train_cfg.get('type') == 'EpochBasedTrainLoop':
        return set_sskd_epochs(cfg, iters)
    scale_schedulers(cfg.get('param_scheduler', None),
                     cfg.train_cfg.max_iters, iters)
    cfg.train_cfg.max_iters = iters
    # mmengine's iteration loop sleeps 2 s whenever a finite sampler runs
    # out (mmengine/runner/loops.py, "Prevent possible deadlock"): with
    # 1,000 digits that is every 32 steps, half of a run's time here
    cfg.train_dataloader.sampler = dict(type='InfiniteSampler',
                                        shuffle=True)
    cfg.train_cfg.val_interval = iters + 1  # validated once, after training
    cfg.default_hooks.checkpoint.update(interval=iters, by_epoch=False)
    cfg.default_hooks.logger.interval = max(1, iters // 50)  # the curves


def sskd_stages(cfg: Config) -> int:
    """How many stages the SSKD config's student is split into (its
    backbone built and traced as the algorithm does)."""
    from mmengine.registry import DefaultScope

    from kd_plugins.methods.sskd.partition import partition_backbone
    from kd_plugins.registry import MODELS
    model = cfg.model
    with DefaultScope.overwrite_default_scope('kd_plugins'):
        backbone = MODELS.build(model.student.backbone)
    kwargs = dict(num_stages=model.get('num_stages', None))
    if model.get('input_size', None) is not None:
        kwargs['input_size'] = model.input_size
    return len(partition_backbone(backbone, **kwargs))


def set_sskd_epochs(cfg: Config, iters: int) -> None:
    """SSKD's stage schedule (epochs) at about ``iters`` steps: equal
    stages (as many as the student has) and the head phase (at least 5
    epochs in all), the learning-rate milestones of each phase scaled
    alike."""
    hook = next(h for h in cfg.custom_hooks if h.type == 'SSKDStageHook')
    stages = sskd_stages(cfg)
    data_root = cfg.train_dataloader.dataset.data_root
    num_images = sum(len(files) for _, _, files in os.walk(
        osp.join(data_root, cfg.train_dataloader.dataset.data_prefix)))
    per_epoch = -(-num_images // cfg.train_dataloader.batch_size)
    total = max(5, round(iters / per_epoch))
    per_stage = max(1, round(total * 0.8 / stages))
    head = max(1, total - stages * per_stage)
    total = stages * per_stage + head

    def scaled(milestones, old, new):
        return sorted({round(m * new / old) for m in milestones}
                      & set(range(1, new)))
    hook.milestones = scaled(hook.milestones, hook.epochs_per_stage,
                             per_stage)
    hook.head_milestones = scaled(hook.head_milestones, hook.head_epochs,
                                  head)
    hook.update(epochs_per_stage=per_stage, head_epochs=head)
    cfg.train_cfg.update(max_epochs=total, val_begin=total + 1)
    cfg.default_hooks.checkpoint.update(interval=total, max_keep_ckpts=1)


def retarget(cfg: Config, data: str) -> None:
    """Point every dataset of ``cfg`` that reads the configs' MNIST-5k
    folder at ``data`` instead."""
    def walk(node):
        if isinstance(node, dict):
            if node.get('data_root') == DATA:
                node['data_root'] = data
            for v in node.values():
                walk(v)
        elif isinstance(node, (list, tuple)):
            for v in node:
                walk(v)
    if data != DATA:
        walk(cfg._cfg_dict)


def quiet_loaders(cfg: Config, workers: int) -> None:
    """``workers`` loader processes for every data loader of ``cfg``."""
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if cfg.get(key, None) is not None:
            cfg[key].num_workers = workers
            cfg[key].persistent_workers = workers > 0
