"""Compare a run from a teacher cache with the live teacher's, step by step.

Both runs see the cache's views in the same order from the same start;
only the teacher targets differ (read, or computed). Used by
``tools/cache_teacher.py --check`` and the tests.
"""
import tempfile
from copy import deepcopy
from typing import Dict, List, Tuple

from mmengine.hooks import Hook

from kd_plugins.core.teacher_cache.binding import apply_teacher_cache


class LossRecorder(Hook):
    """Every step's loss terms, as floats."""

    priority = 'LOWEST'

    def __init__(self) -> None:
        self.steps: List[Dict[str, float]] = []

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        self.steps.append({k: float(v.detach()) if hasattr(v, 'detach')
                           else float(v) for k, v in outputs.items()
                           if k.startswith('loss')})


def short_run(cfg, iters: int, work_dir: str):
    """``cfg`` cut to ``iters`` steps: no validation, no checkpoints, no
    schedule (the same constant learning rate in both runs)."""
    cfg = deepcopy(cfg)
    cfg.work_dir = work_dir
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=iters,
                         val_interval=iters + 1)
    for key in ('val_dataloader', 'val_cfg', 'val_evaluator',
                'test_dataloader', 'test_cfg', 'test_evaluator'):
        cfg[key] = None
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook',
                                        interval=10 ** 9)
    cfg.param_scheduler = []
    cfg.log_processor = dict(by_epoch=False)
    cfg.log_level = 'WARNING'
    if not cfg.train_dataloader.get('num_workers'):
        cfg.train_dataloader.persistent_workers = False
    if (cfg.get('randomness') or {}).get('seed') is None:
        # both runs must start from the same student
        cfg.randomness = dict(cfg.get('randomness') or {}, seed=0)
    return cfg


def run_losses(cfg, live: bool = False) -> List[Dict[str, float]]:
    """Train ``cfg`` from its ``model.teacher_cache`` (``live=True``: over
    the cache's views with the live teacher); each step's losses."""
    from mmengine.runner import Runner
    cfg = deepcopy(cfg)
    apply_teacher_cache(cfg, live=live)
    runner = Runner.from_cfg(cfg)
    recorder = LossRecorder()
    runner.register_hook(recorder)
    runner.train()
    return recorder.steps


def rel_diffs(cached: List[Dict[str, float]],
              live: List[Dict[str, float]]) -> List[float]:
    """Per step, the largest |cached - live| / |live| over the loss
    terms."""
    if len(cached) != len(live) or not live:
        raise ValueError(f'runs of {len(cached)} and {len(live)} steps.')
    return [max(abs(c[k] - v[k]) / max(abs(v[k]), 1e-12) for k in v)
            for c, v in zip(cached, live)]


def compare(cfg, cache: str, iters: int
            ) -> Tuple[List[Dict[str, float]], List[Dict[str, float]],
                       List[float]]:
    """``iters`` steps from ``cache`` and with the live teacher."""
    with tempfile.TemporaryDirectory() as tmp:
        cfg = short_run(cfg, iters, tmp)
        cfg.model.teacher_cache = cache
        cached = run_losses(cfg)
        live = run_losses(cfg, live=True)
    return cached, live, rel_diffs(cached, live)
