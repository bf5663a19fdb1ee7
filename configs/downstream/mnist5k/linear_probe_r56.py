# Linear probe for the teacher of the same-width SSKD pair
# (configs/sskd/supervised_r56_mnist5k.py, CIFAR ResNet-56, 64-d feature);
# see linear_probe_r20.py. The effectiveness benchmark (bench/effectiveness)
# evaluates that teacher through it.
#   python tools/export_backbone.py work_dirs/supervised_r56_mnist5k/iter_1000.pth \
#       work_dirs/backbones/mnist5k_r56.pth
_base_ = ['./linear_probe_r20.py']
model = dict(
    backbone=dict(
        depth=56,
        init_cfg=dict(checkpoint='work_dirs/backbones/mnist5k_r56.pth')))
