# SEED on ImageNet-1k: MobileNetV3-large student from the MoCo-v2 ResNet-50
# teacher. As seed_r18_mocov2r50_imagenet.py, with the changes for the mobile
# networks (paper, Appendix A; official code): the official code's head
# Linear(960, 1280) - Hardswish - Dropout(0.2) - Linear(1280, 1280) - ReLU -
# Linear(1280, 128) (SEEDHead's docstring gives the source), and weight
# decay 1e-5.
#   bash tools/dist_train.sh configs/seed/seed_mbv3l_mocov2r50_imagenet.py 8
_base_ = ['./seed_r18_mocov2r50_imagenet.py']
model = dict(
    student=dict(
        backbone=dict(_delete_=True, type='MobileNetV3', arch='large'),
        head=dict(in_channels=960, expand_channels=1280, dropout=0.2)))
optim_wrapper = dict(optimizer=dict(weight_decay=1e-5))
work_dir = 'work_dirs/seed/seed_mbv3l_mocov2r50_imagenet'
