# The 1/8-width student of the embedded digits trained alone with labels on
# the 1,000 labeled digits: the same-budget baseline of the SSLD, SSKD and
# KDEP students in the effectiveness benchmark (bench/effectiveness).
#   python tools/train.py configs/ssld/supervised_r18w8_mnist5k.py
_base_ = ['./supervised_r18w4_mnist5k.py']
model = dict(
    backbone=dict(stem_channels=8, base_channels=8),
    head=dict(in_channels=64),
)
