# KDEP's other parametric baseline (paper, Table 2 "1x1 conv (Post-ReLU)"):
# the student's pooled feature is taken *after* its final ReLU, as in
# classic feature KD, and a trainable 1x1 conv maps it to the teacher's
# 128-d pre-ReLU feature. Compare with ./kdep_r18w8_r18w16_mnist5k_conv.py
# (pre-ReLU) and the SVD+PTS default.
#   python tools/train.py configs/kdep/kdep_r18w8_r18w16_mnist5k_conv_post_relu.py
_base_ = ['./kdep_r18w8_r18w16_mnist5k_conv.py']
model = dict(student_feature='post_relu')
work_dir = 'work_dirs/kdep_conv_post_relu_r18w8_r18w16_mnist5k'
