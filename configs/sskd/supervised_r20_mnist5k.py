# The student of the same-width SSKD pair trained alone with labels: CIFAR
# ResNet-20 (16/32/64 channels, 64-d) on the 1,000 labeled digits, the
# same-budget baseline of sskd_r20_r56_mnist5k.py.
#   python tools/train.py configs/sskd/supervised_r20_mnist5k.py
_base_ = ['./supervised_r56_mnist5k.py']
model = dict(backbone=dict(depth=20))
work_dir = 'work_dirs/supervised_r20_mnist5k'
