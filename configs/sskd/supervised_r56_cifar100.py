# The CIFAR-100 teacher of SSKD's ablations: ResNet-56 (He et al.), trained
# with labels (standard recipe: SGD 0.1, 200 epochs, x0.2 at 60/120/160).
_base_ = [
    'mmpretrain::_base_/datasets/cifar100_bs16.py',
    '../_base_/default_runtime.py',
]
model = dict(
    type='ImageClassifier',
    backbone=dict(type='CIFARResNet', depth=56),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=100, in_channels=64,
              loss=dict(type='CrossEntropyLoss'), topk=(1, 5)))
train_dataloader = dict(batch_size=64)
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=5e-4,
                   nesterov=True))
param_scheduler = dict(type='MultiStepLR', by_epoch=True,
                       milestones=[60, 120, 160], gamma=0.2)
train_cfg = dict(by_epoch=True, max_epochs=200, val_interval=5)
val_cfg = dict()
test_cfg = dict()
