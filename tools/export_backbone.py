"""Write a student-only backbone checkpoint from a distillation checkpoint.

    python tools/export_backbone.py work_dirs/run/iter_1500.pth student_r18.pth

Use the result downstream as
``backbone=dict(..., init_cfg=dict(type='Pretrained', checkpoint='student_r18.pth'))``
in mmpretrain, mmdet or mmseg configs.
"""
import argparse

import kd_plugins  # noqa: F401  (checkpoint-loading fix)
from kd_plugins.export import STUDENT_PREFIX, export_backbone


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('checkpoint', help='distillation checkpoint')
    parser.add_argument('out', help='output backbone checkpoint')
    parser.add_argument('--student-prefix', default=STUDENT_PREFIX,
                        help='key prefix of the student (default: student.)')
    args = parser.parse_args()
    state = export_backbone(args.checkpoint, args.out, args.student_prefix)
    n_params = sum(v.numel() for v in state.values())
    print(f'wrote {args.out}: {len(state)} tensors, {n_params:,} values')


if __name__ == '__main__':
    main()
