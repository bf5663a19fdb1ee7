# RetinaNet + FPN, COCO 1x, on a distilled ResNet-18 student backbone
# (mmdet's own retinanet_r18_fpn_1x_coco.py with the distilled weights).
# Backbone from configs/ssld/ssld_r18_r34_imagenet.py (SSLD),
# configs/sskd/sskd_r18_r34_imagenet.py (SSKD) or
# configs/kdep/kdep_r18_r50_imagenet10pct_90e.py (KDEP), all mmpretrain ResNet-18:
#   python tools/export_backbone.py work_dirs/ssld_r18_r34_imagenet/epoch_360.pth \
#       work_dirs/backbones/r18_distilled_mmdet.pth --config THIS_CONFIG
_base_ = ['mmdet::retinanet/retinanet_r18_fpn_1x_coco.py']
custom_imports = dict(imports=['kd_plugins.downstream'],
                      allow_failed_imports=False)
custom_hooks = [dict(type='DistilledBackboneCheckHook')]
model = dict(
    backbone=dict(
        init_cfg=dict(
            type='Pretrained',
            checkpoint='work_dirs/backbones/r18_distilled_mmdet.pth')))
# kd_plugins' safety hooks, as in ../../_base_/default_runtime.py
# (docs/reliability.md): saving that never loses the last good checkpoint,
# a stop at the first non-finite loss, the data checked before step 1.
default_hooks = dict(
    checkpoint=dict(type='SafeCheckpointHook'),
    finite_loss=dict(type='FiniteLossHook'),
    data_check=dict(type='DataCheckHook'))
