"""Judge a KDEP teacher before training: Std Ratio, compactness, t-SNE.

    python tools/kdep_teacher_report.py \
        configs/kdep/kdep_r18w8_r18w16_mnist5k.py \
        --out-dir work_dirs/kdep_teacher_report

Runs the config's frozen teacher (``model.teacher``/``model.teacher_ckpt``,
or ``--checkpoint``) over ``--per-class`` images of ``--num-classes`` random
classes of the config's labeled ``--split`` dataset (the paper's figures: 10
classes x 100 images), then reports, for the raw pre-ReLU feature and for
the targets a student would learn (SVD to the student's width, then PTS, SN
or SM):

- the Std Ratio (largest / smallest channel std; KDEP Sec. 3.3),
- a compactness score (mean distance between class centroids over mean
  distance to the own centroid, on L2-normalised features; KDEP Sec. 4.3
  finds compact teachers distil worse),

and writes ``report.json``, ``tsne_teacher.png`` (the paper's Fig. 2c/4)
and ``tsne_target.png`` (after SVD + PTS). Run it for each candidate
teacher and compare. The SVD basis is the ``--basis`` file (checked against
the checkpoint) or, by default, computed on the same sample.
"""
import argparse
import json
import os
import os.path as osp

from mmengine.config import DictAction

import kd_plugins  # noqa: F401  (registers components, checkpoint fix)
from kd_plugins.methods.kdep.analysis import (
    feature_report,
    format_report,
    tsne_png,
)
from kd_plugins.methods.kdep.basis import StreamingBasis, load_basis
from kd_plugins.methods.kdep.pre_relu import penultimate_tap
from kd_plugins.methods.kdep.pts import power_temperature_scaling
from kd_plugins.methods.kdep.svd_projection import svd_project
from kd_plugins.methods.kdep.teacher_pass import (
    collect_teacher_features,
    teacher_pass_inputs,
)
from kd_plugins.registry import MODELS


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('config', help='KDEP config (its teacher is judged)')
    parser.add_argument('--checkpoint', help='teacher checkpoint (default: '
                        'model.teacher_ckpt of the config)')
    parser.add_argument('--out-dir', required=True)
    parser.add_argument('--split', choices=('train', 'val', 'test'),
                        default='train', help='labeled dataset to sample')
    parser.add_argument('--num-classes', type=int, default=10)
    parser.add_argument('--per-class', type=int, default=100)
    parser.add_argument('--dim', type=int, help='student width D_s '
                        "(default: the config's student)")
    parser.add_argument('--basis', help='a tools/kdep_svd.py basis file '
                        '(default: computed on the sample)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--num-workers', type=int, default=2)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--no-tsne', action='store_true')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args()


def main():
    args = parse_args()
    run = teacher_pass_inputs(args.config, args.cfg_options,
                              args.checkpoint, args.split)
    cfg, ckpt = run.cfg, run.teacher_ckpt
    dim = args.dim
    if dim is None:
        if 'student' not in cfg.model:
            raise SystemExit('no model.student in the config: pass --dim')
        dim = penultimate_tap(MODELS.build(cfg.model.student),
                              'student').channels
    feats, labels, classes, tap = collect_teacher_features(
        run.teacher, ckpt, run.dataset, run.data_preprocessor,
        args.num_classes, args.per_class, args.seed, args.batch_size,
        args.num_workers, args.device, run.teacher_ckpt_prefix,
        basis=args.basis)  # checked against the teacher before the pass
    if args.basis:
        basis, basis_note = load_basis(args.basis), args.basis
    else:
        if feats.shape[0] <= dim:
            raise SystemExit(
                f'the sample has {feats.shape[0]} images, so a basis computed '
                f'on it has rank < {feats.shape[0]}, below the student width '
                f'{dim}: its last directions would be noise. Sample more '
                'images (--num-classes/--per-class), pass a tools/kdep_svd.py '
                'basis with --basis, or a smaller --dim.')
        acc = StreamingBasis(feats.shape[1])
        acc.update(feats)
        basis, basis_note = acc.solve(), 'computed on the sample'
    report = feature_report(feats, labels, basis, dim)
    os.makedirs(args.out_dir, exist_ok=True)
    record = dict(config=args.config, teacher_ckpt=ckpt, layer=tap.layer,
                  images=int(feats.shape[0]),
                  classes=sorted({int(k) for k in labels}), dim=dim,
                  basis=basis_note, report=report)
    with open(osp.join(args.out_dir, 'report.json'), 'w') as f:
        json.dump(record, f, indent=2)
    print(f'{feats.shape[0]} images of {len(record["classes"])} classes, '
          f'teacher {tap.layer}, student width {dim}, basis {basis_note}')
    print(format_report(report))
    if not args.no_tsne:
        name = osp.basename(args.config)
        raw = report['teacher (pre-ReLU)']['compactness']
        tsne_png(feats, labels, osp.join(args.out_dir, 'tsne_teacher.png'),
                 f'teacher pre-ReLU feature ({name})\ncompactness '
                 f'{raw:.2f}', classes, args.seed)
        target = power_temperature_scaling(svd_project(
            feats.double(), basis['mean'].double(),
            basis['V'][:, :dim].double()))
        key = next(k for k in report if 'PTS' in k)
        tsne_png(target, labels, osp.join(args.out_dir, 'tsne_target.png'),
                 f'KDEP target: {key}\ncompactness '
                 f'{report[key]["compactness"]:.2f}', classes, args.seed)
        print(f'wrote {args.out_dir}/tsne_teacher.png, tsne_target.png')
    print(f'wrote {args.out_dir}/report.json')


if __name__ == '__main__':
    main()
