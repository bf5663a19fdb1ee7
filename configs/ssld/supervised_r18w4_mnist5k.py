# The SSLD demo's reference point: its 1/16-width student trained alone with
# labels on the 1,000 labeled digits, for the same number of steps as the
# SSLD run (supervised_r18w16_mnist5k.py at width 4).
#   python tools/train.py configs/ssld/supervised_r18w4_mnist5k.py
_base_ = ['./supervised_r18w16_mnist5k.py']
model = dict(
    backbone=dict(stem_channels=4, base_channels=4),
    head=dict(in_channels=32),
)
