#!/usr/bin/env bash
# KDEP on the embedded MNIST-5k digits, end to end on a CPU, with the
# paper's alignment ablation (Table 2) in miniature: the SSLD demo's teacher
# (1/4-width CIFAR ResNet-18, 128-d) distilled into a 1/8-width student
# (64-d) by SVD+PTS, 1x1 conv on the pre-ReLU feature and 1x1 conv on the
# post-ReLU feature, 1,000 steps each on the 1,000 train images (labels
# unused); then every exported backbone, a label-trained one of the same
# size and a random one are compared by k-NN, linear probe and fine-tuning
# on the same labels (tools/compare_backbones.py).
#   bash tools/kdep_demo.sh          # needs data/mnist5k and the demo teacher
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${KD_VENV:-$ROOT/.venv}/bin/python"
W=work_dirs/kdep_mnist5k
TEACHER=work_dirs/ssld_mnist5k_demo/teacher.pth
[ -d data/mnist5k ] || "$PY" tools/prepare_mnist5k.py
if [ ! -f $TEACHER ]; then
    echo "no $TEACHER: run bash tools/demo.sh first (it trains the teacher)"
    exit 1
fi
"$PY" tools/kdep_teacher_report.py configs/kdep/kdep_r18w8_r18w16_mnist5k.py \
    --out-dir $W/teacher_report
"$PY" tools/kdep_svd.py configs/kdep/kdep_r18w8_r18w16_mnist5k.py \
    --out $W/basis.pth
for run in svd_pts conv_pre_relu conv_post_relu; do
    case $run in
        svd_pts) cfg=configs/kdep/kdep_r18w8_r18w16_mnist5k.py ;;
        conv_pre_relu) cfg=configs/kdep/kdep_r18w8_r18w16_mnist5k_conv.py ;;
        conv_post_relu) cfg=configs/kdep/kdep_r18w8_r18w16_mnist5k_conv_post_relu.py ;;
    esac
    [ -f $W/$run/iter_1000.pth ] || \
        "$PY" tools/train.py $cfg --work-dir $W/$run
    "$PY" tools/export_backbone.py --force $W/$run/iter_1000.pth $W/$run/backbone.pth
done
# the same backbone trained with the labels, same steps (reference point)
[ -f $W/supervised/iter_1000.pth ] || \
    "$PY" tools/train.py configs/ssld/supervised_r18w4_mnist5k.py \
        --work-dir $W/supervised --cfg-options \
        model.backbone.stem_channels=8 model.backbone.base_channels=8 \
        model.head.in_channels=64
"$PY" tools/export_backbone.py --force $W/supervised/iter_1000.pth \
    $W/supervised/backbone.pth --student-prefix ''
"$PY" tools/compare_backbones.py configs/downstream/mnist5k/linear_probe_r18w8.py \
    --finetune-config configs/downstream/mnist5k/finetune_r18w8.py \
    --work-dir $W/compare \
    --backbone kdep_svd_pts=$W/svd_pts/backbone.pth \
    --backbone kdep_conv_pre_relu=$W/conv_pre_relu/backbone.pth \
    --backbone kdep_conv_post_relu=$W/conv_post_relu/backbone.pth \
    --backbone supervised=$W/supervised/backbone.pth \
    --backbone random | tee $W/compare.md
