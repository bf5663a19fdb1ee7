# Linear probe of a SimDis (or BYOL) student on the embedded MNIST-5k digits:
# the exported 1/8-width ResNet-18 backbone is frozen (all four stages, BN in
# eval mode) and only a linear classifier on its pooled 64-d feature is
# trained, on the 1,000 labeled digits; accuracy on the 1,000 val digits.
#   python tools/export_backbone.py work_dirs/simdis_mnist5k/simdis_off/iter_300.pth \
#       work_dirs/simdis_mnist5k/simdis_off/backbone.pth
#   python tools/train.py configs/simdis/linear_probe_r18w8_mnist5k.py \
#       --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/simdis_mnist5k/simdis_off/backbone.pth
_base_ = [
    '../_base_/models/resnet_cifar_mnist.py',
    '../_base_/datasets/mnist5k.py',
    '../_base_/default_runtime.py',
]
model = dict(
    backbone=dict(
        stem_channels=8, base_channels=8, frozen_stages=4,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='work_dirs/simdis_mnist5k/simdis_off/backbone.pth')),
    head=dict(in_channels=64),
)
train_dataloader = dict(batch_size=64)
max_iters = 500
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.5, momentum=0.9, weight_decay=0.0))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=max_iters, by_epoch=False,
         begin=0, end=max_iters),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters,
                 val_interval=max_iters)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=100),
    checkpoint=dict(type='CheckpointHook', by_epoch=False,
                    interval=max_iters, max_keep_ckpts=1),
)
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)
work_dir = 'work_dirs/simdis_mnist5k/linear_probe'
