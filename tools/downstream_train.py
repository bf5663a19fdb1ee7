r"""Train and evaluate an mmdet / mmseg / mmpretrain config from this repo.

    python tools/downstream_train.py CONFIG
    torchrun --nproc_per_node 8 tools/downstream_train.py CONFIG \
        --launcher pytorch                               # 8 GPUs
    # a quick check of the whole chain on drawn shapes (CPU, seconds):
    python tools/make_shapes_data.py data/shapes
    python tools/downstream_train.py CONFIG --made-data data/shapes

It does what the toolbox's own ``tools/train.py`` does (build mmengine's
Runner from the config, train, validate at the config's interval); the
config's ``default_scope`` picks the toolbox. The toolbox's own entry works
as well with the configs in configs/downstream/ (they import kd_plugins
themselves through ``custom_imports``).
"""
import argparse
import os.path as osp

from made_data import apply_made_data
from mmengine.config import Config, DictAction

import kd_plugins  # noqa: F401  (checkpoint-loading fix, registrations)
from kd_plugins.cli import (
    apply_cfg_options,
    build_runner,
    finish_distributed_run,
    resolve_resume,
)


def parse_args():
    parser = argparse.ArgumentParser(description='Train a downstream model')
    parser.add_argument('config', help='mmdet / mmseg / mmpretrain config')
    parser.add_argument('--work-dir', help='directory for logs and models')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='resume from this checkpoint, or the latest')
    parser.add_argument('--amp', action='store_true',
                        help='automatic mixed precision')
    parser.add_argument('--made-data', metavar='ROOT',
                        help='train and evaluate on the drawn shapes that '
                        'tools/make_shapes_data.py wrote under ROOT instead '
                        'of the config\'s data (small images, few steps)')
    parser.add_argument('--made-data-size', type=int, default=96,
                        help='image size with --made-data (default 96)')
    parser.add_argument('--made-data-iters', type=int, default=3,
                        help='mmseg iterations with --made-data (default 3)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value pairs')
    parser.add_argument('--launcher', default='none',
                        choices=['none', 'pytorch', 'slurm', 'mpi'])
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    return parser.parse_args()


def main():
    args = parse_args()
    if not osp.isfile(args.config):
        raise FileNotFoundError(f'config {args.config!r} does not exist')
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.made_data:
        apply_made_data(cfg, args.made_data, size=args.made_data_size,
                        iters=args.made_data_iters)
    apply_cfg_options(cfg, args.cfg_options)  # a new length scales the lr
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(
            osp.basename(args.config))[0])
    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume
    resolve_resume(cfg)  # the newest checkpoint that loads, said so
    build_runner(cfg).train()
    finish_distributed_run()


if __name__ == '__main__':
    main()
