# SSKD on the embedded digits with the paper's kind of pair: CIFAR ResNet-20
# mimics ResNet-56 over their 3 stages (28, 14, 7 pixels). Same widths
# (16/32/64), so no connector: the loss sees the student's own map. Then the
# head trains on the 1,000 labeled digits.
#   python tools/train.py configs/sskd/supervised_r56_mnist5k.py  # teacher
#   python tools/train.py configs/sskd/sskd_r20_r56_mnist5k.py \
#       --cfg-options model.teacher_ckpt=work_dirs/supervised_r56_mnist5k/iter_1000.pth
# The schedule is the thinner pair's (sskd_r18w8_r18w16_mnist5k.py): 10
# epochs per stage from lr 1.0, the head 5 epochs from lr 0.1.
_base_ = ['./sskd_r18w8_r18w16_mnist5k.py']
_head = dict(type='LinearClsHead', num_classes=10, in_channels=64,
             loss=dict(type='CrossEntropyLoss'), topk=(1, ))
model = dict(
    student=dict(_delete_=True, type='ImageClassifier',
                 backbone=dict(type='CIFARResNet', depth=20),
                 neck=dict(type='GlobalAveragePooling'), head=_head),
    teacher=dict(_delete_=True, type='ImageClassifier',
                 backbone=dict(type='CIFARResNet', depth=56),
                 neck=dict(type='GlobalAveragePooling'), head=_head),
    teacher_ckpt='work_dirs/supervised_r56_mnist5k/iter_1000.pth',
)
train_cfg = dict(max_epochs=35, val_begin=31)
work_dir = 'work_dirs/sskd_r20_r56_mnist5k'
