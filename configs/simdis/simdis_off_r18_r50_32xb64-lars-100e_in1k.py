# SimDis-Off on ImageNet-1k, ResNet-18 student from a BYOL ResNet-50 teacher,
# standard setting of the paper (Sec. 4): LARS, base lr 0.3 per 256 images
# (2.4 for 32 GPUs x 64), weight decay 1e-4, 10 warm-up epochs then cosine,
# SyncBN, 100 epochs; EMA decay 0.99 -> 1 for the student's target.
#   1. teacher: configs/simdis/byol_r50_32xb64-lars-100e_in1k.py
#   2. bash tools/dist_train.sh configs/simdis/simdis_off_r18_r50_32xb64-lars-100e_in1k.py 8
#   3. tools/export_backbone.py, then simdis_linear_r18_8xb512-coslr-90e_in1k.py
_base_ = [
    'mmpretrain::_base_/datasets/imagenet_bs32_byol.py',
    '../_base_/default_runtime.py',
]


def _byol(depth, feat, norm='SyncBN', norm1d='SyncBN'):
    mlp = dict(type='NonLinearNeck', hid_channels=4096, out_channels=256,
               num_layers=2, with_bias=True, with_last_bn=False,
               norm_cfg=dict(type=norm1d))
    return dict(
        type='BYOL',
        backbone=dict(type='ResNet', depth=depth, norm_cfg=dict(type=norm),
                      zero_init_residual=False),
        neck=dict(mlp, in_channels=feat, with_avg_pool=True),
        head=dict(type='LatentPredictHead',
                  loss=dict(type='CosineSimilarityLoss'),
                  predictor=dict(mlp, in_channels=256, with_avg_pool=False)))


model = dict(
    type='SimDis',
    student=_byol(18, 512),
    teacher=_byol(50, 2048),
    teacher_ckpt='work_dirs/simdis_in1k/byol_r50_lars_teacher/epoch_100.pth',
    targets='SimDis-Off',  # BYOL (S^-v') + teacher EMA, other view (T^-v')
    teacher_bn_mode='train',
)
custom_hooks = [
    dict(type='EMATargetHook', base_decay=0.99, final_decay=1.0,
         buffer_policy='skip'),
]
train_dataloader = dict(
    batch_size=64, drop_last=True,  # x 32 GPUs = 2048
    # replaces the inherited dict, which carries mmpretrain's `_scope_` key
    # that the collate function would receive as an argument
    collate_fn=dict(_delete_=True, type='default_collate'))
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='LARS', lr=2.4, momentum=0.9, weight_decay=1e-4),
    paramwise_cfg=dict(custom_keys={  # mmpretrain's BYOL exclusions
        'bn': dict(decay_mult=0, lars_exclude=True),
        'bias': dict(decay_mult=0, lars_exclude=True),
        'downsample.1': dict(decay_mult=0, lars_exclude=True),
    }))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=10,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=90, by_epoch=True, begin=10,
         end=100, convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=100)
default_hooks = dict(checkpoint=dict(type='SafeCheckpointHook', interval=10,
                                     max_keep_ckpts=3))
auto_scale_lr = dict(base_batch_size=2048)
work_dir = 'work_dirs/simdis_in1k/simdis_off_r18_r50_lars'
