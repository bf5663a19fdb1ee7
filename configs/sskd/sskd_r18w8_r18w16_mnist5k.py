# SSKD on the embedded MNIST-5k digits, minutes on a CPU: a 1/8-width
# ResNet-18 mimics the 1/4-width teacher of the SSLD demo over 4 stages
# (28, 14, 7, 4 pixels), then trains its head on the 1,000 labeled digits.
#   python tools/train.py configs/sskd/sskd_r18w8_r18w16_mnist5k.py \
#       --cfg-options model.teacher_ckpt=work_dirs/ssld_mnist5k_demo/teacher.pth
# (bash tools/demo.sh trains that teacher.)
_base_ = [
    '../_base_/datasets/mnist5k.py',
    '../_base_/default_runtime.py',
]


def _classifier(width):
    return dict(
        type='ImageClassifier',
        backbone=dict(type='ResNet_CIFAR', depth=18, stem_channels=width,
                      base_channels=width, out_indices=(3, )),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=10,
                  in_channels=8 * width,
                  loss=dict(type='CrossEntropyLoss'), topk=(1, )))


model = dict(
    type='SSKD',
    student=_classifier(8),
    teacher=_classifier(16),
    teacher_ckpt='work_dirs/ssld_mnist5k_demo/teacher.pth',
    input_size=(3, 28, 28),
    mode='stagewise',
)
# The paper's lr 0.01 and a few epochs per stage left stages 3-4 untrained
# here (their distance stayed at the teacher's feature variance): 25.3% val
# top-1 after the head phase. This budget, about 2 minutes on 2 cores,
# measured (seed 0, teacher of the SSLD demo at 97.4%): SSKD 78.0%, the
# multi-loss baseline (model.mode=multi_loss) 96.5%. The paper's ordering
# (SSKD above multi-loss) is not reproduced at this scale: the stages are
# trained for 10 epochs each and errors of frozen early stages carry on.
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=5e-4))
param_scheduler = []
# one stage trains at a time: under DDP most parameters get no gradient
find_unused_parameters = True
custom_hooks = [
    dict(type='SSKDStageHook', schedule='fixed', epochs_per_stage=10,
         milestones=[6, 8], head_epochs=5, head_milestones=[3], head_lr=0.1),
]
train_cfg = dict(by_epoch=True, max_epochs=45, val_begin=41, val_interval=1)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(logger=dict(interval=10),
                     checkpoint=dict(interval=1, max_keep_ckpts=2))
randomness = dict(seed=0)
# the same file name exists under another method's folder
work_dir = 'work_dirs/sskd_r18w8_r18w16_mnist5k'
