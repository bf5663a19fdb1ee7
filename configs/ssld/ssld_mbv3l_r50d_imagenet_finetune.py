# SSLD stage 2: fine-tune the distilled MobileNetV3-large for 30 epochs on
# labeled ImageNet-1k only, with cross-entropy. Set the checkpoint to the last
# one of configs/ssld/ssld_mbv3l_r50d_imagenet.py (keys under 'student.').
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs32.py',
    '../_base_/schedules/ssld_finetune_30e.py',
    '../_base_/default_runtime.py',
]
distilled = 'work_dirs/ssld_mbv3l_r50d_imagenet/epoch_360.pth'
model = dict(
    type='ImageClassifier',
    backbone=dict(type='MobileNetV3', arch='large'),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='StackedLinearClsHead', num_classes=1000, in_channels=960,
              mid_channels=[1280], dropout_rate=0.2,
              act_cfg=dict(type='HSwish'),
              loss=dict(type='CrossEntropyLoss'), topk=(1, 5)),
    init_cfg=dict(type='Pretrained', checkpoint=distilled, prefix='student.'),
)
