# SSLD: MobileNetV3-large from a ResNet50-D teacher on ImageNet-1k plus mined
# unlabeled images (the paper's headline student; the teacher is
# mmpretrain's released ResNet50-D). As ssld_r18_r34_imagenet.py otherwise.
#   bash tools/dist_train.sh configs/ssld/ssld_mbv3l_r50d_imagenet.py 8
# then optionally configs/ssld/ssld_mbv3l_r50d_imagenet_finetune.py.
_base_ = ['./ssld_r18_r34_imagenet.py']
model = dict(
    student=dict(
        backbone=dict(_delete_=True, type='MobileNetV3', arch='large'),
        head=dict(_delete_=True, type='StackedLinearClsHead',
                  num_classes=1000, in_channels=960, mid_channels=[1280],
                  dropout_rate=0.2, act_cfg=dict(type='HSwish'),
                  loss=dict(type='CrossEntropyLoss'),
                  init_cfg=dict(type='Normal', layer='Linear', mean=0.,
                                std=0.01, bias=0.),
                  topk=(1, 5))),
    teacher=dict(backbone=dict(type='ResNetV1d', depth=50),
                 head=dict(in_channels=2048)),
    teacher_ckpt='https://download.openmmlab.com/mmclassification/v0/resnet/'
    'resnetv1d50_b32x8_imagenet_20210531-db14775a.pth',
)
