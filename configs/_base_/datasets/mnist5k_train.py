# The embedded MNIST-5k digits (tools/prepare_mnist5k.py writes them):
# train/ (1,000 labeled), val/ (1,000), unlabeled/ (3,000), 28x28 PNG.
# The training side only: pre-training configs without a validation loop
# inherit this file, classifiers inherit mnist5k.py (this plus val/test).
data_root = 'data/mnist5k'

data_preprocessor = dict(
    num_classes=10,
    mean=[33.3, 33.3, 33.3],  # MNIST pixel mean / std on the 0-255 scale
    std=[78.6, 78.6, 78.6],
    to_rgb=False,
)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomCrop', crop_size=28, padding=2),
    dict(type='PackInputs'),
]
test_pipeline = [  # also KDEP's default basis pass (tools/kdep_svd.py)
    dict(type='LoadImageFromFile'),
    dict(type='PackInputs'),
]

labeled_train = dict(type='CustomDataset', data_root=data_root,
                     data_prefix='train', pipeline=train_pipeline)

train_dataloader = dict(
    batch_size=32,
    num_workers=2,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=labeled_train,
)
