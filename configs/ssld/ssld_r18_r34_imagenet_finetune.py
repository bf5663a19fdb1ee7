# SSLD stage 2: fine-tune the distilled ResNet-18 for 30 epochs on labeled
# ImageNet-1k only, with cross-entropy. Set the checkpoint to the last one of
# configs/ssld/ssld_r18_r34_imagenet.py (keys under 'student.').
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs32.py',
    '../_base_/schedules/ssld_finetune_30e.py',
    '../_base_/default_runtime.py',
]
distilled = 'work_dirs/ssld_r18_r34_imagenet/epoch_360.pth'
model = dict(
    type='ImageClassifier',
    backbone=dict(type='ResNet', depth=18, num_stages=4, out_indices=(3, ),
                  style='pytorch'),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=1000, in_channels=512,
              loss=dict(type='CrossEntropyLoss'), topk=(1, 5)),
    init_cfg=dict(type='Pretrained', checkpoint=distilled, prefix='student.'),
)
