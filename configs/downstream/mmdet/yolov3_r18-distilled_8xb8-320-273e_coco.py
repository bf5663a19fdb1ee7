# YOLOv3 at 320 px, COCO, on a distilled ResNet-18 student backbone instead
# of Darknet-53 (mmdet's yolov3_d53_8xb8-320-273e_coco.py): C3-C5 of the
# ResNet (128/256/512 channels) feed the neck, whose widths are halved to fit.
# Backbone from configs/ssld/ssld_r18_r34_imagenet.py (SSLD),
# configs/sskd/sskd_r18_r34_imagenet.py (SSKD) or
# configs/kdep/kdep_r18_r50_imagenet10pct_90e.py (KDEP), all mmpretrain ResNet-18:
#   python tools/export_backbone.py work_dirs/ssld_r18_r34_imagenet/epoch_360.pth \
#       work_dirs/backbones/r18_distilled_mmdet.pth --config THIS_CONFIG
_base_ = ['mmdet::yolo/yolov3_d53_8xb8-320-273e_coco.py']
custom_imports = dict(imports=['kd_plugins.downstream'],
                      allow_failed_imports=False)
custom_hooks = [dict(type='DistilledBackboneCheckHook')]
# The student saw ImageNet-normalised RGB (Darknet's config uses 0..1).
img_mean = [123.675, 116.28, 103.53]
img_std = [58.395, 57.12, 57.375]
model = dict(
    data_preprocessor=dict(mean=img_mean, std=img_std),
    backbone=dict(
        _delete_=True,
        type='ResNet',
        depth=18,
        num_stages=4,
        out_indices=(1, 2, 3),
        frozen_stages=1,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=True,
        style='pytorch',
        init_cfg=dict(
            type='Pretrained',
            checkpoint='work_dirs/backbones/r18_distilled_mmdet.pth')),
    neck=dict(in_channels=[512, 256, 128], out_channels=[256, 128, 64]),
    bbox_head=dict(in_channels=[256, 128, 64],
                   out_channels=[512, 256, 128]))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Expand', mean=img_mean, to_rgb=True, ratio_range=(1, 2)),
    dict(type='MinIoURandomCrop', min_ious=(0.4, 0.5, 0.6, 0.7, 0.8, 0.9),
         min_crop_size=0.3),
    dict(type='Resize', scale=(320, 320), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackDetInputs')
]
train_dataloader = dict(dataset=dict(dataset=dict(pipeline=train_pipeline)))
# kd_plugins' safety hooks, as in ../../_base_/default_runtime.py
# (docs/reliability.md): saving that never loses the last good checkpoint,
# a stop at the first non-finite loss, the data checked before step 1.
default_hooks = dict(
    checkpoint=dict(type='SafeCheckpointHook'),
    finite_loss=dict(type='FiniteLossHook'),
    data_check=dict(type='DataCheckHook'))
