# SimDis teacher on the embedded MNIST-5k digits: mmpretrain's own BYOL
# (unchanged model class, mmpretrain's CosineEMA target with momentum 0.01,
# i.e. decay 0.99 -> 1) with a CIFAR-style ResNet-18 at quarter width (128-d
# features), projector/predictor Linear(., 256)-BN-ReLU-Linear(256, 64).
# Its checkpoint is the teacher of configs/simdis/simdis_off_r18w8_mnist5k.py:
#   python tools/train.py configs/simdis/byol_r18w16_mnist5k.py
_base_ = [
    '../_base_/models/byol_resnet_cifar_mnist.py',
    '../_base_/datasets/mnist5k_two_view.py',
    '../_base_/default_runtime.py',
    '../_base_/no_eval.py',
]
# mmpretrain's momentum = 1 - decay (decay 0.99)
model = dict(_base_.byol_r18w16, base_momentum=0.01)
max_iters = 300
train_dataloader = dict(batch_size=32)
# The paper's plain setting (Sec. 4.3): SGD, no LARS, no SyncBN.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0,
         end=30),
    dict(type='CosineAnnealingLR', T_max=max_iters - 30, by_epoch=False,
         begin=30, end=max_iters),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='SafeCheckpointHook', by_epoch=False,
                    interval=max_iters // 5, max_keep_ckpts=1),
)
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)
work_dir = 'work_dirs/simdis_mnist5k/teacher'
