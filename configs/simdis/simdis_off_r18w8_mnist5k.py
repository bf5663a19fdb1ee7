# SimDis-Off on the embedded MNIST-5k digits (minutes on a CPU): a 1/8-width
# CIFAR-style ResNet-18 student BYOL pair learns BYOL (S^-v') plus the frozen
# teacher's EMA projection of the other view (T^-v'), the official 2-view
# setting. The teacher pair (online + EMA target) is loaded strictly from the
# mmpretrain BYOL checkpoint of configs/simdis/byol_r18w16_mnist5k.py:
#   python tools/train.py configs/simdis/byol_r18w16_mnist5k.py
#   python tools/train.py configs/simdis/simdis_off_r18w8_mnist5k.py
# then evaluate with configs/simdis/linear_probe_simdis_r18w8_mnist5k.py.
_base_ = [
    '../_base_/datasets/mnist5k_two_view.py',
    '../_base_/default_runtime.py',
]


def _byol(width, dim=64, hid=256):
    return dict(
        type='BYOL',
        backbone=dict(type='ResNet_CIFAR', depth=18, stem_channels=width,
                      base_channels=width, out_indices=(3, )),
        neck=dict(type='NonLinearNeck', in_channels=width * 8,
                  hid_channels=hid, out_channels=dim, num_layers=2,
                  with_bias=True, with_last_bn=False, with_avg_pool=True,
                  norm_cfg=dict(type='BN1d')),
        head=dict(type='LatentPredictHead',
                  loss=dict(type='CosineSimilarityLoss'),
                  predictor=dict(type='NonLinearNeck', in_channels=dim,
                                 hid_channels=hid, out_channels=dim,
                                 num_layers=2, with_bias=True,
                                 with_last_bn=False, with_avg_pool=False,
                                 norm_cfg=dict(type='BN1d'))))


model = dict(
    type='SimDis',
    student=_byol(8),
    teacher=_byol(16),
    teacher_ckpt='work_dirs/simdis_mnist5k/teacher/iter_300.pth',
    targets='SimDis-Off',  # = ['student_ema_other', 'teacher_ema_other']
    teacher_bn_mode='train',
)
custom_hooks = [
    # tau: 0.99 -> 1 (cosine) over all iterations; target BN buffers: own
    dict(type='EMATargetHook', base_decay=0.99, final_decay=1.0,
         buffer_policy='skip'),
]
max_iters = 300
train_dataloader = dict(batch_size=32)
# The paper's plain setting (Sec. 4.3): SGD, no LARS, no SyncBN.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0,
         end=30),
    dict(type='CosineAnnealingLR', T_max=max_iters - 30, by_epoch=False,
         begin=30, end=max_iters),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', by_epoch=False,
                    interval=max_iters, max_keep_ckpts=1),
)
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)
work_dir = 'work_dirs/simdis_mnist5k/simdis_off'
