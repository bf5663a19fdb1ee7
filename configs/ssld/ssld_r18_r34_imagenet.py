# SSLD: ResNet-18 from a ResNet-34 teacher on ImageNet-1k plus mined
# unlabeled images, the paper's recipe (360 epochs, cosine, lr 0.1).
#   bash tools/dist_train.sh configs/ssld/ssld_r18_r34_imagenet.py 8
_base_ = [
    '../_base_/datasets/imagenet_ssld.py',
    '../_base_/schedules/ssld_imagenet_360e.py',
    '../_base_/default_runtime.py',
]
model = dict(
    type='SSLD',
    student=dict(
        type='ImageClassifier',
        backbone=dict(type='ResNet', depth=18, num_stages=4,
                      out_indices=(3, ), style='pytorch'),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=1000, in_channels=512,
                  loss=dict(type='CrossEntropyLoss'), topk=(1, 5))),
    teacher=dict(
        type='ImageClassifier',
        backbone=dict(type='ResNet', depth=34, num_stages=4,
                      out_indices=(3, ), style='pytorch'),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=1000, in_channels=512,
                  loss=dict(type='CrossEntropyLoss'), topk=(1, 5))),
    teacher_ckpt='https://download.openmmlab.com/mmclassification/v0/resnet/'
    'resnet34_8xb32_in1k_20210831-f257d4e6.pth',
    teacher_bn_mode='train',  # PaddleClas: teacher BN on batch statistics
    loss=dict(type='JSDivLoss', mode='jsd'),
)
optim_wrapper = dict(optimizer=dict(weight_decay=1e-5))  # small student
