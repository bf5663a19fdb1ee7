# The teacher of the same-width SSKD pair on the embedded digits: CIFAR
# ResNet-56 (16/32/64 channels, 64-d), trained with labels on the 1,000
# labeled digits (the paper's CIFAR teacher, on MNIST-5k).
#   python tools/train.py configs/sskd/supervised_r56_mnist5k.py
_base_ = ['../ssld/supervised_r18w16_mnist5k.py']
model = dict(
    backbone=dict(_delete_=True, type='CIFARResNet', depth=56),
    head=dict(in_channels=64),
)
work_dir = 'work_dirs/supervised_r56_mnist5k'
