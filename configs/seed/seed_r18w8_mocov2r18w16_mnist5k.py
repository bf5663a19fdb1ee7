# SEED on the embedded MNIST-5k digits: a 1/8-width CIFAR-style ResNet-18
# student (64-d pooled feature) learns, without labels, the similarity
# distribution of the MoCo-v2 teacher of configs/seed/mocov2_r18w16_mnist5k.py
# over a queue of 1,024 teacher embeddings, on the 3,000 unlabeled digits.
#   python tools/train.py configs/seed/mocov2_r18w16_mnist5k.py
#   python tools/train.py configs/seed/seed_r18w8_mocov2r18w16_mnist5k.py
#   bash tools/dist_train.sh configs/seed/seed_r18w8_mocov2r18w16_mnist5k.py 2 \
#       --cfg-options train_dataloader.batch_size=32   # same global batch
#   python tools/export_backbone.py \
#       work_dirs/seed_mnist5k/seed_student/iter_2000.pth \
#       work_dirs/seed_mnist5k/seed_student_backbone.pth
#   python tools/train.py configs/seed/linear_probe_seed_r18w8_mnist5k.py
# The teacher (backbone, and MoCo's neck as a SEEDHead) is read from the
# MoCo-v2 checkpoint through teacher_ckpt_map='moco'.
_base_ = [
    '../_base_/models/resnet_cifar_mnist_kd.py',
    '../_base_/datasets/mnist5k_train.py',
    '../_base_/schedules/mnist5k_iters_2k.py',  # and the runtime
    '../_base_/no_eval.py',  # no classifier: evaluate by the linear probe
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
        backbone={{_base_.r18w8_classifier.backbone}},
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='SEEDHead', in_channels=64, out_channels=128)),
    teacher=dict(
        type='ImageClassifier',
        backbone={{_base_.r18w16_classifier.backbone}},
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='SEEDHead', in_channels=128, out_channels=128)),
    teacher_ckpt='work_dirs/seed_mnist5k/mocov2_teacher/iter_2000.pth',
    teacher_ckpt_map='moco',
    queue=dict(type='SEEDQueue', K=1024, dim=128),  # a multiple of 64
    loss=dict(type='SEEDLoss', tau_t=0.01, tau_s=0.2),  # paper
)
custom_hooks = [dict(type='SEEDQueueHook', warm_fill=True)]

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.06, momentum=0.9, weight_decay=1e-4))
randomness = dict(seed=0)
work_dir = 'work_dirs/seed_mnist5k/seed_student'
