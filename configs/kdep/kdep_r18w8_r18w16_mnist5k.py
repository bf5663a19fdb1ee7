# KDEP on the embedded MNIST-5k digits: a 1/8-width ResNet-18 backbone
# (64-d pooled feature) learns only to reproduce the pre-ReLU pooled feature
# of the 1/4-width ResNet-18 teacher of the SSLD demo (128-d), projected on
# the teacher's top-64 SVD directions and passed through PTS (T=0.1, n=3).
# No labels, no logits; MSE with weight 3.
#   python tools/kdep_svd.py configs/kdep/kdep_r18w8_r18w16_mnist5k.py \
#       --out work_dirs/kdep_mnist5k/basis.pth
#   python tools/train.py configs/kdep/kdep_r18w8_r18w16_mnist5k.py
# needs the teacher checkpoint below (bash tools/demo.sh trains it); the
# basis is bound to it (sha256), so recompute the basis after retraining.
_base_ = [
    '../_base_/models/resnet_cifar_mnist_kd.py',
    '../_base_/datasets/mnist5k_train.py',
    '../_base_/schedules/mnist5k_iters.py',  # includes the runtime
    '../_base_/no_eval.py',
]
model = dict(
    type='KDEP',
    student={{_base_.r18w8_classifier.backbone}},
    teacher={{_base_.r18w16_classifier}},
    teacher_ckpt='work_dirs/ssld_mnist5k_demo/teacher.pth',
    teacher_bn_mode='eval',
    align=dict(type='SVDProjection', basis='work_dirs/kdep_mnist5k/basis.pth'),
    transform=dict(type='PTS', T=0.1, n=3),
    loss=dict(type='FeatureMSELoss', loss_weight=3.0),
)
randomness = dict(seed=0)
