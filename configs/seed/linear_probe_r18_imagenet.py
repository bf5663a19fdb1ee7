# Linear probe of a SEED ResNet-18 on ImageNet-1k: mmpretrain's MoCo-v2
# benchmark (frozen backbone, SGD lr 30, no weight decay, step lr, 100
# epochs, 8 x 32 images), with the exported student backbone.
#   python tools/export_backbone.py \
#       work_dirs/seed/seed_r18_mocov2r50_imagenet/epoch_200.pth \
#       work_dirs/seed/seed_r18_mocov2r50_imagenet/backbone.pth
#   bash tools/dist_train.sh configs/seed/linear_probe_r18_imagenet.py 8
_base_ = ['mmpretrain::mocov2/benchmarks/'
          'resnet50_8xb32-linear-steplr-100e_in1k.py']
model = dict(
    backbone=dict(
        depth=18,
        frozen_stages=4,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='work_dirs/seed/seed_r18_mocov2r50_imagenet/backbone.pth',
            prefix=None)),  # the exported file holds backbone keys only
    head=dict(in_channels=512))
work_dir = 'work_dirs/seed/linear_probe_r18_imagenet'
custom_imports = dict(imports=['kd_plugins'], allow_failed_imports=False)
# kd_plugins' safety hooks, as in ../_base_/default_runtime.py
# (docs/reliability.md): saving that never loses the last good checkpoint,
# a stop at the first non-finite loss, the data checked before step 1.
default_hooks = dict(
    checkpoint=dict(type='SafeCheckpointHook'),
    finite_loss=dict(type='FiniteLossHook'),
    data_check=dict(type='DataCheckHook'))
