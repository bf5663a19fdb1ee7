"""Mine SSLD's unlabeled set: drop validation near-duplicates, keep the
teacher's top-k most confident images per predicted class.

    python tools/ssld_mine.py configs/ssld/ssld_r18w4_r18w16_mnist5k.py \
        --gallery data/mnist5k/unlabeled --val data/mnist5k/val \
        --out work_dirs/mined/unlabeled.txt --topk 250

CONFIG is either a distillation config (its ``model.teacher`` and
``model.teacher_ckpt`` are used; with several ``model.teachers``, the one
``--teacher-index`` names) or a plain classifier config (then pass
``--checkpoint``). The images go through the config's test pipeline and data
preprocessor. The output list is the ``ann_file`` of an
``UnlabeledImageFolder`` whose ``data_root`` is the gallery. Safe to re-run:
teacher predictions are cached beside the output and reused.
"""
import argparse

from mmengine.config import Config

import kd_plugins  # noqa: F401  (registers components, checkpoint fix)
from kd_plugins.methods.ssld import mine_unlabeled


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('config', help='distillation or classifier config')
    parser.add_argument('--checkpoint', help='teacher checkpoint (default: '
                        'model.teacher_ckpt of the config)')
    parser.add_argument('--teacher-index', type=int,
                        help='with several model.teachers: the one to mine '
                        'with')
    parser.add_argument('--gallery', required=True,
                        help='folder of candidate images (searched '
                        'recursively)')
    parser.add_argument('--val', required=True,
                        help='validation image folder to keep out')
    parser.add_argument('--out', required=True, help='output list file')
    parser.add_argument('--topk', type=int, required=True,
                        help='images kept per predicted class (paper: 4000)')
    parser.add_argument('--dup-threshold', type=float, default=0.995,
                        help='thumbnail correlation at or above which a '
                        'gallery image counts as a near-duplicate of a '
                        'validation image')
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--num-workers', type=int, default=2)
    parser.add_argument('--device', default='cpu')
    return parser.parse_args()


def main():
    args = parse_args()
    cfg = Config.fromfile(args.config)
    if cfg.model.get('teachers'):
        teachers = cfg.model.teachers
        if args.teacher_index is None or \
                not 0 <= args.teacher_index < len(teachers):
            raise SystemExit(
                f'{args.config} has {len(teachers)} teachers '
                '(model.teachers); mining runs one: pass --teacher-index '
                f'0..{len(teachers) - 1}')
        entry = teachers[args.teacher_index]
        teacher, ckpt = entry.model, args.checkpoint or entry.ckpt
    elif 'teacher' in cfg.model:
        teacher = cfg.model.teacher
        ckpt = args.checkpoint or cfg.model.get('teacher_ckpt')
    else:
        teacher, ckpt = cfg.model, args.checkpoint
    if not ckpt:
        raise SystemExit('no teacher checkpoint: pass --checkpoint')
    loader = cfg.get('test_dataloader') or cfg.get('val_dataloader')
    if not loader:
        raise SystemExit(f'{args.config} has no test/val dataloader whose '
                         'pipeline could be used for the teacher')
    preprocessor = cfg.model.get('data_preprocessor') or \
        cfg.get('data_preprocessor')
    result = mine_unlabeled(
        teacher, ckpt, loader.dataset.pipeline, preprocessor,
        gallery=args.gallery, val=args.val, out=args.out, topk=args.topk,
        dup_threshold=args.dup_threshold, batch_size=args.batch_size,
        num_workers=args.num_workers, device=args.device)
    print(f'gallery {result.num_gallery}, near-duplicates dropped '
          f'{result.num_duplicates}, kept {result.num_kept} over '
          f'{len(result.per_class)} classes -> {result.ann_file} '
          f'(details: {result.table_file})')


if __name__ == '__main__':
    main()
