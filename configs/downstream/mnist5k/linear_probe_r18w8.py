# Linear probe of a distilled backbone on the embedded MNIST-5k digits: the
# 1/8-width CIFAR ResNet-18 students of configs/kdep/kdep_r18w8_r18w16_mnist5k.py,
# configs/sskd/sskd_r18w8_r18w16_mnist5k.py, configs/seed/seed_r18w8_mocov2r18w16_mnist5k.py
# and configs/simdis/simdis_*_r18w8_mnist5k.py, frozen (all stages, BN
# statistics too), under mmpretrain's LinearClsHead on the 1,000 labels.
#   python tools/export_backbone.py work_dirs/kdep_r18w8_r18w16_mnist5k/iter_1000.pth \
#       work_dirs/backbones/mnist5k_r18w8.pth
#   python tools/train.py configs/downstream/mnist5k/linear_probe_r18w8.py
# tools/compare_backbones.py runs it for distilled, random and supervised
# backbones side by side; tools/knn_eval.py reads the same config.
_base_ = [
    '../../_base_/datasets/mnist5k.py',
    '../../_base_/schedules/mnist5k_iters.py',  # includes the runtime
]
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='ResNet_CIFAR', depth=18, stem_channels=8, base_channels=8,
        out_indices=(3, ),
        frozen_stages=4,  # stem and all four stages: nothing trains
        norm_eval=True,  # BN keeps the distilled running statistics
        init_cfg=dict(type='Pretrained',
                      checkpoint='work_dirs/backbones/mnist5k_r18w8.pth')),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=10, in_channels=64,
              loss=dict(type='CrossEntropyLoss'), topk=(1, )),
)
custom_hooks = [dict(type='DistilledBackboneCheckHook')]
max_iters = 500
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=0.0,
                   nesterov=True))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=max_iters, by_epoch=False,
         begin=0, end=max_iters),
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(checkpoint=dict(interval=max_iters // 5))
randomness = dict(seed=0)
