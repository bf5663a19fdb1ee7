# Linear probe of a SEED MobileNetV3-large on ImageNet-1k: mmpretrain's
# MoCo-v2 benchmark recipe (frozen backbone, SGD lr 30, step lr, 100 epochs)
# on the exported student backbone (960-d pooled feature; the projection
# head is dropped, as in the paper).
#   python tools/export_backbone.py \
#       work_dirs/seed/seed_mbv3l_mocov2r50_imagenet/epoch_200.pth \
#       work_dirs/seed/seed_mbv3l_mocov2r50_imagenet/backbone.pth
#   bash tools/dist_train.sh configs/seed/linear_probe_mbv3l_imagenet.py 8
_base_ = ['mmpretrain::mocov2/benchmarks/'
          'resnet50_8xb32-linear-steplr-100e_in1k.py']
model = dict(
    backbone=dict(
        _delete_=True,
        type='MobileNetV3',
        arch='large',
        frozen_stages=16,  # every layer: stem, 15 blocks, last conv
        norm_eval=True,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='work_dirs/seed/seed_mbv3l_mocov2r50_imagenet/backbone.pth')
    ),
    head=dict(in_channels=960))
work_dir = 'work_dirs/seed/linear_probe_mbv3l_imagenet'
custom_imports = dict(imports=['kd_plugins'], allow_failed_imports=False)
# kd_plugins' safety hooks, as in ../_base_/default_runtime.py
# (docs/reliability.md): saving that never loses the last good checkpoint,
# a stop at the first non-finite loss, the data checked before step 1.
default_hooks = dict(
    checkpoint=dict(type='SafeCheckpointHook'),
    finite_loss=dict(type='FiniteLossHook'),
    data_check=dict(type='DataCheckHook'))
