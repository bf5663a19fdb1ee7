# Linear probe of a SimDis (or BYOL) student on the embedded MNIST-5k digits,
# the official SimDis protocol: the exported 1/8-width ResNet-18 backbone is
# frozen (all four stages, BN in eval mode) and a Linear(64, 10) +
# BatchNorm1d classifier on its pooled feature is trained (SGD, cosine) on
# the 1,000 labeled digits; accuracy on the 1,000 val digits.
#   python tools/export_backbone.py \
#       work_dirs/simdis_mnist5k/simdis_off/iter_300.pth \
#       work_dirs/simdis_mnist5k/simdis_off/backbone.pth
#   python tools/train.py configs/simdis/linear_probe_simdis_r18w8_mnist5k.py \
#       --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = [
    '../_base_/models/resnet_cifar_mnist.py',
    '../_base_/datasets/mnist5k.py',
    '../_base_/schedules/mnist5k_iters.py',  # includes the runtime
]
model = dict(
    backbone=dict(
        stem_channels=8, base_channels=8, frozen_stages=4,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='work_dirs/simdis_mnist5k/simdis_off/backbone.pth')),
    # Linear + BN1d gives the logits (official code); ClsHead adds the loss
    neck=dict(_delete_=True, type='LinearNeck', in_channels=64,
              out_channels=10, gap_dim=2, norm_cfg=dict(type='BN1d')),
    head=dict(_delete_=True, type='ClsHead',
              loss=dict(type='CrossEntropyLoss'), topk=(1, )),
)
train_dataloader = dict(batch_size=64)
max_iters = 500
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=0.0))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=max_iters, by_epoch=False,
         begin=0, end=max_iters),
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(logger=dict(interval=100),
                     checkpoint=dict(interval=max_iters // 5))
randomness = dict(seed=0)
work_dir = 'work_dirs/simdis_mnist5k/linear_probe'
