# SimDis-Off on the embedded MNIST-5k digits: a 1/8-width CIFAR-style
# ResNet-18 student BYOL pair learns BYOL (S^-v') plus the frozen teacher's
# EMA projection of the other view (T^-v'), the official 2-view setting. The
# teacher pair (online + EMA target) is loaded strictly from the mmpretrain
# BYOL checkpoint of configs/simdis/byol_r18w16_mnist5k.py, whose data and
# schedule this config keeps:
#   python tools/train.py configs/simdis/byol_r18w16_mnist5k.py
#   python tools/train.py configs/simdis/simdis_off_r18w8_mnist5k.py
# then evaluate with configs/simdis/linear_probe_simdis_r18w8_mnist5k.py.
_base_ = ['./byol_r18w16_mnist5k.py']
model = dict(
    _delete_=True,
    type='SimDis',
    student={{_base_.byol_r18w8}},
    teacher={{_base_.byol_r18w16}},
    teacher_ckpt='work_dirs/simdis_mnist5k/teacher/iter_300.pth',
    targets='SimDis-Off',  # = ['student_ema_other', 'teacher_ema_other']
    teacher_bn_mode='train',
)
custom_hooks = [
    # tau: 0.99 -> 1 (cosine) over all iterations; target BN buffers: own
    dict(type='EMATargetHook', base_decay=0.99, final_decay=1.0,
         buffer_policy='skip'),
]
work_dir = 'work_dirs/simdis_mnist5k/simdis_off'
