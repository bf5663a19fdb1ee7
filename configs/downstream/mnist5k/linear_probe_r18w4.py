# Linear probe for the 1/16-width student of the SSLD demo
# (configs/ssld/ssld_r18w4_r18w16_mnist5k.py, 32-d feature); see
# linear_probe_r18w8.py.
#   python tools/export_backbone.py work_dirs/ssld_r18w4_r18w16_mnist5k/iter_1000.pth \
#       work_dirs/backbones/mnist5k_r18w4.pth
_base_ = ['./linear_probe_r18w8.py']
model = dict(
    backbone=dict(
        stem_channels=4, base_channels=4,
        init_cfg=dict(checkpoint='work_dirs/backbones/mnist5k_r18w4.pth')),
    head=dict(in_channels=32))
