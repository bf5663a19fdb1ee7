r"""Cosine k-NN top-1 of a backbone's pooled features.

    python tools/knn_eval.py configs/downstream/mnist5k/linear_probe_r18w8.py \
        --checkpoint work_dirs/backbones/mnist5k_r18w8.pth
    python tools/knn_eval.py CONFIG --random          # the untrained baseline

The config (a classification config: backbone, neck, data) gives the model
and the data: the training set, through the test pipeline, is the labelled
bank; the validation set is queried. Features are L2-normalised, each query's
k nearest neighbours by cosine similarity vote with weight exp(sim / T)
(InstDisc / DINO). The checkpoint is an exported backbone
(tools/export_backbone.py); it must load completely.
"""
import argparse

from mmengine.config import Config, DictAction

import kd_plugins  # noqa: F401  (registrations, checkpoint fix)
from kd_plugins.downstream.backbone_eval import (
    build_with_backbone,
    knn_loaders,
    knn_top1,
)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('config', help='classification config')
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument('--checkpoint', help='exported backbone')
    group.add_argument('--random', action='store_true',
                       help="the backbone's random initialisation")
    parser.add_argument('--k', type=int, default=20, help='neighbours')
    parser.add_argument('--temperature', type=float, default=0.07)
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the random initialisation')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value pairs')
    args = parser.parse_args()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    model = build_with_backbone(cfg, args.checkpoint, args.seed)
    bank, queries = knn_loaders(cfg)
    result = knn_top1(model, bank, queries, args.k, args.temperature)
    name = args.checkpoint or f'random init (seed {args.seed})'
    print(f'k-NN top-1 {result["top1"]:.2f} ({name}; k={args.k}, '
          f'T={args.temperature}, bank {result["num_bank"]}, '
          f'queries {result["num_queries"]})')


if __name__ == '__main__':
    main()
