"""Write a student-only backbone checkpoint from a distillation checkpoint.

    python tools/export_backbone.py work_dirs/run/iter_1500.pth student_r18.pth
    # keys renamed for, and checked against, a downstream config's backbone:
    python tools/export_backbone.py CKPT r18_mmseg.pth \\
        --config configs/downstream/mmseg/\
deeplabv3plus_r18-distilled-d8_4xb2-80k_cityscapes-512x1024.py
    # or for a toolbox's backbone of the student's family and depth:
    python tools/export_backbone.py CKPT r18_mmdet.pth --target mmdet

An existing OUT is replaced only with ``--force``; OUT may never be the
input checkpoint. Use the result downstream as
``backbone=dict(..., init_cfg=dict(type='Pretrained',
checkpoint='student_r18.pth'))``
in mmpretrain, mmdet or mmseg configs. The file records where it came from
(``meta``: method, teacher, source checkpoint and its sha256, target).
"""
import argparse
import os.path as osp
import sys

import kd_plugins  # noqa: F401  (checkpoint-loading fix)
from kd_plugins.export import (
    STUDENT_PREFIX,
    export_backbone,
    read_meta,
    same_file,
)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('checkpoint', help='distillation checkpoint')
    parser.add_argument('out', help='output backbone checkpoint')
    parser.add_argument('--student-prefix', default=STUDENT_PREFIX,
                        help='key prefix of the student (default: student.;'
                        " '' for a plain classifier checkpoint)")
    parser.add_argument('--config', help='downstream config (mmdet, mmseg or '
                        'mmpretrain) whose model.backbone the export is for')
    parser.add_argument('--target', choices=['mmpretrain', 'mmdet', 'mmseg'],
                        help="toolbox whose key names to write (the student's"
                        ' family and depth there)')
    parser.add_argument('--method', help='provenance: distillation method, '
                        'when the checkpoint does not record its config')
    parser.add_argument('--teacher', help='provenance: teacher, likewise')
    parser.add_argument('--force', action='store_true',
                        help='replace OUT when it exists')
    args = parser.parse_args()
    if osp.exists(args.out) and not args.force and \
            not same_file(args.checkpoint, args.out):  # that is refused below
        sys.exit(f'{args.out} exists; pass --force to replace it (or name '
                 'another output file). Nothing was written.')
    state = export_backbone(args.checkpoint, args.out, args.student_prefix,
                            target=args.target, config=args.config,
                            method=args.method, teacher=args.teacher)
    n_params = sum(v.numel() for v in state.values())
    meta = read_meta(args.out)
    print(f'wrote {args.out}: {len(state)} tensors, {n_params:,} values')
    for key in ('student', 'target', 'method', 'teacher', 'teacher_sha256',
                'source', 'source_sha256'):
        if meta.get(key):
            print(f'  {key}: {meta[key]}')
    if meta['dropped_keys']:
        print(f"  not used by the target: {len(meta['dropped_keys'])} "
              f"tensors ({', '.join(meta['dropped_keys'][:6])} ...)")


if __name__ == '__main__':
    main()
