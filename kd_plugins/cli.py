"""Command-line front end shared by ``tools/train.py`` and ``tools/test.py``.

The flags are mmpretrain's, with the same meaning. What this adds to
mmpretrain's tools: it imports kd_plugins (registering every component and the
checkpoint-loading fix) and, on a machine without a GPU, prepares the gloo
process group for ``--launcher pytorch`` (see
:mod:`kd_plugins.compat.cpu_distributed`), and ends a distributed run
cleanly (:func:`finish_distributed_run`). ``--cfg-options`` that change the
run length scale the schedule alike (:func:`apply_cfg_options`), and
``--resume`` continues from the newest checkpoint that loads
(:func:`resolve_resume`).
"""
import argparse
import os
import os.path as osp
from copy import deepcopy
from typing import Optional

import torch
from mmengine.config import Config, ConfigDict, DictAction

# finish_distributed_run: the tools end a --launcher run with it
from kd_plugins.compat import (
    finish_distributed_run,  # noqa: F401
    setup_cpu_distributed,
)
from kd_plugins.core.collate import NAME as COLLATE
from kd_plugins.core.resume import newest_loadable, why_not_loadable
from kd_plugins.core.schedule import scale_schedulers


def add_common_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--work-dir', help='directory for logs and models')
    parser.add_argument(
        '--amp', action='store_true',
        help='enable automatic mixed precision')
    parser.add_argument(
        '--no-pin-memory', action='store_true',
        help='disable pin_memory in the dataloaders')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings, key=value pairs '
        '(e.g. model.teacher_ckpt=teacher.pth train_cfg.max_iters=10)')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none', help='job launcher')
    # torch.distributed.launch passes --local-rank; torchrun sets LOCAL_RANK.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def finish_args(args: argparse.Namespace) -> argparse.Namespace:
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def renamed_config(path: str) -> Optional[str]:
    """The new path of a config renamed in ``configs/renamed.txt``."""
    table = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))),
                     'configs', 'renamed.txt')
    if not osp.isfile(table):
        return None
    wanted = osp.normpath(path)
    with open(table) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 2 and not line.startswith('#') and \
                    wanted.endswith(osp.normpath(parts[0])):
                return wanted[:-len(osp.normpath(parts[0]))] + parts[1]
    return None


def load_config(args: argparse.Namespace) -> Config:
    if not osp.isfile(args.config):
        new = renamed_config(args.config)
        if new is None or not osp.isfile(new):
            raise FileNotFoundError(
                f'config file {args.config!r} does not exist')
        print(f'config {args.config} was renamed to {new}; using it (its '
              'default work_dir follows the new name).', flush=True)
        args.config = new
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    # work_dir: command line > config file > ./work_dirs/<config name>
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    return cfg


def say(text: str) -> None:
    """Print a line of the tool's own, once per distributed run."""
    if os.environ.get('RANK', '0') == '0':
        print(text, flush=True)


def apply_cfg_options(cfg: Config, options: Optional[dict]) -> None:
    """Merge ``--cfg-options``; when they change ``train_cfg.max_iters`` or
    ``max_epochs`` and set no ``param_scheduler`` key, scale the schedule
    to the new length (:mod:`kd_plugins.core.schedule`) and say so."""
    if not options:
        return
    train_cfg = cfg.get('train_cfg') or {}
    unit = 'max_iters' if 'max_iters' in train_cfg else 'max_epochs'
    old = train_cfg.get(unit)
    cfg.merge_from_dict(options)
    new = (cfg.get('train_cfg') or {}).get(unit)
    if old is None or new is None or old == new:
        return
    if any(k.startswith('param_scheduler') for k in options):
        say(f'train_cfg.{unit} {old} -> {new}; param_scheduler is set in '
            '--cfg-options, so it is used as given (not scaled).')
        return
    lines = scale_schedulers(cfg.get('param_scheduler'), old, new)
    if lines:
        say(f'train_cfg.{unit} {old} -> {new}: param_scheduler scaled '
            'alike (set param_scheduler.* in --cfg-options to choose other '
            'values):\n  ' + '\n  '.join(lines))


def resolve_resume(cfg: Config) -> None:
    """``--resume``: refuse a named checkpoint that does not load; with no
    name, continue from the newest checkpoint of the work_dir that loads,
    saying which newer ones were passed over and why."""
    if not cfg.get('resume', False):
        return
    named = cfg.get('load_from')
    if named:
        why = why_not_loadable(named)
        if why is None:
            return
        other, _ = newest_loadable(osp.dirname(osp.abspath(named)))
        hint = (f' The newest checkpoint beside it that loads is {other}: '
                f'--resume {other}.' if other else
                ' Resume from another checkpoint of the run, or start anew.')
        raise ValueError(f'cannot resume from {named}: {why}.{hint}')
    path, passed = newest_loadable(cfg.work_dir)
    for skipped, why in passed:
        say(f'--resume: passing over {skipped}: {why}')
    if path is None:
        if passed:
            raise FileNotFoundError(
                f'--resume: no checkpoint in {cfg.work_dir} loads (see '
                'above). Start a new run without --resume, or in another '
                '--work-dir.')
        say(f'--resume: no checkpoint in {cfg.work_dir} yet; starting a '
            'new run.')
        return
    if passed:
        say(f'--resume: resuming from {path}, the newest checkpoint that '
            'loads.')
    cfg.load_from = path


def apply_dataloader_defaults(cfg: Config, args: argparse.Namespace,
                              persistent_workers: bool = True) -> None:
    # pin_memory only helps when batches go to a GPU; torch warns otherwise.
    defaults = ConfigDict(pin_memory=torch.cuda.is_available(),
                          persistent_workers=persistent_workers,
                          collate_fn=dict(type='default_collate'))
    for field in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if cfg.get(field, None) is None:
            continue
        loader = deepcopy(defaults)
        loader.update(cfg[field])
        collate = loader.get('collate_fn')
        if isinstance(collate, dict) and \
                collate.get('type') == 'default_collate':
            # the same batches; a size mismatch names its images
            loader['collate_fn'] = dict(collate, type=COLLATE)
        if args.no_pin_memory:
            loader['pin_memory'] = False
        if not persistent_workers or loader.get('num_workers', 0) == 0:
            loader['persistent_workers'] = False
        cfg[field] = loader


def build_runner(cfg: Config):
    """Build the Runner (or the config's ``runner_type``) after the CPU fix."""
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner
    setup_cpu_distributed(cfg, cfg.launcher)
    if 'runner_type' not in cfg:
        return Runner.from_cfg(cfg)
    return RUNNERS.build(cfg)
