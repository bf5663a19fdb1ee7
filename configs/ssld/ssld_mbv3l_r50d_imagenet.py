# SSLD: MobileNetV3-large from a ResNet50-D teacher on ImageNet-1k plus mined
# unlabeled images (paper headline: 75.3 -> 79.0 top-1 with a stronger
# ResNet50-D teacher; this config uses mmpretrain's released ResNet50-D).
#   bash tools/dist_train.sh configs/ssld/ssld_mbv3l_r50d_imagenet.py 8
# then optionally configs/ssld/ssld_mbv3l_r50d_imagenet_finetune.py.
_base_ = [
    '../_base_/datasets/imagenet_ssld.py',
    '../_base_/schedules/ssld_imagenet_360e.py',
    '../_base_/default_runtime.py',
]
model = dict(
    type='SSLD',
    student=dict(
        type='ImageClassifier',
        backbone=dict(type='MobileNetV3', arch='large'),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='StackedLinearClsHead', num_classes=1000,
                  in_channels=960, mid_channels=[1280], dropout_rate=0.2,
                  act_cfg=dict(type='HSwish'),
                  loss=dict(type='CrossEntropyLoss'),
                  init_cfg=dict(type='Normal', layer='Linear', mean=0.,
                                std=0.01, bias=0.),
                  topk=(1, 5))),
    teacher=dict(
        type='ImageClassifier',
        backbone=dict(type='ResNetV1d', depth=50, num_stages=4,
                      out_indices=(3, ), style='pytorch'),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=1000, in_channels=2048,
                  loss=dict(type='CrossEntropyLoss'), topk=(1, 5))),
    teacher_ckpt='https://download.openmmlab.com/mmclassification/v0/resnet/'
    'resnetv1d50_b32x8_imagenet_20210531-db14775a.pth',
    teacher_bn_mode='train',  # PaddleClas: teacher BN on batch statistics
    loss=dict(type='JSDivLoss', mode='jsd'),
)
optim_wrapper = dict(optimizer=dict(weight_decay=1e-5))  # small student
