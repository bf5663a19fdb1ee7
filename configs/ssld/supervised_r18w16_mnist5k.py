# Teacher of the MNIST-5k demos: CIFAR-style ResNet-18 at quarter width,
# trained with labels on the 1,000 labeled digits (a plain mmpretrain
# classifier).
#   python tools/train.py configs/ssld/supervised_r18w16_mnist5k.py
_base_ = [
    '../_base_/models/resnet_cifar_mnist.py',
    '../_base_/datasets/mnist5k.py',
    '../_base_/schedules/mnist5k_iters.py',  # includes the runtime
]
model = dict(
    backbone=dict(stem_channels=16, base_channels=16),
    head=dict(in_channels=128),
)
randomness = dict(seed=0)
