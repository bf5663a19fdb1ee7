# SEED on the embedded MNIST-5k digits, minutes on a CPU: a 1/8-width
# CIFAR-style ResNet-18 student (64-d pooled feature) learns, without labels,
# the similarity distribution of the MoCo-v2 teacher of
# configs/seed/mocov2_r18w16_mnist5k.py over a queue of 1,024 teacher
# embeddings, on the 3,000 unlabeled digits.
#   python tools/train.py configs/seed/mocov2_r18w16_mnist5k.py
#   python tools/train.py configs/seed/seed_r18w8_mocov2r18w16_mnist5k.py
#   bash tools/dist_train.sh configs/seed/seed_r18w8_mocov2r18w16_mnist5k.py 2 \
#       --cfg-options train_dataloader.batch_size=32   # same global batch
#   python tools/export_backbone.py \
#       work_dirs/seed_mnist5k/seed_student/iter_2000.pth \
#       work_dirs/seed_mnist5k/seed_student_backbone.pth
#   python tools/train.py configs/seed/linear_probe_seed_r18w8_mnist5k.py
# The teacher (backbone + MoCo's fc-ReLU-fc neck as a SEEDHead) is read from
# mmpretrain's MoCo checkpoint through teacher_ckpt_map='moco'.
_base_ = [
    '../_base_/datasets/mnist5k.py',
    '../_base_/schedules/mnist5k_iters.py',  # includes the runtime
]
# one augmented view feeds teacher and student (paper, Appendix A.1)
seed_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=28, crop_ratio_range=(0.3, 1.0),
         backend='pillow'),
    dict(type='RandomApply',
         transforms=[dict(type='ColorJitter', brightness=0.4, contrast=0.4)],
         prob=0.8),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=64,
    drop_last=True,  # every step enqueues one full block of the queue
    dataset=dict(_delete_=True, type='UnlabeledImageFolder',
                 data_root={{_base_.data_root}}, data_prefix='unlabeled',
                 pipeline=seed_pipeline),
)
model = dict(
    type='SEED',
    student=dict(
        type='ImageClassifier',
        backbone=dict(type='ResNet_CIFAR', depth=18, stem_channels=8,
                      base_channels=8, out_indices=(3, )),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='SEEDHead', in_channels=64, out_channels=128)),
    teacher=dict(
        type='ImageClassifier',
        backbone=dict(type='ResNet_CIFAR', depth=18, stem_channels=16,
                      base_channels=16, out_indices=(3, )),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='SEEDHead', in_channels=128, out_channels=128)),
    teacher_ckpt='work_dirs/seed_mnist5k/mocov2_teacher/iter_2000.pth',
    teacher_ckpt_map='moco',
    queue=dict(type='SEEDQueue', K=1024, dim=128),  # a multiple of 64
    loss=dict(type='SEEDLoss', tau_t=0.01, tau_s=0.2),  # paper
)
custom_hooks = [dict(type='SEEDQueueHook', warm_fill=True)]

max_iters = 2000
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.06, momentum=0.9, weight_decay=1e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0,
         end=100),
    dict(type='CosineAnnealingLR', T_max=max_iters - 100, by_epoch=False,
         begin=100, end=max_iters),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters)
default_hooks = dict(checkpoint=dict(interval=max_iters))
# No labels, no classifier: evaluate with the linear probe.
val_dataloader = None
val_evaluator = None
val_cfg = None
test_dataloader = None
test_evaluator = None
test_cfg = None
randomness = dict(seed=0)
work_dir = 'work_dirs/seed_mnist5k/seed_student'
