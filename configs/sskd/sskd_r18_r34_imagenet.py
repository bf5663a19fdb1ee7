# SSKD: ResNet-18 mimics ResNet-34 stage by stage on ImageNet-1k, then its
# head is trained on labels (paper, Sec. 3.3 and 4.2).
#   python tools/train.py configs/sskd/sskd_r18_r34_imagenet.py
#   bash tools/dist_train.sh configs/sskd/sskd_r18_r34_imagenet.py 8
# Multi-loss baseline from the same config:
#   ... --cfg-options model.mode=multi_loss
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs32.py',
    '../_base_/default_runtime.py',
]
model = dict(
    type='SSKD',
    student=dict(
        type='ImageClassifier',
        backbone=dict(type='ResNet', depth=18, out_indices=(3, )),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=1000, in_channels=512,
                  loss=dict(type='CrossEntropyLoss'), topk=(1, 5))),
    teacher=dict(
        type='ImageClassifier',
        backbone=dict(type='ResNet', depth=34, out_indices=(3, )),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=1000, in_channels=512,
                  loss=dict(type='CrossEntropyLoss'), topk=(1, 5))),
    teacher_ckpt='https://download.openmmlab.com/mmclassification/v0/resnet/'
    'resnet34_8xb32_in1k_20210831-f257d4e6.pth',
    num_stages=None,  # the 4 down-sampling points; 5-8 halve first stages
    input_size=(3, 224, 224),
    connector=dict(type='ConvConnector'),  # only where channels differ
    mode='stagewise',  # or 'multi_loss', the paper's baseline
)
# Per stage (paper): SGD momentum 0.9, lr 0.01, 60 epochs, x0.1 at 18/36/54.
# The head phase is not specified in the paper; ours: 30 epochs from lr 0.1,
# x0.1 at 10 and 20 (a linear classifier on frozen features).
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-4))
param_scheduler = []
# one stage trains at a time: under DDP most parameters get no gradient
find_unused_parameters = True  # the learning rate is driven by SSKDStageHook
custom_hooks = [
    dict(type='SSKDStageHook', schedule='fixed', epochs_per_stage=60,
         milestones=[18, 36, 54], gamma=0.1, head_epochs=30,
         head_milestones=[10, 20], head_lr=0.1),
]
# 4 stages x 60 + 30 head epochs; validation only means something once the
# head trains.
train_cfg = dict(by_epoch=True, max_epochs=270, val_begin=241,
                 val_interval=1)
val_cfg = dict()
test_cfg = dict()
