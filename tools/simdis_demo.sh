#!/usr/bin/env bash
# SimDis on the embedded MNIST-5k digits, end to end on a CPU: BYOL teacher
# (mmpretrain's BYOL), SimDis-Off from its checkpoint, SimDis-On,
# SimDis-On-7v and a plain-BYOL student of the same size, each followed by a
# linear probe of its exported backbone (plus a random backbone and the
# teacher).
#   bash tools/simdis_demo.sh            # needs data/mnist5k
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${KD_VENV:-$ROOT/.venv}/bin/python"
W=work_dirs/simdis_mnist5k
[ -d data/mnist5k ] || "$PY" tools/prepare_mnist5k.py
[ -f $W/teacher/iter_300.pth ] || \
    "$PY" tools/train.py configs/simdis/byol_r18w16_mnist5k.py
for run in simdis_off simdis_on simdis_on7v byol_student; do
    case $run in
        simdis_off) cfg=configs/simdis/simdis_off_r18w8_mnist5k.py ;;
        simdis_on) cfg=configs/simdis/simdis_on_r18w8_mnist5k.py ;;
        simdis_on7v) cfg=configs/simdis/simdis_on7v_r18w8_mnist5k.py ;;
        byol_student) cfg=configs/simdis/byol_r18w8_mnist5k.py ;;
    esac
    [ -f $W/$run/iter_300.pth ] || "$PY" tools/train.py $cfg
    prefix=student.
    [ $run = byol_student ] && prefix=''
    "$PY" tools/export_backbone.py --force $W/$run/iter_300.pth $W/$run/backbone.pth \
        --student-prefix "$prefix"
done
probe() {  # name, extra cfg options
    local name=$1; shift
    "$PY" tools/train.py configs/simdis/linear_probe_simdis_r18w8_mnist5k.py \
        --work-dir $W/probe_$name --cfg-options "$@" \
        | grep -E 'accuracy/top1' | tail -1 | sed "s/^/$name: /"
}
for run in simdis_off simdis_on simdis_on7v byol_student; do
    probe $run model.backbone.init_cfg.checkpoint=$W/$run/backbone.pth
done
probe random_init model.backbone.init_cfg=None
# the teacher (1/4 width: 128-d feature)
"$PY" tools/export_backbone.py --force $W/teacher/iter_300.pth $W/teacher/backbone.pth \
    --student-prefix ''
probe teacher_r18w16 model.backbone.init_cfg.checkpoint=$W/teacher/backbone.pth \
    model.backbone.stem_channels=16 model.backbone.base_channels=16 \
    model.neck.in_channels=128
