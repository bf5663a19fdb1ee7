# Linear probe of the SEED student of seed_r18w8_mocov2r18w16_mnist5k.py on the
# embedded digits: the exported backbone, frozen (all stages, BN statistics
# included), under a linear classifier trained on the 1,000 labeled digits
# and evaluated on the 1,000 validation digits, as mmpretrain's MoCo-v2
# linear benchmark does on ImageNet (frozen_stages=4, weight decay 0).
#   python tools/export_backbone.py \
#       work_dirs/seed_mnist5k/seed_student/iter_2000.pth \
#       work_dirs/seed_mnist5k/seed_student_backbone.pth
#   python tools/train.py configs/seed/linear_probe_seed_r18w8_mnist5k.py
_base_ = [
    '../_base_/models/resnet_cifar_mnist.py',
    '../_base_/datasets/mnist5k.py',
    '../_base_/schedules/mnist5k_iters.py',  # includes the runtime
]
model = dict(
    backbone=dict(
        stem_channels=8, base_channels=8,
        frozen_stages=4,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='work_dirs/seed_mnist5k/seed_student_backbone.pth')),
    head=dict(in_channels=64),
)
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=1.0, momentum=0.9, weight_decay=0.))
randomness = dict(seed=0)
work_dir = 'work_dirs/seed_mnist5k/linear_probe'
