"""Command-line front end shared by ``tools/train.py`` and ``tools/test.py``.

The flags are mmpretrain's, with the same meaning. What this adds to
mmpretrain's tools: it imports kd_plugins (registering every component and the
checkpoint-loading fix) and, on a machine without a GPU, prepares the gloo
process group for ``--launcher pytorch`` (see
:mod:`kd_plugins.compat.cpu_distributed`), and ends a distributed run
cleanly (:func:`finish_distributed_run`).
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
