# SSLD on the embedded MNIST-5k data: a 1/8-width ResNet-18 student learns
# only from the softmax (JSD) of a 1/4-width ResNet-18 teacher, over the 1,000
# labeled digits plus the 3,000 unlabeled ones; labels never reach the loss.
#   python tools/train.py configs/ssld/r18w8_r18w16_mnist5k.py
# needs the teacher checkpoint below (tools/ssld_demo.py trains it).
_base_ = [
    '../_base_/datasets/mnist5k.py',
    '../_base_/schedules/mnist5k_iters.py',  # includes the runtime
]
_student = dict(
    type='ImageClassifier',
    backbone=dict(type='ResNet_CIFAR', depth=18, stem_channels=8,
                  base_channels=8, out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=10, in_channels=64,
              loss=dict(type='CrossEntropyLoss'), topk=(1, )),
)
_teacher = dict(
    type='ImageClassifier',
    backbone=dict(type='ResNet_CIFAR', depth=18, stem_channels=16,
                  base_channels=16, out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=10, in_channels=128,
              loss=dict(type='CrossEntropyLoss'), topk=(1, )),
)
model = dict(
    type='SSLD',
    student=_student,
    teacher=_teacher,
    teacher_ckpt='work_dirs/ssld_mnist5k_demo/teacher.pth',
    teacher_bn_mode='train',
    loss=dict(type='JSDivLoss', mode='jsd', loss_weight=1.0),
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
