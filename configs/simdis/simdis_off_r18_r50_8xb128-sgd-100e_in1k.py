# The plain setting of the paper (Sec. 4.3) for
# simdis_off_r18_r50_32xb64-lars-100e_in1k.py: no LARS and no SyncBN, one
# machine with 8 GPUs x 128 images, SGD with base
# lr 0.05 per 256 images (0.2 for 1024), 100 epochs.
_base_ = ['./simdis_off_r18_r50_32xb64-lars-100e_in1k.py']
_bn = dict(backbone=dict(norm_cfg=dict(type='BN')),
           neck=dict(norm_cfg=dict(type='BN1d')),
           head=dict(predictor=dict(norm_cfg=dict(type='BN1d'))))
model = dict(
    student=_bn, teacher=_bn,
    # the teacher of byol_r50_8xb128-sgd-100e_in1k.py (the same setting)
    teacher_ckpt='work_dirs/simdis_in1k/byol_r50_sgd_teacher/epoch_100.pth')
train_dataloader = dict(batch_size=128)  # x 8 GPUs = 1024
optim_wrapper = dict(
    _delete_=True, type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.2, momentum=0.9, weight_decay=1e-4))
auto_scale_lr = dict(base_batch_size=1024)
work_dir = 'work_dirs/simdis_in1k/simdis_off_r18_r50_sgd'
