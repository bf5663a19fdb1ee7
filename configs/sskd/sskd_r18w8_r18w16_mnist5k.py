# SSKD on the embedded MNIST-5k digits: a 1/8-width ResNet-18 mimics the
# 1/4-width teacher of the SSLD demo over 4 stages (28, 14, 7, 4 pixels),
# then trains its head on the 1,000 labeled digits.
#   python tools/train.py configs/sskd/sskd_r18w8_r18w16_mnist5k.py \
#       --cfg-options model.teacher_ckpt=work_dirs/ssld_mnist5k_demo/teacher.pth
# (bash tools/demo.sh trains that teacher.) The schedule departs from the
# paper's (lr 0.01, more epochs per stage): each stage trains 10 epochs from
# lr 1.0, the head from lr 0.1; configs/sskd/README.md ("Why stage by stage
# fell behind") has the per-stage measurements behind the choice.
_base_ = [
    '../_base_/models/resnet_cifar_mnist_kd.py',
    '../_base_/datasets/mnist5k.py',
    '../_base_/default_runtime.py',
]
model = dict(
    type='SSKD',
    student={{_base_.r18w8_classifier}},
    teacher={{_base_.r18w16_classifier}},
    teacher_ckpt='work_dirs/ssld_mnist5k_demo/teacher.pth',
    input_size=(3, 28, 28),
    mode='stagewise',
)
# the stages' base learning rate (the head phase takes the hook's head_lr)
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=1.0, momentum=0.9, weight_decay=5e-4))
param_scheduler = []
# one stage trains at a time: under DDP most parameters get no gradient
find_unused_parameters = True
custom_hooks = [
    dict(type='SSKDStageHook', schedule='fixed', epochs_per_stage=10,
         milestones=[6, 8], head_epochs=5, head_milestones=[3], head_lr=0.1),
]
train_cfg = dict(by_epoch=True, max_epochs=45, val_begin=41, val_interval=1)
default_hooks = dict(logger=dict(interval=10),
                     checkpoint=dict(interval=1, max_keep_ckpts=2))
randomness = dict(seed=0)
