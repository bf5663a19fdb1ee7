# Linear probe of the same-width SSKD pair's student on the embedded
# MNIST-5k digits: CIFAR ResNet-20 (16/32/64 channels, 64-d) of
# configs/sskd/sskd_r20_r56_mnist5k.py and configs/sskd/supervised_r20_mnist5k.py,
# frozen (all three stages, BN statistics too), under mmpretrain's
# LinearClsHead on the 1,000 labels; otherwise linear_probe_r18w8.py.
#   python tools/export_backbone.py work_dirs/sskd_r20_r56_mnist5k/epoch_35.pth \
#       work_dirs/backbones/mnist5k_r20.pth
#   python tools/train.py configs/downstream/mnist5k/linear_probe_r20.py
_base_ = ['./linear_probe_r18w8.py']
model = dict(
    backbone=dict(
        _delete_=True, type='CIFARResNet', depth=20, out_indices=(2, ),
        frozen_stages=3,  # stem and all three stages: nothing trains
        norm_eval=True,  # BN keeps the distilled running statistics
        init_cfg=dict(type='Pretrained',
                      checkpoint='work_dirs/backbones/mnist5k_r20.pth')),
    head=dict(in_channels=64))
