# Faster R-CNN + FPN, COCO 1x, on a distilled ResNet-18 student backbone.
# Backbone from configs/ssld/ssld_r18_r34_imagenet.py (SSLD; or
# configs/sskd/sskd_r18_r34_imagenet.py, SSKD: the same mmpretrain ResNet-18):
#   python tools/export_backbone.py work_dirs/ssld_r18_r34_imagenet/epoch_360.pth \
#       work_dirs/backbones/r18_distilled_mmdet.pth --config THIS_CONFIG
#   python tools/downstream_train.py THIS_CONFIG
# The hook stops the run at start if any distilled tensor did not load.
_base_ = ['mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py']
custom_imports = dict(imports=['kd_plugins.downstream'],
                      allow_failed_imports=False)
custom_hooks = [dict(type='DistilledBackboneCheckHook')]
model = dict(
    backbone=dict(
        depth=18,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='work_dirs/backbones/r18_distilled_mmdet.pth')),
    neck=dict(in_channels=[64, 128, 256, 512]))
# kd_plugins' safety hooks, as in ../../_base_/default_runtime.py
# (docs/reliability.md): saving that never loses the last good checkpoint,
# a stop at the first non-finite loss, the data checked before step 1.
default_hooks = dict(
    checkpoint=dict(type='SafeCheckpointHook'),
    finite_loss=dict(type='FiniteLossHook'),
    data_check=dict(type='DataCheckHook'))
