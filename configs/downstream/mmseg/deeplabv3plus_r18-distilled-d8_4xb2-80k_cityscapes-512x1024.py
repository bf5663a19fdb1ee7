# DeepLabV3+ (dilated, output stride 8), Cityscapes 512x1024, 80k iterations,
# on a distilled ResNet-18 student backbone (mmseg's
# deeplabv3plus_r18-d8_4xb2-80k_cityscapes-512x1024.py).
# Backbone from configs/ssld/ssld_r18_r34_imagenet.py (SSLD),
# configs/sskd/sskd_r18_r34_imagenet.py (SSKD) or
# configs/kdep/kdep_r18_r50_imagenet10pct_90e.py (KDEP), all mmpretrain ResNet-18:
#   python tools/export_backbone.py work_dirs/ssld_r18_r34_imagenet/epoch_360.pth \
#       work_dirs/backbones/r18_distilled_mmseg.pth --config THIS_CONFIG
#   python tools/downstream_train.py THIS_CONFIG
# type='ResNet': the student has mmpretrain's plain stem, not mmseg's
# ResNetV1c deep stem (a ResNetV1c student keeps type='ResNetV1c').
_base_ = [
    'mmseg::deeplabv3plus/'
    'deeplabv3plus_r18-d8_4xb2-80k_cityscapes-512x1024.py'
]
custom_imports = dict(imports=['kd_plugins.downstream'],
                      allow_failed_imports=False)
custom_hooks = [dict(type='DistilledBackboneCheckHook')]
model = dict(
    pretrained=None,
    backbone=dict(
        type='ResNet',
        init_cfg=dict(
            type='Pretrained',
            checkpoint='work_dirs/backbones/r18_distilled_mmseg.pth')))
# kd_plugins' safety hooks, as in ../../_base_/default_runtime.py
# (docs/reliability.md): saving that never loses the last good checkpoint,
# a stop at the first non-finite loss, the data checked before step 1.
default_hooks = dict(
    checkpoint=dict(type='SafeCheckpointHook'),
    finite_loss=dict(type='FiniteLossHook'),
    data_check=dict(type='DataCheckHook'))
