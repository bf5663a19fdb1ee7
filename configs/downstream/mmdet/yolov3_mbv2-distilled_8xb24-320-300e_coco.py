# YOLOv3 at 320 px, COCO, on a distilled MobileNetV2 student backbone
# (mmdet's yolov3_mobilenetv2_8xb24-320-300e_coco.py).
# Backbone from configs/kdep/kdep_mbv2_r50_imagenet10pct_90e.py (KDEP, a
# MobileNetV2 student of widen_factor 1.0 from a ResNet-50 teacher):
#   python tools/export_backbone.py work_dirs/kdep_mbv2_r50_imagenet10pct_90e/epoch_90.pth \
#       work_dirs/backbones/mbv2_distilled_mmdet.pth --config THIS_CONFIG
# (renames mmpretrain's block keys conv.0/1/2 to mmdet's expand_conv /
# depthwise_conv / linear_conv.)
_base_ = ['mmdet::yolo/yolov3_mobilenetv2_8xb24-320-300e_coco.py']
custom_imports = dict(imports=['kd_plugins.downstream'],
                      allow_failed_imports=False)
custom_hooks = [dict(type='DistilledBackboneCheckHook')]
model = dict(
    backbone=dict(
        # mmdet's config swaps in LeakyReLU(0.1); the student was distilled
        # with mmpretrain's ReLU6, which keeps its features as learned.
        act_cfg=dict(_delete_=True, type='ReLU6'),
        init_cfg=dict(
            type='Pretrained',
            checkpoint='work_dirs/backbones/mbv2_distilled_mmdet.pth')))
# kd_plugins' safety hooks, as in ../../_base_/default_runtime.py
# (docs/reliability.md): saving that never loses the last good checkpoint,
# a stop at the first non-finite loss, the data checked before step 1.
default_hooks = dict(
    checkpoint=dict(type='SafeCheckpointHook'),
    finite_loss=dict(type='FiniteLossHook'),
    data_check=dict(type='DataCheckHook'))
