# KDEP on 10% of ImageNet-1k for 90 epochs (paper, Table 1: R50 -> R18).
# The labels are never read.
#   1. the 10% list (128k random images; once):
#      python tools/make_subset.py data/imagenet/meta/train.txt \
#          data/imagenet/meta/train_10pct.txt --fraction 0.1 --seed 0
#   2. the teacher's SVD basis over those images (one inference pass):
#      python tools/kdep_svd.py configs/kdep/kdep_r18_r50_imagenet10pct_90e.py \
#          --out work_dirs/kdep_r50_imagenet10pct/basis.pth --device cuda
#   3. bash tools/dist_train.sh configs/kdep/kdep_r18_r50_imagenet10pct_90e.py 8
#   4. python tools/export_backbone.py \
#          work_dirs/kdep_r18_r50_imagenet10pct_90e/epoch_90.pth kdep_r18.pth
# Official recipe: SGD lr 0.3 (momentum 0.9), batch 512, weight decay 5e-4,
# 90 epochs, lr x0.1 every 30 epochs, MSE loss weight 3.
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs32.py',
    '../_base_/default_runtime.py',
]
model = dict(
    type='KDEP',
    student=dict(type='ResNet', depth=18, out_indices=(3, )),  # D_s = 512
    teacher=dict(
        type='ImageClassifier',
        backbone=dict(type='ResNet', depth=50, out_indices=(3, )),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=1000, in_channels=2048,
                  loss=dict(type='CrossEntropyLoss'), topk=(1, 5))),
    # The paper's teacher is the MSRA (Caffe) ResNet-50; mmpretrain's
    # torchvision-style ResNet-50 is used here.
    teacher_ckpt='https://download.openmmlab.com/mmclassification/v0/resnet/'
    'resnet50_8xb32_in1k_20210831-ea4938fc.pth',
    teacher_bn_mode='eval',
    align=dict(type='SVDProjection',
               basis='work_dirs/kdep_r50_imagenet10pct/basis.pth'),
    transform=dict(type='PTS', T=0.1, n=3),
    loss=dict(type='FeatureMSELoss', loss_weight=3.0),
)
train_dataloader = dict(
    batch_size=64,  # x 8 GPUs = 512, the official batch
    num_workers=8,
    dataset=dict(ann_file='meta/train_10pct.txt'),
)
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.3, momentum=0.9, weight_decay=5e-4))
param_scheduler = dict(type='MultiStepLR', by_epoch=True,
                       milestones=[30, 60], gamma=0.1)
train_cfg = dict(by_epoch=True, max_epochs=90)
auto_scale_lr = dict(base_batch_size=512)
default_hooks = dict(checkpoint=dict(type='SafeCheckpointHook', interval=10,
                                     max_keep_ckpts=3))
# Backbone-only student: nothing to validate; evaluate downstream. (Not
# ../_base_/no_eval.py: mmpretrain's dataset base above sets these keys.)
val_dataloader = val_evaluator = val_cfg = None
test_dataloader = test_evaluator = test_cfg = None
