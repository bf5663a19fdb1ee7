"""Evaluate a checkpoint on a config's test set: mmpretrain's flags.

    python tools/test.py CONFIG CHECKPOINT [--out results.pkl]
    bash tools/dist_test.sh CONFIG CHECKPOINT 8
"""
import argparse

import mmengine
from mmengine.evaluator import DumpResults

import kd_plugins  # noqa: F401  (registers components, checkpoint fix)
from kd_plugins.cli import (
    add_common_args,
    apply_dataloader_defaults,
    build_runner,
    finish_args,
    finish_distributed_run,
    load_config,
)


def parse_args():
    parser = argparse.ArgumentParser(description='Test (evaluate) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', help='file to write results to')
    parser.add_argument('--out-item', choices=['metrics', 'pred'],
                        help='write metrics or predictions (default)')
    add_common_args(parser)
    args = finish_args(parser.parse_args())
    if args.out is None and args.out_item is not None:
        raise ValueError('--out-item needs --out to name the output file')
    return args


def main():
    args = parse_args()
    cfg = load_config(args)
    cfg.load_from = args.checkpoint
    if args.amp:
        cfg.test_cfg.fp16 = True
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    apply_dataloader_defaults(cfg, args, persistent_workers=False)
    runner = build_runner(cfg)
    if args.out and args.out_item in ('pred', None):
        runner.test_evaluator.metrics.append(
            DumpResults(out_file_path=args.out))
    metrics = runner.test()
    if args.out and args.out_item == 'metrics':
        mmengine.dump(metrics, args.out)
    finish_distributed_run()


if __name__ == '__main__':
    main()
