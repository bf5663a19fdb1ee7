# Faster R-CNN + FPN, COCO 1x, on a distilled ResNet-50 student backbone.
# Backbone from any distillation config whose student is mmpretrain's
# ResNet depth=50, e.g. configs/ssld/ssld_r18_r34_imagenet.py with
#   --cfg-options model.student.backbone.depth=50 \
#       model.student.head.in_channels=2048 (and a deeper teacher), then
#   python tools/export_backbone.py CKPT \
#       work_dirs/backbones/r50_distilled_mmdet.pth --config THIS_CONFIG
_base_ = ['mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py']
custom_imports = dict(imports=['kd_plugins.downstream'],
                      allow_failed_imports=False)
custom_hooks = [dict(type='DistilledBackboneCheckHook')]
model = dict(
    backbone=dict(
        depth=50,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='work_dirs/backbones/r50_distilled_mmdet.pth')))
# kd_plugins' safety hooks, as in ../../_base_/default_runtime.py
# (docs/reliability.md): saving that never loses the last good checkpoint,
# a stop at the first non-finite loss, the data checked before step 1.
default_hooks = dict(
    checkpoint=dict(type='SafeCheckpointHook'),
    finite_loss=dict(type='FiniteLossHook'),
    data_check=dict(type='DataCheckHook'))
