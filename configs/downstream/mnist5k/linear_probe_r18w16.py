# Linear probe for the 1/4-width teachers of the embedded digits
# (configs/ssld/supervised_r18w16_mnist5k.py, seed/mocov2_r18w16_mnist5k.py,
# simdis/byol_r18w16_mnist5k.py, 128-d feature); see linear_probe_r18w8.py.
# The effectiveness benchmark (bench/effectiveness) evaluates its teachers
# through it.
#   python tools/export_backbone.py work_dirs/supervised_r18w16_mnist5k/iter_1000.pth \
#       work_dirs/backbones/mnist5k_r18w16.pth
_base_ = ['./linear_probe_r18w8.py']
model = dict(
    backbone=dict(
        stem_channels=16, base_channels=16,
        init_cfg=dict(checkpoint='work_dirs/backbones/mnist5k_r18w16.pth')),
    head=dict(in_channels=128))
