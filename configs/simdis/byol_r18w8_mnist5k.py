# Baseline for the SimDis MNIST-5k demo: the same 1/8-width student trained
# with mmpretrain's plain BYOL (no teacher), same data, schedule and budget.
_base_ = ['./byol_r18w16_mnist5k.py']
model = dict(
    backbone=dict(stem_channels=8, base_channels=8),
    neck=dict(in_channels=64),
)
work_dir = 'work_dirs/simdis_mnist5k/byol_student'
