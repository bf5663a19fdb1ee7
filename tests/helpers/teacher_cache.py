"""Teacher-cache runs: a shipped MNIST-5k config on the small split, its
cache written, and losses of a short run from the cache or the live
teacher over the same views."""
import os.path as osp
from copy import deepcopy
from typing import List

from mmengine.config import Config
from mmengine.hooks import Hook

from . import ROOT


def small_config(config: str, root: str, work_dir: str, iters: int = 6,
                 batch: int = 8, **model) -> Config:
    """``config`` on the small split at ``root``, ``iters`` steps of
    ``batch`` images, no validation, no checkpoints, model overrides."""
    cfg = Config.fromfile(osp.join(ROOT, config))
    cfg.work_dir = work_dir
    loader = cfg.train_dataloader
    loader.batch_size = batch
    loader.num_workers = 0
    loader.persistent_workers = False

    def point(ds):  # every dataset config under the loader at ``root``
        if isinstance(ds, dict):
            if 'data_root' in ds:
                ds['data_root'] = root
            for v in ds.values():
                point(v)
    point(loader.dataset)
    cfg.model.update(model)
    cfg.train_cfg.max_iters = iters
    cfg.train_cfg.val_interval = iters + 1
    for key in ('val_dataloader', 'val_cfg', 'val_evaluator',
                'test_dataloader', 'test_cfg', 'test_evaluator'):
        cfg[key] = None
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook',
                                        interval=10 ** 6)
    cfg.default_hooks.logger.interval = 1
    cfg.param_scheduler = []
    cfg.log_level = 'WARNING'
    return cfg


class LossRecorder(Hook):
    """Every step's loss terms, as floats."""

    def __init__(self) -> None:
        self.steps: List[dict] = []

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        self.steps.append({k: float(v) for k, v in outputs.items()
                           if k.startswith('loss')})


def run_losses(cfg: Config, live: bool = False) -> List[dict]:
    """Train ``cfg`` (from its ``model.teacher_cache``, or with
    ``live=True`` over the cache's views with the live teacher) and
    return each step's losses."""
    from mmengine.runner import Runner

    from kd_plugins.core.teacher_cache import apply_teacher_cache
    cfg = deepcopy(cfg)
    apply_teacher_cache(cfg, live=live)
    runner = Runner.from_cfg(cfg)
    recorder = LossRecorder()
    runner.register_hook(recorder)
    runner.train()
    return recorder.steps


def max_rel_diff(a: List[dict], b: List[dict]) -> float:
    """Largest |a - b| / |b| over steps and loss terms."""
    assert len(a) == len(b) and a, (len(a), len(b))
    return max(abs(x[k] - y[k]) / max(abs(y[k]), 1e-12)
               for x, y in zip(a, b) for k in y)
