# SSLD on the embedded MNIST-5k digits: a 1/16-width ResNet-18 student learns
# only from the softmax of a 1/4-width ResNet-18 teacher, over the 1,000
# labeled digits plus the 3,000 unlabeled ones; labels never reach the loss.
# Loss: soft cross-entropy against the teacher's softmax, one of PaddleClas'
# SSLD choices; JSDivLoss' default is the true JSD of the paper's wording
# (the comparison is in configs/ssld/README.md).
#   python tools/train.py configs/ssld/ssld_r18w4_r18w16_mnist5k.py
# needs the teacher checkpoint below (tools/ssld_demo.py trains it).
_base_ = [
    '../_base_/models/resnet_cifar_mnist_kd.py',
    '../_base_/datasets/mnist5k.py',
    '../_base_/schedules/mnist5k_iters.py',  # includes the runtime
]
model = dict(
    type='SSLD',
    student={{_base_.r18w4_classifier}},
    teacher={{_base_.r18w16_classifier}},
    teacher_ckpt='work_dirs/ssld_mnist5k_demo/teacher.pth',
    teacher_bn_mode='train',
    loss=dict(type='JSDivLoss', mode='soft_ce', loss_weight=1.0),
)

train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='LabeledUnlabeledDataset',
        labeled={{_base_.labeled_train}},
        unlabeled=dict(type='UnlabeledImageFolder',
                       data_root={{_base_.data_root}},
                       data_prefix='unlabeled',
                       pipeline={{_base_.train_pipeline}}),
        unlabeled_ratio=None,  # all 3,000 unlabeled digits each epoch
    ))
randomness = dict(seed=0)
