"""Compute KDEP's SVD basis of the teacher's pre-ReLU pooled feature.

    python tools/kdep_svd.py configs/kdep/kdep_r18w8_r18w16_mnist5k.py \
        --out work_dirs/kdep_mnist5k/basis.pth

One pass of the frozen teacher (``model.teacher`` and ``model.teacher_ckpt``
of the KDEP config) over the config's training images (``--split train``,
default; or ``val``), streaming the statistics (memory independent of the
number of images). ``--pipeline test`` (default) reads them through the
deterministic test pipeline; ``--pipeline train`` through the training
pipeline with its random augmentation, one view per image, as the official
code does (``--seed`` fixes the draws; configs/kdep/README.md says why the
default is ``test``). The file is bound to the teacher's weights (sha256 of
them as loaded, whatever file, format or URL they come from): KDEP refuses
it for other weights. Then train
with ``python tools/train.py CONFIG``; the config's ``align.basis`` must name
the same file.
"""
import argparse

from mmengine.config import DictAction
from mmengine.runner import set_random_seed

import kd_plugins  # noqa: F401  (registers components, checkpoint fix)
from kd_plugins.methods.kdep.teacher_pass import (
    compute_kdep_basis,
    teacher_pass_inputs,
)


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('config', help='KDEP config')
    parser.add_argument('--out', required=True, help='basis file to write')
    parser.add_argument('--checkpoint', help='teacher checkpoint (default: '
                        'model.teacher_ckpt of the config)')
    parser.add_argument('--split', choices=('train', 'val'), default='train',
                        help='whose dataset to run the teacher over')
    parser.add_argument('--pipeline', choices=('test', 'train'),
                        default='test',
                        help='test: deterministic test pipeline (default); '
                        'train: the training pipeline, random augmentation, '
                        'as the official code')
    parser.add_argument('--seed', type=int, default=0,
                        help='random seed of the augmentation draws '
                        '(--pipeline train)')
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--num-workers', type=int, default=2)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, as in train.py')
    return parser.parse_args()


def main():
    args = parse_args()
    run = teacher_pass_inputs(args.config, args.cfg_options,
                              args.checkpoint, args.split, args.pipeline)
    set_random_seed(args.seed)  # the loader's workers draw from it
    print(f'teacher pass through the {args.pipeline} pipeline'
          + (f' (random augmentation, seed {args.seed})'
             if args.pipeline == 'train' else ''))
    result = compute_kdep_basis(
        run.teacher, run.teacher_ckpt, run.dataset, run.data_preprocessor,
        args.out, batch_size=args.batch_size, num_workers=args.num_workers,
        device=args.device, teacher_ckpt_prefix=run.teacher_ckpt_prefix)
    print(f'basis of {result.num_images} images, D={result.feature_dim}, '
          f'layer {result.layer}; top singular values '
          f'{[round(v, 3) for v in result.top_singular_values]} -> '
          f'{result.out} (teacher pass {result.pass_seconds:.1f} s, solve '
          f'and save {result.solve_seconds:.1f} s)')


if __name__ == '__main__':
    main()
