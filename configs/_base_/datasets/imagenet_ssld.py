# SSLD training data: ImageNet-1k train (labels dropped) plus the unlabeled
# images mined from a gallery by tools/ssld_mine.py (paper: top-4000 per class
# of ImageNet-22k, 4M images, 5.2M in total).
data_preprocessor = dict(
    num_classes=1000,
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True,
)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=224),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=256, edge='short'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=32,  # x 8 GPUs = 256, the paper's batch
    num_workers=8,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='LabeledUnlabeledDataset',
        labeled=dict(type='ImageNet', data_root='data/imagenet',
                     split='train', pipeline=train_pipeline),
        unlabeled=dict(type='UnlabeledImageFolder',
                       data_root='data/imagenet22k',
                       ann_file='data/ssld/imagenet22k_top4000.txt',
                       pipeline=train_pipeline),
        unlabeled_ratio=None,  # every mined image once per epoch
    ),
)
val_dataloader = dict(
    batch_size=32,
    num_workers=8,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='ImageNet', data_root='data/imagenet', split='val',
                 pipeline=test_pipeline),
)
val_evaluator = dict(type='Accuracy', topk=(1, 5))
test_dataloader = val_dataloader
test_evaluator = val_evaluator
