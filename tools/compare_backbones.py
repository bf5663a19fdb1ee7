r"""Compare backbones on the same data: k-NN, linear probe and fine-tune.

    python tools/compare_backbones.py \
        configs/downstream/mnist5k/linear_probe_r18w8.py \
        --backbone distilled=work_dirs/backbones/mnist5k_r18w8.pth \
        --backbone supervised=work_dirs/backbones/r18w8_supervised.pth \
        --backbone random \
        --finetune-config configs/downstream/mnist5k/finetune_r18w8.py

For every backbone (an exported file, or ``random`` for the architecture's
own random initialisation, seed 0) it measures, with one data order and one
seed: cosine k-NN top-1 on the pooled features, the top-1 of a linear probe
(the given config: frozen backbone, mmpretrain's LinearClsHead) and, with
``--finetune-config``, of fine-tuning; then prints one table. A supervised
backbone is exported from a label-trained classifier with
``tools/export_backbone.py CKPT OUT --student-prefix ''``.
"""
import argparse
import os.path as osp

from mmengine.config import Config, DictAction

import kd_plugins  # noqa: F401  (registrations, checkpoint fix)
from kd_plugins.downstream.backbone_eval import (
    build_with_backbone,
    knn_loaders,
    knn_top1,
    train_and_validate,
)


def parse_backbone(text):
    if text == 'random':
        return 'random', None
    name, sep, path = text.partition('=')
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(
            f'--backbone {text!r}: expected NAME=PATH or random')
    if not osp.isfile(path):
        raise argparse.ArgumentTypeError(f'--backbone {name}: {path!r} does '
                                         'not exist')
    return name, path


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('config', help='linear-probe config')
    parser.add_argument('--backbone', action='append', type=parse_backbone,
                        required=True, help='NAME=PATH or random; repeat')
    parser.add_argument('--finetune-config', help='fine-tune config')
    parser.add_argument('--k', type=int, default=20, help='k-NN neighbours')
    parser.add_argument('--temperature', type=float, default=0.07)
    parser.add_argument('--work-dir', default='work_dirs/compare_backbones')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='overrides applied to every config')
    args = parser.parse_args()
    names = [n for n, _ in args.backbone]
    if len(set(names)) != len(names):
        raise ValueError(f'backbone names must differ: {names}')

    def load(path):
        cfg = Config.fromfile(path)
        if args.cfg_options:
            cfg.merge_from_dict(args.cfg_options)
        return cfg

    probe_cfg = load(args.config)
    ft_cfg = load(args.finetune_config) if args.finetune_config else None
    rows = []
    for name, path in args.backbone:
        model = build_with_backbone(probe_cfg, path, seed=0)
        bank, queries = knn_loaders(probe_cfg)
        knn = knn_top1(model, bank, queries, args.k, args.temperature)
        row = dict(name=name, knn=knn['top1'])
        row['probe'] = train_and_validate(
            probe_cfg, path, osp.join(args.work_dir, name, 'linear_probe'),
            f'{name}_probe')
        if ft_cfg is not None:
            row['finetune'] = train_and_validate(
                ft_cfg, path, osp.join(args.work_dir, name, 'finetune'),
                f'{name}_finetune')
        rows.append(row)

    cols = [('knn', f'k-NN top-1 (k={args.k})'), ('probe', 'linear probe')]
    if ft_cfg is not None:
        cols.append(('finetune', 'fine-tune'))
    print(f'\nval top-1 (%), {osp.basename(args.config)}, '
          f'{knn["num_queries"]} val images, bank of {knn["num_bank"]}')
    header = ['backbone'] + [title for _, title in cols]
    print('| ' + ' | '.join(header) + ' |')
    print('|' + '|'.join('---' for _ in header) + '|')
    for row in rows:
        cells = [row['name']] + [f'{row[key]:.2f}' for key, _ in cols]
        print('| ' + ' | '.join(cells) + ' |')


if __name__ == '__main__':
    main()
