# KDEP's parametric baseline on MNIST-5k (paper, Table 2 "1x1 conv
# (Pre-ReLU)"): a trainable 1x1 conv maps the student's 64-d pre-ReLU pooled
# feature to the teacher's 128-d one; no SVD basis, no PTS. The conv is
# trained with the student and dropped by tools/export_backbone.py.
#   python tools/train.py configs/kdep/kdep_r18w8_r18w16_mnist5k_conv.py
_base_ = ['./kdep_r18w8_r18w16_mnist5k.py']
model = dict(
    align=dict(_delete_=True, type='ConvConnector'),
    transform=None,
)
work_dir = 'work_dirs/kdep_conv_r18w8_r18w16_mnist5k'
