"""Train (distil) a model from a config: mmpretrain's tools/train.py flags.

    python tools/train.py configs/ssld/ssld_r18w4_r18w16_mnist5k.py
    python tools/train.py CONFIG --resume            # latest checkpoint
    python tools/train.py CONFIG --resume ckpt.pth   # a given checkpoint
    bash tools/dist_train.sh CONFIG 8                # 8 processes (torchrun)
"""
import argparse

import kd_plugins  # noqa: F401  (registers components, checkpoint fix)
from kd_plugins.cli import (
    add_common_args,
    apply_cfg_options,
    apply_dataloader_defaults,
    build_runner,
    finish_args,
    finish_distributed_run,
    load_config,
    resolve_resume,
)
from kd_plugins.core.teacher_cache import apply_teacher_cache


def parse_args():
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from this checkpoint, or, with no value, from the latest '
        'checkpoint in the work directory')
    parser.add_argument('--no-validate', action='store_true',
                        help='do not evaluate checkpoints during training')
    parser.add_argument(
        '--auto-scale-lr', action='store_true',
        help='scale the learning rate by actual / base batch size')
    parser.add_argument('--no-persistent-workers', action='store_true',
                        help='disable persistent_workers in the dataloaders')
    add_common_args(parser)
    return finish_args(parser.parse_args())


def merge_args(cfg, args):
    if args.no_validate:
        cfg.val_cfg = None
        cfg.val_dataloader = None
        cfg.val_evaluator = None
    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    if args.auto_scale_lr:
        if 'auto_scale_lr' not in cfg:
            raise ValueError('--auto-scale-lr needs `auto_scale_lr = '
                             'dict(base_batch_size=...)` in the config')
        cfg.auto_scale_lr.enable = True
    # run length changed here scales the schedule alike (printed)
    apply_cfg_options(cfg, args.cfg_options)
    # after the overrides, so that num_workers=0 turns persistence off
    apply_dataloader_defaults(cfg, args, not args.no_persistent_workers)
    resolve_resume(cfg)  # the newest checkpoint that loads, said so
    # model.teacher_cache=DIR: checked, and the data replays its views
    apply_teacher_cache(cfg)
    return cfg


def main():
    args = parse_args()
    cfg = merge_args(load_config(args), args)
    build_runner(cfg).train()
    finish_distributed_run()


if __name__ == '__main__':
    main()
