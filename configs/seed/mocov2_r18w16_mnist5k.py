# The self-supervised SEED teacher for the embedded MNIST-5k digits, trained
# by mmpretrain's own MoCo-v2 model (type='MoCo' with the MoCoV2Neck, as in
# mmpretrain::mocov2/mocov2_resnet50_8xb32-coslr-200e_in1k.py) on the 3,000
# unlabeled digits: a quarter-width CIFAR-style ResNet-18 (128-d pooled
# feature), an fc-ReLU-fc neck to 128-d, MoCo queue 1,024, T=0.2.
#   python tools/train.py configs/seed/mocov2_r18w16_mnist5k.py
# writes work_dirs/seed_mnist5k/mocov2_teacher/iter_2000.pth, the teacher
# checkpoint of configs/seed/seed_r18w8_mocov2r18w16_mnist5k.py.
_base_ = [
    '../_base_/models/resnet_cifar_mnist_kd.py',
    '../_base_/schedules/mnist5k_iters_2k.py',  # and the runtime
    '../_base_/no_eval.py',
]

# two augmented views per digit (MoCo-v2's recipe, without the colour,
# grey-scale and flip steps that mean nothing for grey digits)
view_pipeline = [
    dict(type='RandomResizedCrop', scale=28, crop_ratio_range=(0.3, 1.0),
         backend='pillow'),
    dict(type='RandomApply',
         transforms=[dict(type='ColorJitter', brightness=0.4, contrast=0.4)],
         prob=0.8),
]
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='MultiView', num_views=2, transforms=[view_pipeline]),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=64,
    num_workers=2,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='UnlabeledImageFolder', data_root='data/mnist5k',
                 data_prefix='unlabeled', pipeline=train_pipeline),
)

model = dict(
    type='MoCo',
    queue_len=1024,
    feat_dim=128,
    momentum=0.01,  # mmengine convention: the key encoder keeps 99%
    data_preprocessor=dict(type='SelfSupDataPreprocessor',
                           mean=[33.3, 33.3, 33.3], std=[78.6, 78.6, 78.6],
                           to_rgb=False),
    backbone={{_base_.r18w16_classifier.backbone}},
    neck=dict(type='MoCoV2Neck', in_channels=128, hid_channels=128,
              out_channels=128, with_avg_pool=True),
    head=dict(type='ContrastiveHead', loss=dict(type='CrossEntropyLoss'),
              temperature=0.2),
)

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.06, momentum=0.9, weight_decay=5e-4,
                   nesterov=False))
randomness = dict(seed=0)
work_dir = 'work_dirs/seed_mnist5k/mocov2_teacher'
