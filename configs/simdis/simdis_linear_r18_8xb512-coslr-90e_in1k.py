# Linear probe of a SimDis ResNet-18 student on ImageNet-1k: mmpretrain's
# BYOL benchmark (frozen backbone, LARS, 90 epochs, 8 GPUs x 512) with a
# ResNet-18. Export the backbone first:
#   python tools/export_backbone.py work_dirs/simdis_in1k/<run>/epoch_100.pth r18.pth
#   bash tools/dist_train.sh configs/simdis/simdis_linear_r18_8xb512-coslr-90e_in1k.py 8 \
#       --cfg-options model.backbone.init_cfg.checkpoint=r18.pth
# (The official SimDis code probes with SGD, lr 0.001 per 256 images, 80
# epochs and a Linear + BatchNorm1d classifier; mmpretrain's standard
# protocol is used here.)
_base_ = ['mmpretrain::byol/benchmarks/resnet50_8xb512-linear-coslr-90e_in1k.py']
default_scope = 'kd_plugins'
custom_imports = dict(imports=['kd_plugins'], allow_failed_imports=False)
model = dict(
    backbone=dict(depth=18, init_cfg=dict(type='Pretrained', checkpoint='',
                                          prefix=None)),
    head=dict(in_channels=512),
)
work_dir = 'work_dirs/simdis_in1k/linear_r18'
# kd_plugins' safety hooks, as in ../_base_/default_runtime.py
# (docs/reliability.md): saving that never loses the last good checkpoint,
# a stop at the first non-finite loss, the data checked before step 1.
default_hooks = dict(
    checkpoint=dict(type='SafeCheckpointHook'),
    finite_loss=dict(type='FiniteLossHook'),
    data_check=dict(type='DataCheckHook'))
