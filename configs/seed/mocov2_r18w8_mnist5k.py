# SEED's same-budget baseline on the embedded digits: the 1/8-width student
# of seed_r18w8_mocov2r18w16_mnist5k.py trained by mmpretrain's own MoCo-v2
# on the unlabeled digits, without a teacher (mocov2_r18w16_mnist5k.py at
# width 8: same views, queue, schedule and budget).
#   python tools/train.py configs/seed/mocov2_r18w8_mnist5k.py
_base_ = ['./mocov2_r18w16_mnist5k.py']
model = dict(
    backbone=dict(stem_channels=8, base_channels=8),
    neck=dict(in_channels=64),
)
work_dir = 'work_dirs/seed_mnist5k/mocov2_student'
