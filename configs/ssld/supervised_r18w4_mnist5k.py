# The demo's reference point: the SSLD student trained alone with labels on
# the 1,000 labeled digits, for the same number of steps as the SSLD run.
_base_ = [
    '../_base_/models/resnet_cifar_mnist.py',
    '../_base_/datasets/mnist5k.py',
    '../_base_/schedules/mnist5k_iters.py',  # includes the runtime
]
model = dict(
    backbone=dict(stem_channels=4, base_channels=4),
    head=dict(in_channels=32),
)
randomness = dict(seed=0)
