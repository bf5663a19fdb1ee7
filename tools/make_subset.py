"""Write a random fraction of an ImageNet-style annotation file.

KDEP's 10% ImageNet (128k of the 1.28M training images, sampled at random):

    python tools/make_subset.py data/imagenet/meta/train.txt \
        data/imagenet/meta/train_10pct.txt --fraction 0.1 --seed 0

Give a folder of class sub-folders instead of a file to scan the images
(labels = sorted folder index, as mmpretrain assigns them). ``--per-class``
samples within each class instead of over all images. Then point the
config's ``train_dataloader.dataset.ann_file`` at the result (relative to
``data_root``), as configs/kdep/*_imagenet10pct_*.py do.
"""
import argparse
import os.path as osp
from collections import Counter

from kd_plugins.datasets.subset import (
    read_annotation,
    sample_annotation,
    scan_class_folders,
    write_annotation,
)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('source', help='annotation file (path label per '
                        'line) or a folder of class folders')
    parser.add_argument('out', help='annotation file to write')
    parser.add_argument('--fraction', type=float, default=0.1)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--per-class', action='store_true',
                        help='sample within each class')
    args = parser.parse_args()
    pairs = scan_class_folders(args.source) if osp.isdir(args.source) \
        else read_annotation(args.source)
    subset = sample_annotation(pairs, args.fraction, args.seed,
                               args.per_class)
    write_annotation(subset, args.out)
    counts = Counter(label for _, label in subset)
    print(f'wrote {args.out}: {len(subset)} of {len(pairs)} images '
          f'({len(subset) / len(pairs):.2%}), {len(counts)} of '
          f'{len(set(label for _, label in pairs))} classes, '
          f'{min(counts.values())}-{max(counts.values())} per class')


if __name__ == '__main__':
    main()
