# OCRNet (output stride 8), Cityscapes 512x1024, 40k iterations, on a
# distilled ResNet-50 student backbone (mmseg's
# ocrnet_r101-d8_4xb2-40k_cityscapes-512x1024.py at depth 50, whose heads are
# sized for ResNet-50/101). Backbone from a distillation config whose student
# is mmpretrain's ResNet depth=50 (e.g. configs/ssld/ssld_r18_r34_imagenet.py with
# model.student.backbone.depth=50):
#   python tools/export_backbone.py CKPT \
#       work_dirs/backbones/r50_distilled_mmseg.pth --config THIS_CONFIG
# Plain ResNet instead of mmseg's ResNetV1c: see the DeepLabV3+ R-18 config.
_base_ = ['mmseg::ocrnet/ocrnet_r101-d8_4xb2-40k_cityscapes-512x1024.py']
custom_imports = dict(imports=['kd_plugins.downstream'],
                      allow_failed_imports=False)
custom_hooks = [dict(type='DistilledBackboneCheckHook')]
model = dict(
    pretrained=None,
    backbone=dict(
        type='ResNet',
        depth=50,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='work_dirs/backbones/r50_distilled_mmseg.pth')))
# kd_plugins' safety hooks, as in ../../_base_/default_runtime.py
# (docs/reliability.md): saving that never loses the last good checkpoint,
# a stop at the first non-finite loss, the data checked before step 1.
default_hooks = dict(
    checkpoint=dict(type='SafeCheckpointHook'),
    finite_loss=dict(type='FiniteLossHook'),
    data_check=dict(type='DataCheckHook'))
