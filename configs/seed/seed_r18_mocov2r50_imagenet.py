# SEED on ImageNet-1k, the paper's recipe (Sec. 4.1): a ResNet-18 student
# distils a MoCo-v2 ResNet-50 teacher (200 epochs of MoCo-v2), no labels.
# SGD lr 0.03 per 256 images, momentum 0.9, weight decay 1e-4, 5 warm-up
# epochs then cosine, 200 epochs; K = 65,536, D = 128, tau_T = 0.01,
# tau_S = 0.2; one augmented view (MoCo-v2's) for teacher and student.
#   bash tools/dist_train.sh configs/seed/seed_r18_mocov2r50_imagenet.py 8
#   python tools/export_backbone.py \
#       work_dirs/seed/seed_r18_mocov2r50_imagenet/epoch_200.pth \
#       work_dirs/seed/seed_r18_mocov2r50_imagenet/backbone.pth
#   bash tools/dist_train.sh configs/seed/linear_probe_r18_imagenet.py 8
# 8 x 32 = 256 images per step; other batch sizes need --auto-scale-lr and
# a global batch dividing K. Teacher: mmpretrain's released MoCo-v2 model,
# its query encoder read through teacher_ckpt_map='moco' (FAIR's
# moco_v2_800ep_pretrain.pth.tar, the official code's, loads the same way).
_base_ = [
    '../_base_/default_runtime.py',
    '../_base_/no_eval.py',  # self-supervised: evaluate by the linear probe
]

data_preprocessor = dict(
    mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
    to_rgb=True)
# MoCo-v2's augmentation (paper, Appendix A.1.1), one view
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=224, crop_ratio_range=(0.2, 1.),
         backend='pillow'),
    dict(type='RandomApply',
         transforms=[dict(type='ColorJitter', brightness=0.4, contrast=0.4,
                          saturation=0.4, hue=0.1)],
         prob=0.8),
    dict(type='RandomGrayscale', prob=0.2, keep_channels=True,
         channel_weights=(0.114, 0.587, 0.2989)),
    dict(type='GaussianBlur', magnitude_range=(0.1, 2.0),
         magnitude_std='inf', prob=0.5),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=32,
    num_workers=8,
    drop_last=True,  # every step enqueues one full block of the queue
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='ImageNet', data_root='data/imagenet', split='train',
                 pipeline=train_pipeline),
)

model = dict(
    type='SEED',
    student=dict(
        type='ImageClassifier',
        backbone=dict(type='ResNet', depth=18, num_stages=4,
                      out_indices=(3, ), style='pytorch'),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='SEEDHead', in_channels=512, out_channels=128)),
    teacher=dict(
        type='ImageClassifier',
        backbone=dict(type='ResNet', depth=50, num_stages=4,
                      out_indices=(3, ), style='pytorch'),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='SEEDHead', in_channels=2048, out_channels=128)),
    teacher_ckpt='https://download.openmmlab.com/mmselfsup/1.x/mocov2/'
    'mocov2_resnet50_8xb32-coslr-200e_in1k/'
    'mocov2_resnet50_8xb32-coslr-200e_in1k_20220825-b6d23c86.pth',
    teacher_ckpt_map='moco',
    queue=dict(type='SEEDQueue', K=65536, dim=128),
    loss=dict(type='SEEDLoss', tau_t=0.01, tau_s=0.2),  # paper; code: 1e-4
)
# warm_fill=False reproduces the official code's random start
custom_hooks = [dict(type='SEEDQueueHook', warm_fill=True)]

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.03, momentum=0.9, weight_decay=1e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=195, by_epoch=True, begin=5,
         end=200, convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=200)
auto_scale_lr = dict(base_batch_size=256)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=100),
    checkpoint=dict(type='SafeCheckpointHook', interval=10, max_keep_ckpts=3))
work_dir = 'work_dirs/seed/seed_r18_mocov2r50_imagenet'
