# SSKD on CIFAR-100: ResNet-20 mimics ResNet-56 over its 3 stages (paper,
# Tables 2-3), with the plateau schedule of Sec. 3.3: lr 0.01, x0.1 whenever
# the stage loss stops falling, next stage once 1e-5 has been trained until
# the loss stops falling there (epochs_at_min_lr, configs/sskd/README.md).
# Teacher: train configs/sskd/supervised_r56_cifar100.py first.
_base_ = [
    'mmpretrain::_base_/datasets/cifar100_bs16.py',
    '../_base_/default_runtime.py',
]
_head = dict(type='LinearClsHead', num_classes=100, in_channels=64,
             loss=dict(type='CrossEntropyLoss'), topk=(1, 5))
model = dict(
    type='SSKD',
    student=dict(type='ImageClassifier',
                 backbone=dict(type='CIFARResNet', depth=20),
                 neck=dict(type='GlobalAveragePooling'), head=_head),
    teacher=dict(type='ImageClassifier',
                 backbone=dict(type='CIFARResNet', depth=56),
                 neck=dict(type='GlobalAveragePooling'), head=_head),
    teacher_ckpt='work_dirs/supervised_r56_cifar100/epoch_200.pth',
    input_size=(3, 32, 32),
    mode='stagewise',
)
train_dataloader = dict(batch_size=64)
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=5e-4))
param_scheduler = []
# one stage trains at a time: under DDP most parameters get no gradient
find_unused_parameters = True
custom_hooks = [
    dict(type='SSKDStageHook', schedule='plateau', patience=3,
         threshold=1e-3, gamma=0.1, min_lr=1e-5, max_epochs_per_stage=60,
         head_epochs=40, head_milestones=[20, 30], head_lr=0.1),
]
# plateau: max_epochs is an upper bound (3 x 60 + 40); the hook stops the
# run when the head phase is done.
train_cfg = dict(by_epoch=True, max_epochs=220, val_interval=1)
val_cfg = dict()
test_cfg = dict()
