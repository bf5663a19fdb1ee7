# Two augmented views per image for BYOL / SimDis on the embedded MNIST-5k
# digits (tools/prepare_mnist5k.py), the small-image counterpart of
# mmpretrain's `_base_/datasets/imagenet_bs32_byol.py`: random resized crop,
# colour (brightness/contrast) jitter, blur on view 1, solarisation on view 2.
# No horizontal flip (digits are not mirror-symmetric). Labels are never
# read: the 3,000 digits of unlabeled/ are the training set; configs add
# ../no_eval.py (nothing to validate).
data_root = 'data/mnist5k'

data_preprocessor = dict(
    type='SelfSupDataPreprocessor',
    mean=[33.3, 33.3, 33.3],  # MNIST pixel mean / std on the 0-255 scale
    std=[78.6, 78.6, 78.6],
    to_rgb=False,
)

_jitter = dict(type='RandomApply', prob=0.8, transforms=[
    dict(type='ColorJitter', brightness=0.4, contrast=0.4)])
view_pipeline1 = [
    dict(type='RandomResizedCrop', scale=28, crop_ratio_range=(0.3, 1.0)),
    _jitter,
    dict(type='GaussianBlur', magnitude_range=(0.1, 1.0),
         magnitude_std='inf', prob=0.5),
]
view_pipeline2 = [
    dict(type='RandomResizedCrop', scale=28, crop_ratio_range=(0.3, 1.0)),
    _jitter,
    dict(type='GaussianBlur', magnitude_range=(0.1, 1.0),
         magnitude_std='inf', prob=0.1),
    dict(type='Solarize', thr=128, prob=0.2),
]
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='MultiView', num_views=[1, 1],
         transforms=[view_pipeline1, view_pipeline2]),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=64,
    num_workers=2,
    drop_last=True,  # BN over a batch of 1 fails; BYOL drops the remainder
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='UnlabeledImageFolder', data_root=data_root,
                 data_prefix='unlabeled', pipeline=train_pipeline),
)
