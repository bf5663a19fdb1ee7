_base_ = ['../default_runtime.py']

# Runtime plus an iteration-based schedule, so that runs on different data
# sizes get the same budget (the SSLD student and its label-only baseline see
# equally many steps).
max_iters = 1000
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=5e-4,
                   nesterov=True))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0,
         end=100),
    dict(type='CosineAnnealingLR', T_max=max_iters - 100, by_epoch=False,
         begin=100, end=max_iters),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters,
                 val_interval=max_iters)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    # five saves per run, so that a killed run resumes (the newest is kept)
    checkpoint=dict(type='SafeCheckpointHook', by_epoch=False,
                    interval=max_iters // 5, max_keep_ckpts=1),
)
log_processor = dict(by_epoch=False)
