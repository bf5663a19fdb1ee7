# SimDis teacher on ImageNet-1k, standard setting of the paper (Sec. 4):
# mmpretrain's own BYOL (ResNet-50, projector and predictor
# Linear(., 4096)-BN-ReLU-Linear(4096, 256), SyncBN everywhere), LARS with
# base lr 0.3 per 256 images (2.4 for 32 GPUs x 64), weight decay 1e-4,
# momentum 0.9, 10 warm-up epochs then cosine, 100 epochs; target decay
# 0.99 -> 1 (mmpretrain's CosineEMA `base_momentum` = 1 - decay = 0.01).
# Its checkpoint is the teacher of simdis_off_r18_r50_32xb64-lars-100e_in1k.py.
_base_ = ['mmpretrain::byol/byol_resnet50_16xb256-coslr-200e_in1k.py']
default_scope = 'kd_plugins'
custom_imports = dict(imports=['kd_plugins'], allow_failed_imports=False)

train_dataloader = dict(
    batch_size=64,  # x 32 GPUs = 2048
    # replaces the inherited dict, which carries mmpretrain's `_scope_` key
    # that the collate function would receive as an argument
    collate_fn=dict(_delete_=True, type='default_collate'))
model = dict(base_momentum=0.01)
optim_wrapper = dict(
    optimizer=dict(type='LARS', lr=2.4, momentum=0.9, weight_decay=1e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=10,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=90, by_epoch=True, begin=10,
         end=100, convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=100)
auto_scale_lr = dict(base_batch_size=2048)
work_dir = 'work_dirs/simdis_in1k/byol_r50_lars_teacher'
# kd_plugins' safety hooks, as in ../_base_/default_runtime.py
# (docs/reliability.md): saving that never loses the last good checkpoint,
# a stop at the first non-finite loss, the data checked before step 1.
default_hooks = dict(
    checkpoint=dict(type='SafeCheckpointHook'),
    finite_loss=dict(type='FiniteLossHook'),
    data_check=dict(type='DataCheckHook'))
